"""Benchmarks for trax_compat (run as ``python -m benchmarks.<name>``)."""
