"""The "Supervised training" cells of Trax's ``intro.ipynb`` (the IMDB
classifier: cells 15, 17, 19, 21 and 23) as one function of a ``trax``
module. Run on real Trax by ``generate_imdb_flax.py`` and on trax_compat by
``tests/test_imdb_flax.py``, both over the ``imdb_reviews`` stand-in of
``tiny_tfds.py`` (``$TFDS_DATA_DIR`` points at it). Only NumPy is imported
here.

Departures from the notebook, each needed to make a run reproducible:

* ``np.random.seed(data_seed)`` before the streams are built (``Shuffle``
  draws from NumPy's global generator; the notebook leaves it unseeded) and
  ``Loop(random_seed=loop_seed)`` (the notebook's Loop picks a random seed);
* ``TFDS(..., shuffle_train=False)``: with the default, TFDS shuffles the
  training files with TensorFlow's own unseeded randomness;
* ``vocab_dir`` given where the runner has no network (real Trax reads
  ``en_8k.subword`` from ``gs://trax-ml/vocabs/`` by default);
* a few steps, with ``n_steps_per_checkpoint`` and ``n_eval_batches`` from
  the case instead of 500 and 20.
"""

import hashlib
import importlib

import numpy as np

VOCAB_FILE = "en_8k.subword"
BOUNDARIES = [32, 128, 512, 2048]
BATCH_SIZES = [512, 128, 32, 8, 1]

# (data_seed, loop_seed, n_steps, n_steps_per_checkpoint, n_eval_batches)
CASES = {
    "a": dict(data_seed=0, loop_seed=0, n_steps=4, n_steps_per_checkpoint=2,
              n_eval_batches=2),
    "b": dict(data_seed=3, loop_seed=1, n_steps=3, n_steps_per_checkpoint=3,
              n_eval_batches=1),
}


def digest(x):
    """A compact, exact record of one array: shape, dtype and a SHA-256."""
    x = np.ascontiguousarray(x)
    return {"shape": list(x.shape), "dtype": x.dtype.name,
            "sha256": hashlib.sha256(x.tobytes()).hexdigest()}


def batch_digest(batch):
    return [digest(a) for a in batch]


def _tapped(stream, tag, log):
    # Records each batch as it is read, in the order of all reads.
    for batch in stream:
        log.append([tag, batch_digest(batch)])
        yield batch


def run(trax, output_dir, *, data_seed, loop_seed, n_steps,
        n_steps_per_checkpoint, n_eval_batches, vocab_dir=None):
    """Runs the cells; returns what they printed and what the Loop did."""
    tl = trax.layers
    # `trax.supervised.training` whichever package `trax` is.
    training = importlib.import_module(trax.__name__ + ".supervised.training")
    vocab = {} if vocab_dir is None else {"vocab_dir": str(vocab_dir)}
    reads = []
    np.random.seed(data_seed)

    # Cell 15.
    model = tl.Serial(
        tl.Embedding(vocab_size=8192, d_feature=256),
        tl.Mean(axis=1),
        tl.Dense(2),
    )
    model_repr = str(model)

    # Cell 17.
    train_stream = trax.data.TFDS("imdb_reviews", keys=("text", "label"),
                                  train=True, shuffle_train=False)()
    eval_stream = trax.data.TFDS("imdb_reviews", keys=("text", "label"),
                                 train=False)()
    first_text, first_label = next(train_stream)

    # Cell 19.
    data_pipeline = trax.data.Serial(
        trax.data.Tokenize(vocab_file=VOCAB_FILE, keys=[0], **vocab),
        trax.data.Shuffle(),
        trax.data.FilterByLength(max_length=2048, length_keys=[0]),
        trax.data.BucketByLength(boundaries=BOUNDARIES,
                                 batch_sizes=BATCH_SIZES, length_keys=[0]),
        trax.data.AddLossWeights()
    )
    train_batches_stream = _tapped(data_pipeline(train_stream), "train", reads)
    eval_batches_stream = _tapped(data_pipeline(eval_stream), "eval", reads)
    example_batch = next(train_batches_stream)

    # Cell 21.
    train_task = training.TrainTask(
        labeled_data=train_batches_stream,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(0.01),
        n_steps_per_checkpoint=n_steps_per_checkpoint,
    )
    eval_task = training.EvalTask(
        labeled_data=eval_batches_stream,
        metrics=[tl.WeightedCategoryCrossEntropy(),
                 tl.WeightedCategoryAccuracy()],
        n_eval_batches=n_eval_batches,
    )
    training_loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                                  output_dir=str(output_dir),
                                  random_seed=loop_seed)
    embedding, _, (w, b) = model.weights
    initial = {"embedding": digest(np.asarray(embedding)),
               "embedding_head": np.asarray(embedding)[:3, :4].tolist(),
               "kernel": np.asarray(w).tolist(),
               "bias": np.asarray(b).tolist()}
    reads.append(["loop_built", None])
    training_loop.run(n_steps)

    # Cell 23.
    example_input = next(eval_batches_stream)[0][0]
    example_input_str = trax.data.detokenize(example_input,
                                             vocab_file=VOCAB_FILE, **vocab)
    sentiment_log_probs = model(example_input[None, :])
    history = {}
    for mode in training_loop.history.modes:
        for metric in training_loop.history.metrics_for_mode(mode):
            if "steps per second" in metric:
                continue  # a timing
            history[f"{mode}/{metric}"] = [
                [int(s), float(v)]
                for s, v in training_loop.history.get(mode, metric)]
    embedding, _, (w, b) = model.weights
    return {
        "model_repr": model_repr,
        "first_example": [first_text.decode("utf-8"), int(first_label)],
        "example_batch_shapes": [list(x.shape) for x in example_batch],
        "reads": reads,
        "initial_weights": initial,
        "history": history,
        "final_weights": {"embedding": digest(np.asarray(embedding)),
                          "embedding_sum": float(np.asarray(
                              embedding, np.float64).sum()),
                          "kernel": np.asarray(w).tolist(),
                          "bias": np.asarray(b).tolist()},
        "example_input_str": example_input_str,
        "example_input": digest(example_input),
        "probabilities": np.exp(np.asarray(sentiment_log_probs)).tolist(),
        "step": int(training_loop.step),
    }
