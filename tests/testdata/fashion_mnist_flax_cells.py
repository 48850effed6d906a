"""The code cells of Trax's ``Fashion_MNIST_with_Trax.ipynb`` (cells 2-8: the
backend, TFDS ``fashion_mnist``, ``Shuffle`` + ``Batch(8)``, the CNN,
``Adam(0.01)``, ``TrainTask`` / ``EvalTask`` / ``Loop``) as one function of
a ``trax`` module. Run on real Trax by ``generate_fashion_mnist_flax.py``
and on trax_compat by ``tests/test_fashion_mnist_flax.py``, both over the
``fashion_mnist`` stand-in of ``tiny_tfds.py`` (``$TFDS_DATA_DIR`` points
at it). Only NumPy is imported here.

Departures from the notebook, each needed to make a run reproducible:

* ``np.random.seed(data_seed)`` before the streams are built and
  ``Loop(random_seed=loop_seed)`` (the notebook seeds neither);
* ``TFDS(..., shuffle_train=False)`` (the default shuffles the training
  files with TensorFlow's own unseeded randomness);
* ``backend`` is the case's: real Trax's reference runs use ``'jax'``
  (under the notebook's ``'tensorflow-numpy'`` real Trax draws its initial
  weights with TensorFlow's stateless ops, numbers no JAX program
  reproduces; trax_compat computes with JAX under either name);
* a few steps, with ``n_steps_per_checkpoint`` and ``n_eval_batches`` from
  the case instead of 100 and 20.
"""

import hashlib
import importlib

import numpy as np

# (data_seed, loop_seed, n_steps, n_steps_per_checkpoint, n_eval_batches)
CASES = {
    "a": dict(data_seed=0, loop_seed=0, n_steps=4, n_steps_per_checkpoint=2,
              n_eval_batches=2),
    "b": dict(data_seed=5, loop_seed=2, n_steps=3, n_steps_per_checkpoint=3,
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
    for batch in stream:
        log.append([tag, batch_digest(batch)])
        yield batch


def run(trax, output_dir, *, data_seed, loop_seed, n_steps,
        n_steps_per_checkpoint, n_eval_batches, backend="tensorflow-numpy"):
    """Runs the cells; returns what the Loop did."""
    reads = []
    np.random.seed(data_seed)

    # Cell 2.
    trax.fastmath.set_backend(backend)
    backend_name = trax.fastmath.backend_name()

    # Cell 3.
    train_stream = trax.data.TFDS("fashion_mnist", keys=("image", "label"),
                                  train=True, shuffle_train=False)()
    eval_stream = trax.data.TFDS("fashion_mnist", keys=("image", "label"),
                                 train=False)()

    # Cell 4.
    train_data_pipeline = trax.data.Serial(
        trax.data.Shuffle(),
        trax.data.Batch(8),
    )
    train_batches_stream = _tapped(train_data_pipeline(train_stream),
                                   "train", reads)
    eval_data_pipeline = trax.data.Batch(8)
    eval_batches_stream = _tapped(eval_data_pipeline(eval_stream), "eval",
                                  reads)

    # Cell 5.
    example_batch = next(train_batches_stream)

    # Cell 6.
    tl = trax.layers

    def get_model(n_output_classes=10):
        model = tl.Serial(
            tl.ToFloat(),

            tl.Conv(32, (3, 3), (1, 1), 'SAME'),
            tl.LayerNorm(),
            tl.Relu(),
            tl.MaxPool(),

            tl.Conv(64, (3, 3), (1, 1), 'SAME'),
            tl.LayerNorm(),
            tl.Relu(),
            tl.MaxPool(),

            tl.Flatten(),
            tl.Dense(n_output_classes),
        )
        return model

    # Cell 7.
    training = importlib.import_module(trax.__name__ + ".supervised.training")
    train_task = training.TrainTask(
        labeled_data=train_batches_stream,
        loss_layer=tl.CategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(0.01),
        n_steps_per_checkpoint=n_steps_per_checkpoint,
    )
    eval_task = training.EvalTask(
        labeled_data=eval_batches_stream,
        metrics=[tl.CategoryCrossEntropy(), tl.CategoryAccuracy()],
        n_eval_batches=n_eval_batches,
    )

    # Cell 8.
    model = get_model()
    training_loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                                  output_dir=str(output_dir),
                                  random_seed=loop_seed)
    initial = _weights(model)
    reads.append(["loop_built", None])
    if n_steps:  # 0: the Loop only built (the model initialized)
        training_loop.run(n_steps)

    history = {}
    for mode in training_loop.history.modes:
        for metric in training_loop.history.metrics_for_mode(mode):
            if "steps per second" in metric:
                continue  # a timing
            history[f"{mode}/{metric}"] = [
                [int(s), float(v)]
                for s, v in training_loop.history.get(mode, metric)]
    # The model on the next eval batch (the notebook stops at the Loop).
    images, _ = next(eval_batches_stream)
    outputs = model(images)
    return {
        "backend": backend_name,
        "model_repr": str(model),
        "example_batch_shapes": [list(x.shape) for x in example_batch],
        "reads": reads,
        "initial_weights": initial,
        "history": history,
        "final_weights": _weights(model),
        "outputs": np.asarray(outputs).tolist(),
        "step": int(training_loop.step),
    }


def _weights(model):
    """Each weight of the CNN in the Serial's order: the small ones in
    full, the two big kernels as a SHA-256, their first 64 values and their
    sums."""
    flat = []

    def walk(w):
        if isinstance(w, (tuple, list)):
            for x in w:
                walk(x)
        elif w is not None:
            flat.append(np.asarray(w))
    walk(model.weights)
    out = []
    for w in flat:
        if w.size > 1000:
            w64 = w.astype(np.float64)
            out.append({**digest(w), "corner": w.reshape(-1)[:64].tolist(),
                        "sum": float(w64.sum()),
                        "abs_sum": float(np.abs(w64).sum())})
        else:
            out.append({"shape": list(w.shape), "data": w.tolist()})
    return out
