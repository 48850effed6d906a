"""A Transformer language model trained the Trax way, as one function of a
``trax`` module: text files -> ``Tokenize -> AppendValue -> FilterByLength
-> PadToLength -> Batch -> AddLossWeights``, ``trax.models.TransformerLM``,
``TrainTask`` with ``WeightedCategoryCrossEntropy``, ``Adam`` under a
``multifactor`` schedule, an ``EvalTask``, ``Loop``, then a greedy
``autoregressive_sample`` from a predict-mode model read from the Loop's
checkpoint. ``tests/test_transformer_lm_flax.py`` runs it on trax_compat as
the twin of ``train/transformer_lm_flax``. Only NumPy is imported here.

The files are read in order, over and over (no ``Shuffle``: the corpus is
already in random order, and the native program then needs no copy of
Trax's shuffle); dropout is a parameter (0 for runs compared number for
number: the two draw their dropout masks from different generators).
"""

import hashlib
import importlib
import os

import numpy as np

VOCAB_FILE = "en_8k.subword"


def digest(x):
    """A compact, exact record of one array: shape, dtype and a SHA-256."""
    x = np.ascontiguousarray(x)
    return {"shape": list(x.shape), "dtype": x.dtype.name,
            "sha256": hashlib.sha256(x.tobytes()).hexdigest()}


def text_lines(path):
    """``(text, text)`` pairs of the file's lines, over and over: the
    language model's inputs and targets."""
    while True:
        with open(path, encoding="utf-8") as f:
            for line in f:
                text = line.rstrip("\n")
                yield (text, text)


def pipeline(trax, *, max_length, batch_size, vocab_dir=None):
    vocab = {} if vocab_dir is None else {"vocab_dir": str(vocab_dir)}
    return trax.data.Serial(
        trax.data.Tokenize(vocab_file=VOCAB_FILE, keys=[0, 1], **vocab),
        trax.data.AppendValue(val={0: [1], 1: [1]}),  # EOS
        trax.data.FilterByLength(max_length=max_length, length_keys=[0]),
        trax.data.PadToLength(len_map={0: max_length, 1: max_length},
                              pad_value={0: 0, 1: 0}),
        trax.data.Batch(batch_size),
        trax.data.AddLossWeights(id_to_mask=0))


def _tapped(stream, tag, log):
    # Records each batch as it is read, in the order of all reads.
    for batch in stream:
        log.append([tag, [digest(a) for a in batch]])
        yield batch


def model_kwargs(hp):
    return dict(vocab_size=hp["vocab_size"], d_model=hp["d_model"],
                d_ff=hp["d_ff"], n_layers=hp["n_layers"],
                n_heads=hp["n_heads"], max_len=hp["max_len"],
                dropout=hp["dropout"])


def run(trax, output_dir, *, train_file, eval_file, hp, vocab_dir=None):
    """Trains for ``hp['n_steps']`` steps; returns what the Loop did."""
    tl = trax.layers
    training = importlib.import_module(trax.__name__ + ".supervised.training")
    decoding = importlib.import_module(trax.__name__ + ".supervised.decoding")
    reads = []

    # Data.
    data_pipeline = pipeline(trax, max_length=hp["max_length"],
                             batch_size=hp["batch_size"], vocab_dir=vocab_dir)
    train_stream = _tapped(data_pipeline(text_lines(train_file)), "train",
                           reads)
    eval_stream = _tapped(data_pipeline(text_lines(eval_file)), "eval", reads)

    # Model.
    model = trax.models.TransformerLM(mode="train", **model_kwargs(hp))

    # Loss, optimizer and schedule; metrics.
    train_task = training.TrainTask(
        labeled_data=train_stream,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(),
        lr_schedule=trax.lr.multifactor(constant=hp["learning_rate"],
                                        warmup_steps=hp["warmup_steps"]),
        n_steps_per_checkpoint=hp["eval_every_steps"],
    )
    eval_task = training.EvalTask(
        labeled_data=eval_stream,
        metrics=[tl.WeightedCategoryCrossEntropy(),
                 tl.WeightedCategoryAccuracy()],
        n_eval_batches=hp["num_eval_batches"],
    )

    # Loop.
    training_loop = training.Loop(model, train_task, eval_tasks=[eval_task],
                                  output_dir=str(output_dir),
                                  random_seed=hp["seed"])
    initial_weights = model.weights
    reads.append(["loop_built", None])
    training_loop.run(hp["n_steps"])

    # Prediction: a predict-mode model from the checkpoint, greedy.
    predict_model = trax.models.TransformerLM(mode="predict",
                                              **model_kwargs(hp))
    checkpoint = os.path.join(str(output_dir), "model.pkl.gz")
    if not os.path.exists(checkpoint):  # trax_compat: the output_dir itself
        checkpoint = str(output_dir)
    predict_model.init_from_file(
        checkpoint, weights_only=True,
        input_signature=trax.shapes.ShapeDtype((1, 1), np.int32))
    sample = decoding.autoregressive_sample(
        predict_model, batch_size=1, temperature=0.0,
        max_length=hp["sample_length"])

    history = {}
    for mode in training_loop.history.modes:
        for metric in training_loop.history.metrics_for_mode(mode):
            if "steps per second" in metric:
                continue  # a timing
            history[f"{mode}/{metric}"] = [
                [int(s), float(v)]
                for s, v in training_loop.history.get(mode, metric)]
    return {"reads": reads, "initial_weights": initial_weights,
            "final_weights": model.weights, "history": history,
            "sample": np.asarray(sample), "step": int(training_loop.step)}
