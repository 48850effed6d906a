"""Trax's GLUE and DROP streams of ``tf_inputs``: ``BertGlue*Stream``,
``T5Glue*``, ``CreateDropInputs``.

As in Trax, the stages with no arguments here (``Tokenize()``,
``PadToLength()``, ``Batch()``...) take theirs from gin bindings (e.g.
``Batch.batch_size = 8``). The GLUE and DROP data come from TFDS (the
``[tfds]`` extra; an unprepared dataset says how to prepare it), the T5
streams also need the ``t5`` package (``pip install t5``).
"""

import itertools

import numpy as np

from trax_compat import gin_registry
from trax_compat.data import tf_deps
from trax_compat.data import tfds_source

# The text features of each GLUE benchmark, in the order Trax reads them.
GLUE_KEYS = {
    "cola": ("sentence",), "sst2": ("sentence",),
    "mrpc": ("sentence1", "sentence2"), "qqp": ("question1", "question2"),
    "stsb": ("sentence1", "sentence2"), "mnli": ("premise", "hypothesis"),
    "qnli": ("question", "sentence"), "rte": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"),
}
# Label names T5's GLUE preprocessor writes as targets (Trax's table).
GLUE_LABELS = {
    "cola": ("unacceptable", "acceptable"),
    "sst2": ("negative", "positive"),
    "mrpc": ("not_equivalent", "equivalent"),
    "qqp": ("not_duplicate", "duplicate"),
    "stsb": ("sentence1", "sentence2"),
    "mnli": ("entailment", "neutral", "contradiction"),
    "qnli": ("entailment", "not_entailment"),
    "rte": ("entailment", "not_entailment"),
    "wnli": ("sentence1", "sentence2"),
}


def _stage(fn, *args, **kwargs):
    # Trax's stages are gin configurables: bindings fill what is not given.
    return gin_registry.configurable(fn)(*args, **kwargs)


def _benchmark_and_split(benchmark_id):
    """``'rte_t'`` -> (``'rte'``, ``'t'``); an unknown benchmark is an error."""
    benchmark, split = benchmark_id.rsplit("_", 1)
    if benchmark not in GLUE_KEYS or split not in ("t", "e", "e2"):
        raise ValueError(
                "GLUE benchmark %r is not one of %s with a split suffix _t "
                "(train), _e (eval) or _e2 (mnli's mismatched eval)"
                % (benchmark_id, sorted(GLUE_KEYS)))
    return benchmark, split


def _ensure_eval_suffix(benchmark):
    return (benchmark if benchmark.endswith(("_e", "_e2"))
            else benchmark + "_e")


def _bert_glue_stream(benchmark_id):
    from trax_compat import data  # pylint: disable=import-outside-toplevel
    from trax_compat.data import tf_inputs  # pylint: disable=import-outside-toplevel
    benchmark, split = _benchmark_and_split(_ensure_eval_suffix(benchmark_id))
    source = _stage(tf_inputs.TFDS, "glue/" + benchmark,
                    keys=GLUE_KEYS[benchmark], train=split == "t",
                    use_alt_eval=split == "e2")
    return data.Serial(source, _stage(data.Tokenize),
                       _stage(data.CreateBertInputs), _stage(data.Shuffle),
                       _stage(data.PadToLength), _stage(data.TruncateToLength),
                       _stage(data.Batch))


def BertGlueTrainStream(benchmark=None):  # pylint: disable=invalid-name
    """BERT inputs of GLUE ``benchmark``'s train split (``'cola'``...)."""
    return _bert_glue_stream(_required(benchmark, "BertGlueTrainStream")
                             + "_t")


def BertGlueEvalStream(benchmark=None):  # pylint: disable=invalid-name
    """BERT inputs of its eval split (``'mnli_e2'``: mismatched)."""
    return _bert_glue_stream(_ensure_eval_suffix(
            _required(benchmark, "BertGlueEvalStream")))


def _required(benchmark, what):
    if not benchmark:
        raise ValueError("%s needs benchmark, a GLUE benchmark name such as "
                         "'cola' or 'mnli' (gin: %s.benchmark = 'cola')"
                         % (what, what))
    return benchmark


def _t5_glue_split(benchmark_id):
    benchmark, mode = _benchmark_and_split(benchmark_id)
    if mode == "t":
        return benchmark, "train"
    if benchmark == "mnli":
        return benchmark, ("validation_mismatched" if mode == "e2"
                           else "validation_matched")
    return benchmark, "validation"


