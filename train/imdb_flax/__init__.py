"""The IMDB classifier of Trax's ``intro.ipynb`` ("Supervised training":
TFDS ``imdb_reviews``, tokenize, shuffle, filter, bucket, an ``Embedding ->
Mean -> Dense`` model, Adam, ``TrainTask`` / ``EvalTask`` / ``Loop``) as a
native Flax program in the Flax examples' layout. Run it with
``python -m train.imdb_flax --workdir DIR``."""
