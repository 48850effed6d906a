"""Trax's Fashion-MNIST tutorial (TFDS ``fashion_mnist``, shuffled batches
of 8, a two-block CNN, Adam, ``TrainTask`` / ``EvalTask`` / ``Loop``) as a
native Flax program in the Flax examples' layout. Run it with
``python -m train.fashion_mnist_flax --workdir DIR``."""