def _t5_glue_source(benchmark_id):
    """(inputs, targets, weights) of T5's GLUE text, repeating forever."""
    from trax_compat.data import tf_preprocess  # pylint: disable=import-outside-toplevel
    benchmark, split = _t5_glue_split(benchmark_id)
    t5 = tf_preprocess.t5_data("T5 GLUE streams")
    tfds = tf_deps.tfds("T5 GLUE streams")
    name = "glue/" + benchmark
    data_dir = tfds_source.prepare(name)
    dataset = t5.preprocessors.glue(
            tfds.load(name=name, split=split, data_dir=data_dir,
                      download=False),
            benchmark_name=benchmark, label_names=GLUE_LABELS[benchmark])

    def stream(generator=None):
        del generator
        # One endless iterator: a fresh one per pass costs milliseconds, and
        # Shuffle's queue reads a thousand examples of a tiny split at once.
        for example in tfds.as_numpy(dataset.repeat()):
            targets = example["targets"]
            yield (example["inputs"], targets,
                   np.ones(len(targets), np.int32))
    return stream


def _t5_glue_stream(benchmark_id):
    from trax_compat import data  # pylint: disable=import-outside-toplevel
    return data.Serial(_t5_glue_source(benchmark_id), _stage(data.Tokenize),
                       _stage(data.Shuffle), _stage(data.PadToLength),
                       _stage(data.TruncateToLength), _stage(data.Batch))


def T5GlueTrainStream(benchmark=None):  # pylint: disable=invalid-name
    """T5-preprocessed train stream of GLUE ``benchmark``."""
    return _t5_glue_stream(_required(benchmark, "T5GlueTrainStream") + "_t")


def T5GlueEvalStream(benchmark=None):  # pylint: disable=invalid-name
    """T5-preprocessed eval stream (``'mnli_e2'``: mismatched)."""
    return _t5_glue_stream(_ensure_eval_suffix(
            _required(benchmark, "T5GlueEvalStream")))


def T5GlueTrainStreamsParallel(benchmark_list=None, counters=None,  # pylint: disable=invalid-name
                               reweight_by_minimum=False,
                               gradually_reweight=False):
    """The train streams of several benchmarks, mixed by ``data.Parallel``."""
    from trax_compat import data  # pylint: disable=import-outside-toplevel
    streams = [T5GlueTrainStream(b) for b in
               _required(benchmark_list, "T5GlueTrainStreamsParallel")]
    return data.Parallel(streams, counters=counters,
                         reweight_by_minimum=reweight_by_minimum,
                         gradually_reweight=gradually_reweight)()


def T5GlueEvalStreamsParallel(benchmark_list=None):  # pylint: disable=invalid-name
    from trax_compat import data  # pylint: disable=import-outside-toplevel
    streams = [T5GlueEvalStream(b) for b in
               _required(benchmark_list, "T5GlueEvalStreamsParallel")]
    return data.Parallel(streams)()


def T5GlueEvalTasks(benchmark_list=None):  # pylint: disable=invalid-name
    """An ``EvalTask`` per benchmark: accuracy and sequence accuracy."""
    return [_t5_glue_eval_task(b) for b in
            _required(benchmark_list, "T5GlueEvalTasks")]


def _t5_glue_eval_task(benchmark_id):
    from trax_compat import layers as tl  # pylint: disable=import-outside-toplevel
    from trax_compat.supervised import training  # pylint: disable=import-outside-toplevel
    eval_data = T5GlueEvalStream(benchmark_id)
    benchmark, split = _benchmark_and_split(_ensure_eval_suffix(benchmark_id))
    if benchmark == "cola":
        title = "Cola"
    elif benchmark == "mnli":
        title = "MNLI_matched" if split == "e" else "MNLI_mismatched"
    else:
        title = benchmark.upper()
    return training.EvalTask(
            eval_data(), [tl.WeightedCategoryAccuracy(), tl.SequenceAccuracy()],
            metric_names=[title + " accuracy", title + " sequence accuracy"])


def CreateDropInputs(train=True, mathqa_format=False):  # pylint: disable=invalid-name
    """DROP (TFDS ``drop``) as endless ``(question, answer, weights)`` texts.

    The input is ``'drop question: ' + passage + ' ' + question``; examples
    without an answer are skipped. With ``mathqa_format`` a numeric answer
    becomes ``subtract(const_X,const_0)``.
    """
    from trax_compat.data import mathqa  # pylint: disable=import-outside-toplevel
    tfds = tf_deps.tfds("CreateDropInputs")
    data_dir = tfds_source.prepare("drop")
    dataset = tfds.load(name="drop", split="train" if train else "dev",
                        data_dir=data_dir, download=False)

    def drop_examples(generator=None):
        del generator
        for example in itertools.cycle(tfds.as_numpy(dataset)):
            question = ("drop question: " + example["passage"].decode("utf-8")
                        + " " + example["question"].decode("utf-8"))
            answer = example["answer"].decode("utf-8")
            if not answer:
                continue
            if mathqa_format and answer.replace(".", "", 1).isdigit():
                answer = mathqa.convert_to_subtract(
                        mathqa.convert_float_to_mathqa(answer))
            yield question, answer, np.array([1] * len(answer), np.int32)
    return drop_examples
