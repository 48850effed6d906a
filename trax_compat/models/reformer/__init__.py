"""Reformer models (``trax.models.reformer``): reversible Transformers with
memory-efficient attention. The models are in the ``reformer`` module, as
in Trax."""
