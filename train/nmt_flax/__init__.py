"""Trax's NMT tutorial as a native Flax program: the encoder-decoder
``Transformer`` of Trax's models (``models/transformer.py``) trained on a
local parallel text (tab-separated source and target lines) with the
tutorial's bucketing pipeline, optax, CLU and Orbax, then a greedy
translation. Run it with ``python -m train.nmt_flax --workdir DIR``."""
