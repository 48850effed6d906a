"""Trax's Deep N-Gram tutorial (``trax/examples/Deep_N_Gram_Models.ipynb``:
character-level GRU and LSTM language models, ``ShiftRight -> Embedding ->
recurrent layers -> Dense -> LogSoftmax``, trained with Adam on lines of
text) as a native Flax program in the Flax examples' layout. Run it with
``python -m train.deep_ngram_flax --workdir DIR --config.data_dir TEXTS``."""
