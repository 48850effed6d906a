"""Trax's sentiment tutorial as a native Flax program (Flax examples' layout:
``configs/default.py``, ``input_pipeline.py``, ``models.py``, ``train.py``).
Run it with ``python -m train.sentiment_flax --workdir DIR``."""
