"""The data: tab-separated parallel text as translation batches
``{'inputs', 'targets', 'weights'}``, bucketed by length as Trax's NMT
tutorial batches them.

Per line ``source<TAB>target``: both sides tokenized with the subword
vocabulary and given the end id (1); the pairs go through a shuffle queue;
pairs whose longer side exceeds ``max_length`` are dropped; each pair joins
the bucket of the first boundary its longer side fits, and a full bucket
(``batch_sizes[i]`` pairs) becomes a batch, sources and targets each padded
with 0 to a common length (below); the weights are 0 on target padding.
These are the batches of Trax's ``Tokenize -> AppendValue -> Shuffle ->
FilterByLength -> BucketByLength -> AddLossWeights(id_to_mask=0)`` on the
same lines, read in the same order with NumPy's generator in the same
state. Plain Python and NumPy: the files are small, and a ``tf.data``
pipeline could not repeat Trax's shuffle draw for draw.
"""

import bisect
import math
import os

import numpy as np

from train import corpus
from train.transformer_lm_flax import vocab as vocab_lib
from train.transformer_lm_flax.input_pipeline import load_vocab  # noqa: F401  pylint: disable=unused-import

# A word-by-word dictionary for the synthetic target side: a toy
# "German", enough for a translation to be learnable and visible.
GERMAN_LIKE = {
    "the": "die", "my": "mein", "this": "dies", "our": "unser",
    "that": "das", "their": "ihr", "was": "war", "is": "ist",
    "felt": "fühlte", "looked": "sah", "seemed": "schien",
    "sounded": "klang", "tasted": "schmeckte", "got": "wurde",
    "just": "nur", "honestly": "ehrlich", "really": "wirklich",
    "so": "so", "very": "sehr", "pretty": "ziemlich", "totally": "total",
    "quite": "recht", "truly": "wahrhaft", "not": "nicht",
    "never": "nie", "hardly": "kaum", "even": "sogar", "but": "aber",
    "and": "und", "yet": "doch", "though": "obwohl", "also": "auch",
    "while": "während", "then": "dann", "great": "toll",
    "amazing": "erstaunlich", "awesome": "super", "lovely": "schön",
    "wonderful": "wunderbar", "perfect": "perfekt", "awful": "furchtbar",
    "terrible": "schrecklich", "boring": "langweilig", "slow": "langsam",
    "rude": "unhöflich", "broken": "kaputt", "noisy": "laut",
    "dirty": "schmutzig", "movie": "Film", "film": "Film",
    "flight": "Flug", "coffee": "Kaffee", "book": "Buch", "game": "Spiel",
    "phone": "Telefon", "room": "Zimmer", "trip": "Reise", "seat": "Sitz",
    "menu": "Speisekarte", "today": "heute", "tonight": "heute",
    "again": "wieder", "yesterday": "gestern", "finally": "endlich",
    "i": "ich", "loved": "liebte", "hated": "hasste", "with": "mit",
    "friends": "Freunden", "after": "nach", "work": "Arbeit",
}


def german_like(text):
    """The toy target of ``text``: each word through ``GERMAN_LIKE`` (an
    all-capitals word stays in capitals, a capitalized one capitalized);
    other words unchanged."""
    words = []
    for word in text.split(" "):
        target = GERMAN_LIKE.get(word.lower())
        if target is None:
            words.append(word)
        elif word.isupper() and len(word) > 1:
            words.append(target.upper())
        elif word[:1].isupper():
            words.append(target[:1].upper() + target[1:])
        else:
            words.append(target)
    return " ".join(words)


def parallel_corpus(n, seed):
    """``n`` ``(english, german_like)`` pairs from ``train/corpus.py``'s
    synthetic tweets (deterministic in ``seed``)."""
    return [(text, german_like(text))
            for text, _ in corpus.synthetic_tweets(n, seed)]


