"""The parts of Trax's research layers (``trax.layers.research``) that
trax_compat's models need: positional encodings and the pure-LSH attention
of the Terraformer. Their public names are exported by ``trax_compat.layers``
as Trax's ``trax.layers`` does."""
