"""Trax's NMT tutorial (English -> German with the encoder-decoder
``Transformer``) as one function of a ``trax`` module, on a local
tab-separated parallel text instead of ``TFDS('wmt14_translate/de-en')``:
``Tokenize -> AppendValue -> Shuffle -> FilterByLength -> BucketByLength ->
AddLossWeights``, ``trax.models.Transformer``, ``TrainTask`` with
``WeightedCategoryCrossEntropy``, ``Adam(0.01)`` under
``warmup_and_rsqrt_decay``, an ``EvalTask`` with the weighted loss and
accuracy, ``Loop``, then a greedy ``autoregressive_sample`` translation
from a predict-mode model read from the Loop's checkpoint.
``tests/test_nmt_flax.py`` runs it on trax_compat as the twin of
``train/nmt_flax``. Only NumPy is imported here.

Two lines the tutorial does not have: ``np.random.seed(seed)`` before the
streams are read (``Shuffle`` draws from NumPy's global generator, which
the tutorial leaves unseeded until its ``Loop`` seeds it), and the end id
appended to both sides (so that a translation ends). Dropout is a
parameter (0 for runs compared number for number: the two programs draw
their dropout masks from different generators).
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


def tsv_pairs(path):
    """``(source, target)`` pairs of the file's lines, over and over: what
    ``TFDS(..., keys=('en', 'de'))`` streams."""
    while True:
        with open(path, encoding="utf-8") as f:
            for line in f:
                source, target = line.rstrip("\n").split("\t")
                yield (source, target)


def pipeline(trax, *, queue_size, max_length, boundaries, batch_sizes,
             vocab_dir=None):
    vocab = {} if vocab_dir is None else {"vocab_dir": str(vocab_dir)}
    return trax.data.Serial(
        trax.data.Tokenize(vocab_file=VOCAB_FILE, keys=[0, 1], **vocab),
        trax.data.AppendValue(val={0: [1], 1: [1]}),  # EOS
        trax.data.Shuffle(queue_size),
        trax.data.FilterByLength(max_length=max_length, length_keys=[0, 1]),
        trax.data.BucketByLength(boundaries=list(boundaries),
                                 batch_sizes=list(batch_sizes),
                                 length_keys=[0, 1]),
        trax.data.AddLossWeights(id_to_mask=0))


def pipeline_hp(hp):
    return dict(queue_size=hp["shuffle_queue_size"],
                max_length=hp["max_length"], boundaries=hp["boundaries"],
                batch_sizes=hp["batch_sizes"])


def _tapped(stream, tag, log):
    # Records each batch as it is read, in the order of all reads.
    for batch in stream:
        log.append([tag, [digest(a) for a in batch]])
        yield batch


def model_kwargs(hp):
    return dict(input_vocab_size=hp["vocab_size"], d_model=hp["d_model"],
                d_ff=hp["d_ff"], n_encoder_layers=hp["n_encoder_layers"],
                n_decoder_layers=hp["n_decoder_layers"],
                n_heads=hp["n_heads"], max_len=hp["max_len"],
                dropout=hp["dropout"])


def run(trax, output_dir, *, train_file, eval_file, hp, sentence_ids,
        vocab_dir=None):
    """Trains for ``hp['n_steps']`` steps, then translates ``sentence_ids``
    (a list of ids); returns what the Loop did."""
    tl = trax.layers
    training = importlib.import_module(trax.__name__ + ".supervised.training")
    decoding = importlib.import_module(trax.__name__ + ".supervised.decoding")
    reads = []

    # Data.
    np.random.seed(hp["seed"])
    data_pipeline = pipeline(trax, vocab_dir=vocab_dir, **pipeline_hp(hp))
    train_stream = _tapped(data_pipeline(tsv_pairs(train_file)), "train",
                           reads)
    eval_stream = _tapped(data_pipeline(tsv_pairs(eval_file)), "eval", reads)

    # Model.
    model = trax.models.Transformer(mode="train", **model_kwargs(hp))

    # Loss, optimizer and schedule; metrics.
    train_task = training.TrainTask(
        labeled_data=train_stream,
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(0.01),
        lr_schedule=trax.lr.warmup_and_rsqrt_decay(
            hp["warmup_steps"], hp["learning_rate"]),
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

    # Translation: a predict-mode model with the trained weights, greedy.
    predict_model = trax.models.Transformer(mode="predict",
                                            **model_kwargs(hp))
    # The trained model through Layer.save_to_file, a file both Trax and
    # trax_compat write and read alike (trax_compat's Loop writes a
    # checkpoint folder, from which it reads a Transformer's shared
    # embedding wrongly into the predict-mode model).
    checkpoint = os.path.join(str(output_dir), "trained.pkl.gz")
    model.save_to_file(checkpoint)
    signature = trax.shapes.ShapeDtype((1, 1), np.int32)
    predict_model.init_from_file(checkpoint, weights_only=True,
                                 input_signature=(signature, signature))
    translation = decoding.autoregressive_sample(
        predict_model, np.array([sentence_ids], np.int32), temperature=0.0,
        max_length=hp["decode_length"])
    # And a sample at temperature 1 of all decode_length tokens (no end id
    # stops it): tokens that vary even where a barely trained model's
    # greedy choice is the end id. The Gumbel noise comes from NumPy's
    # global generator.
    np.random.seed(hp["seed"])
    sampled = decoding.autoregressive_sample(
        predict_model, np.array([sentence_ids], np.int32), temperature=1.0,
        max_length=hp["decode_length"], eos_id=-1)

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
            "translation": np.asarray(translation),
            "sampled_translation": np.asarray(sampled),
            "step": int(training_loop.step)}