def write_tsv(path, pairs):
    """Writes ``source<TAB>target`` lines; returns ``path``."""
    for source, target in pairs:
        if any(c in s for s in (source, target) for c in "\t\n\r"):
            raise ValueError(f"a pair holds a tab or line break: {source!r}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(f"{s}\t{t}\n" for s, t in pairs)
    return path


def parallel_lines(path):
    """The file's ``(source, target)`` pairs, over and over."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"no parallel text at {path}: set config.train_file/eval_file "
            "to files of `source<TAB>target` lines")
    while True:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 2:
                    raise ValueError(
                        f"{path}:{lineno}: expected `source<TAB>target`, "
                        f"found {len(fields)} tab-separated fields")
                yield fields[0], fields[1]


def tokenized(pairs, vocab):
    """Both sides as int64 ids plus the end id."""
    for source, target in pairs:
        yield (np.array(vocab.encode(source) + [vocab_lib.EOS_ID], np.int64),
               np.array(vocab.encode(target) + [vocab_lib.EOS_ID], np.int64))


def shuffled(examples, queue_size, rng):
    """Trax's ``Shuffle`` queue: fill ``queue_size`` slots, then for each
    new example emit slot ``rng.randint(queue_size)`` and put the example
    there. (The streams here never end, so the queue is never drained.)"""
    queue = []
    for example in examples:
        if len(queue) < queue_size:
            queue.append(example)
            continue
        i = rng.randint(queue_size)
        yield queue[i]
        queue[i] = example


def padded_length(lengths, boundary):
    """The length a bucket pads one side to (Trax's ``pad_to_max_dims``
    with an int boundary): ``boundary`` (or the longest, if longer), but the
    next power of two of the longest when that is under half the boundary;
    the longest alone in the unbounded bucket."""
    longest = max(lengths)
    if boundary is None or (longest == min(lengths) == boundary):
        return longest
    size = max(longest, boundary)
    if 2 * longest < size:
        size = 2 ** math.ceil(math.log2(longest))
    return size


def _stack(rows, length):
    batch = np.zeros((len(rows), length), np.int64)
    for i, row in enumerate(rows):
        batch[i, :len(row)] = row
    return batch


def bucketed(examples, boundaries, batch_sizes):
    """Batches of pairs of similar length (see the module docstring)."""
    boundaries, limits = list(boundaries), list(boundaries) + [None]
    buckets = [[] for _ in batch_sizes]
    for pair in examples:
        i = bisect.bisect_left(boundaries, max(len(pair[0]), len(pair[1])))
        buckets[i].append(pair)
        if len(buckets[i]) == batch_sizes[i]:
            sources, targets = zip(*buckets[i])
            buckets[i] = []
            inputs = _stack(sources, padded_length(
                [len(s) for s in sources], limits[i]))
            targets = _stack(targets, padded_length(
                [len(t) for t in targets], limits[i]))
            yield {"inputs": inputs, "targets": targets,
                   "weights": (targets != vocab_lib.PAD_ID).astype(
                       np.float32)}


def check_buckets(config):
    boundaries, sizes = list(config.boundaries), list(config.batch_sizes)
    if boundaries != sorted(boundaries) or len(sizes) not in (
            len(boundaries), len(boundaries) + 1):
        raise ValueError(
            f"config.boundaries {boundaries} must be increasing and "
            f"config.batch_sizes {sizes} hold one size per bucket "
            f"({len(boundaries) + 1}: one more for pairs longer than the "
            f"last boundary)")
    if len(sizes) == len(boundaries) and config.max_length > boundaries[-1]:
        raise ValueError(
            f"config.max_length {config.max_length} is past the last "
            f"boundary {boundaries[-1]}: add a batch size for longer pairs "
            "to config.batch_sizes or lower config.max_length")


def batches(pairs, vocab, config, rng):
    """Endless batches of the ``pairs`` (see the module docstring);
    ``rng``: the ``np.random.RandomState`` the shuffle draws from."""
    examples = shuffled(tokenized(pairs, vocab), config.shuffle_queue_size,
                        rng)
    examples = (e for e in examples
                if max(len(e[0]), len(e[1])) <= config.max_length)
    return bucketed(examples, config.boundaries, config.batch_sizes)


def write_default_corpus(data_dir):
    """The synthetic parallel text as two TSV files; returns their paths."""
    paths = []
    for name, seed, n in (("train.tsv", corpus.DEFAULT_TRAIN_SEED, 20000),
                          ("eval.tsv", corpus.DEFAULT_EVAL_SEED, 1000)):
        path = os.path.join(data_dir, name)
        if not os.path.exists(path):
            write_tsv(path, parallel_corpus(n, seed))
        paths.append(path)
    return paths


def create_datasets(config, workdir):
    """Returns ``(train_iter, eval_iter, vocab)``.

    Both streams shuffle with one generator seeded with ``config.seed``,
    as Trax's ``Shuffle`` draws from NumPy's global one (which the twin
    seeds first). The first batch of each stream is read and dropped, and
    the generator then seeded again: Trax's ``TrainTask`` and ``EvalTask``
    each read one batch when built, then ``Loop(random_seed=seed)`` seeds
    NumPy. This program thus reads the batches of its Trax twin."""
    check_buckets(config)
    train_file, eval_file = config.train_file, config.eval_file
    if train_file is None or eval_file is None:
        default_train, default_eval = write_default_corpus(
            os.path.join(workdir, "data"))
        train_file = train_file or default_train
        eval_file = eval_file or default_eval
    vocab = load_vocab(config)
    if config.vocab_size < vocab.vocab_size:
        raise ValueError(
            f"config.vocab_size is {config.vocab_size} but "
            f"{config.vocab_file} has {vocab.vocab_size} ids: set "
            f"config.vocab_size to at least {vocab.vocab_size}")
    rng = np.random.RandomState(config.seed)
    train_iter = batches(parallel_lines(train_file), vocab, config, rng)
    eval_iter = batches(parallel_lines(eval_file), vocab, config, rng)
    next(train_iter)
    next(eval_iter)
    rng.seed(config.seed)
    return train_iter, eval_iter, vocab
