"""Training entry points and data helpers for the Trax tutorial runs."""
