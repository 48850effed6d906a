"""A Transformer language model trained as a native Flax program: the
``TransformerLM`` of Trax's models (``models/transformer.py``) on a local
text file tokenized with a subword vocabulary, with optax, CLU and Orbax.
Run it with ``python -m train.transformer_lm_flax --workdir DIR``."""
