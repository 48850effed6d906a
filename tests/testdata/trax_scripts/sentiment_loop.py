"""The model and training-loop part of Trax's sentiment tutorial, on a tiny
synthetic stream, written for Trax (not one line changed for trax_compat).

Usage: sentiment_loop.py OUTPUT_DIR [N_STEPS]
"""

import random as rnd
import sys

import numpy as np
import trax
from trax import layers as tl
from trax.supervised import training

VOCAB_SIZE = 20


def classifier(vocab_size=VOCAB_SIZE, embedding_dim=8, output_dim=2,
               mode='train'):
  embed_layer = tl.Embedding(vocab_size=vocab_size, d_feature=embedding_dim)
  mean_layer = tl.Mean(axis=1)
  dense_output_layer = tl.Dense(n_units=output_dim)
  log_softmax_layer = tl.LogSoftmax()
  model = tl.Serial(
      embed_layer,
      mean_layer,
      dense_output_layer,
      log_softmax_layer,
  )
  return model


def data_generator(batch_size, seed):
  """Positive tweets use tokens 1-9, negative ones 10-19 (0 pads)."""
  rng = rnd.Random(seed)
  while True:
    inputs = np.zeros((batch_size, 6), np.int32)
    targets = np.zeros((batch_size,), np.int32)
    for i in range(batch_size):
      label = rng.randint(0, 1)
      length = rng.randint(2, 6)
      low = 10 if label == 0 else 1
      inputs[i, :length] = [rng.randint(low, low + 8) for _ in range(length)]
      targets[i] = label
    yield inputs, targets, np.ones((batch_size,), np.float32)


def main(argv):
  output_dir = argv[1]
  n_steps = int(argv[2]) if len(argv) > 2 else 20
  train_task = training.TrainTask(
      labeled_data=data_generator(batch_size=8, seed=0),
      loss_layer=tl.WeightedCategoryCrossEntropy(),
      optimizer=trax.optimizers.Adam(0.01),
      n_steps_per_checkpoint=10,
  )
  eval_task = training.EvalTask(
      labeled_data=data_generator(batch_size=8, seed=1),
      metrics=[tl.WeightedCategoryCrossEntropy(), tl.WeightedCategoryAccuracy()],
  )
  model = classifier()
  training_loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                                output_dir=output_dir)
  training_loop.run(n_steps=n_steps)
  print('trained steps:', training_loop.step)
  print('loop module:', type(training_loop).__module__)


if __name__ == '__main__':
  main(sys.argv)
