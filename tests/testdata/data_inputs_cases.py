"""Cases for ``trax.data.inputs``'s stages, run the same way on real Trax
(by ``generate_data_inputs.py``) and on trax_compat (by
``tests/test_data_inputs_oracle.py``).

Each case is ``fn(data) -> result`` with ``data`` the ``trax.data`` module of
either library; a case seeds the generators it draws from. ``record`` turns a
result into unambiguous JSON (arrays keep dtype and shape). Only NumPy here.
"""

import io
import itertools
import random
import contextlib

import numpy as np


def record(x):
    """A result as JSON: tuples, arrays, NumPy scalars and bytes tagged."""
    if isinstance(x, np.ndarray):
        return {"array": {"shape": list(x.shape), "dtype": x.dtype.name,
                          "data": x.tolist()}}
    if isinstance(x, np.generic):
        return {"scalar": x.dtype.name, "value": x.item()}
    if isinstance(x, tuple):
        return {"tuple": [record(v) for v in x]}
    if isinstance(x, list):
        return [record(v) for v in x]
    if isinstance(x, dict):
        return {"dict": [[record(k), record(v)] for k, v in x.items()]}
    if isinstance(x, bytes):
        return {"bytes": list(x)}
    if isinstance(x, (bool, int, float, str)) or x is None:
        return x
    raise TypeError(f"cannot record {type(x).__name__}: {x!r}")


def take(stream, n):
    return list(itertools.islice(stream, n))


def _arr(*xs, dtype=np.int64):
    return np.array(xs, dtype=dtype)


def _pairs():
    return [(_arr(1, 2, 3), _arr(4, 5)), (_arr(6), _arr(7, 8, 9, 10)),
            (_arr(11, 12), _arr(13))]


# Combinators.

def shuffle_seeded(data):
    np.random.seed(0)
    a = list(data.shuffle(iter(range(23)), 5))
    np.random.seed(1)
    b = list(data.Shuffle(7)(iter(range(5))))
    return [a, b]


def parallel_counters(data):
    d = [lambda: iter(range(10)), lambda: iter(range(10, 20)),
         lambda: iter(range(20, 30))]
    return take(data.Parallel(d, counters=(2, 1, 3))(), 18)


def parallel_reweight(data):
    d = [lambda: itertools.cycle(range(5)), lambda: itertools.cycle(range(100, 130))]
    return take(data.Parallel(d, counters=(4, 30), reweight_by_minimum=True)(), 40)


def parallel_gradual(data):
    d = [lambda: itertools.cycle(range(100, 120)), lambda: itertools.cycle([0]),
         lambda: itertools.cycle(range(200, 260)), lambda: itertools.cycle(range(300, 307))]
    out = [take(data.Parallel(d, counters=(6, 1, 25, 13), gradually_reweight=True)(), 60)]
    out.append(take(data.Parallel(d, counters=(6, 1, 25, 13), gradually_reweight=True,
                                  use_remainders=True)(), 90))
    return out


def parallel_nested_zero(data):
    d1 = lambda: iter(range(10))
    d2 = lambda: iter(range(10, 20))
    d3 = lambda _: iter(range(20, 30))
    inner = data.Parallel([d1, d2])
    gen = data.Parallel([inner, d1, d2], counters=[2, 0, 1])()
    with_input = data.Parallel([d3, d3], counters=[1, 2])(lambda: None)
    return [take(gen, 12), take(with_input, 9)]


def serial_nested(data):
    src = lambda _: ((np.arange(i % 4 + 1), np.int64(i)) for i in range(12))
    pipe = data.Serial([src, [data.Dup()]], (data.Batch(3),))
    return take(pipe(), 4)


# Per-example stages.

def dup_filter_empty(data):
    ex = [(_arr(1, 2), _arr(3)), (np.zeros((0,)), _arr(4)),
          (_arr(5), np.zeros((0,))), (_arr(6), _arr(7), np.zeros((0,)))]
    return [list(data.Dup()(iter([(_arr(1),), (_arr(2), _arr(3))]))),
            list(data.FilterEmptyExamples()(iter(ex))),
            list(data.FilterEmptyExamples(axes=[1])(iter(ex))),
            list(data.FilterEmptyExamples(axes=[2], debug=True)(iter(ex)))]


def truncate(data):
    x = np.arange(21).reshape((1, 21, 1))
    pair = (np.arange(10).reshape(2, 5), np.arange(6.0))
    return [list(data.TruncateToLength(len_map={0: (1, 4, 6)})(iter([x]))),
            list(data.TruncateToLength(len_map={0: (2, 3), 1: (4,)})(iter([pair]))),
            list(data.TruncateToLength(len_map={0: (1, 9), 1: (9,)})(iter([pair]))),
            list(data.TruncateToLength()(iter([pair])))]


def pad_to_length(data):
    ex = [(np.arange(5), np.ones(3, np.int32)), (np.arange(13), np.ones(15, np.int32)),
          (np.arange(20), np.ones(4, np.int32))]
    out = [list(data.PadToLength(len_map={0: 10, 1: 11}, pad_value={0: 0, 1: 7})(iter(ex[:1])))]
    out.append(list(data.PadToLength(len_map={0: 10, 1: 10}, pad_value={0: -1, 1: 2},
                                     multiple=True)(iter(ex))))
    out.append(list(data.PadToLength(len_map={0: 8}, pad_value={0: 9})(
        iter([np.arange(3), np.arange(12)]))))
    out.append(list(data.PadToLength(len_map={0: 8}, pad_value={0: 9}, multiple=True)(
        iter([np.arange(3), np.arange(13)]))))
    return out


def concatenate_lm(data):
    ex = [(np.arange(1, 6), np.arange(7, 10)), (np.zeros(2, np.int32), np.ones(1, np.int32))]
    return [list(data.ConcatenateToLMInput(pad_to_length=10)(iter(ex))),
            list(data.ConcatenateToLMInput()(iter(ex))),
            list(data.ConcatenateToLMInput()(iter([(np.arange(3),), np.arange(2.0)])))]


def cast_to(data):
    ex = [(np.arange(3), np.arange(2.5, 5.0), np.arange(2, dtype=np.int16))]
    return [list(data.CastTo()(iter(ex))),
            list(data.CastTo(dtype=np.float32, indices=(0, 2), debug=True)(iter(ex))),
            list(data.CastTo(dtype=np.int64, indices=(1,))(iter(ex)))]


def append_value(data):
    ex = [(np.zeros((1, 5)), np.ones((1, 5), np.int32)), (np.arange(3.0).reshape(1, 3), np.ones((1, 2), np.int32))]
    return [list(data.AppendValue()(iter(ex))),
            list(data.AppendValue({0: [[5]], 1: [[4]]})(iter(ex))),
            list(data.AppendValue({0: [1]})(iter([np.arange(3), np.arange(2)]))),
            list(data.AppendValue({1: [9]})(iter([(np.arange(2), np.arange(3))])))]


def unbatch_prefix_lm(data):
    batches = [(np.arange(6).reshape(3, 2), np.arange(3)), (np.arange(8).reshape(2, 4), np.arange(2, 4))]
    seqs = [np.arange(1, 9), np.arange(1, 7), np.arange(1, 8), np.arange(20, 45)]
    return [list(data.UnBatch()(iter(batches))),
            list(data.PrefixLM(input_length=2, output_length=3)(iter(seqs))),
            list(data.PrefixLM(input_length=4, output_length=5)(iter(seqs)))]


def count_and_skip(data):
    src = lambda _: ((i, i + 1) for i in range(10))
    pipe = data.Serial(src, data.CountAndSkip("oracle_counter"))
    g = pipe()
    out = [next(g), next(g), data.inputs.data_counters["oracle_counter"]]
    out.append(next(pipe()))
    out.append(list(data.inputs.count_and_skip(iter("abcdef"), "oracle_counter")))
    out.append(data.inputs.data_counters["oracle_counter"])
    data.inputs.data_counters["oracle_counter"] = 0
    out.append(next(pipe()))
    del data.inputs.data_counters["oracle_counter"]
    return out


def uniformly_seek(data):
    return [list(data.UniformlySeek(name="s", host_id=1, n_hosts=3, dataset_size=9)(iter(range(12)))),
            list(data.UniformlySeek(name="s", host_id=2, n_hosts=4, dataset_size=10)(iter(range(12))))]


def prefetch(data):
    return take(data.Prefetch(3)(iter(range(20))), 10)


def log_stage(data):
    buf = io.StringIO()
    ex = [(np.zeros((2, 3), np.int32), np.ones(2, np.float32)), (np.zeros((1, 4)), np.arange(3))]
    with contextlib.redirect_stdout(buf):
        a = list(data.Log()(iter(ex)))
        b = list(data.Log(n_steps_per_example=2, only_shapes=False)(iter(ex * 2)))
    return [buf.getvalue(), len(a), len(b)]


# Span corruption.

def noise_masks(data):
    out = []
    for length, density, span, s1, s2 in [(100, 0.15, 3.0, 0, 1), (37, 0.3, 2.0, 3, 7),
                                          (1, 0.15, 3.0, 5, 6), (2, 0.5, 1.0, 2, 2),
                                          (64, 0.2, 4.0, 11, 12)]:
        out.append(data.random_spans_noise_mask(length, density, span, seed1=s1, seed2=s2))
    np.random.seed(4)
    out.append(data.random_spans_noise_mask(50, 0.25, 2.5))
    out.append(data.random_spans_noise_mask(9))
    return out


def mlm_pipeline(data):
    np.random.seed(9)
    seqs = [np.arange(1, 30), np.arange(40, 45), np.arange(3)]
    chunks = list(data.generate_sequential_chunks(max_length=7)(iter(seqs)))
    masked = list(data.generate_random_noise_mask(noise_density=0.3,
                                                  mean_noise_span_length=2.0)(iter(chunks)))
    consumed = list(data.consume_noise_mask(vocab_size=100)(iter(masked)))
    np.random.seed(10)
    mlm = list(data.MLM(vocab_size=60, max_length=9)(iter(seqs)))
    seeded = list(data.generate_random_noise_mask(seed1=1, seed2=2)(iter(seqs)))
    return [chunks, masked, consumed, mlm, seeded]


# Synthetic inputs.

def endian_helpers(data):
    np.random.seed(3)
    inp = data.inputs
    return [inp.number_to_lower_endian(0, 5), inp.number_to_lower_endian(1234, 7),
            inp.lower_endian_to_number([3, 0, 2], 10),
            [inp.random_number_lower_endian(n, 6) for n in (1, 2, 5)]]


def addition(data):
    out = []
    for encdec in (False, True):
        np.random.seed(0)
        stream = data.inputs.addition_input_stream(vocab_size=8, batch_size=3, min_length=3,
                                                   max_length=10, pad_to_multiple=8,
                                                   encdec=encdec)
        out.append(take(stream, 2))
    np.random.seed(1)
    inputs = data.addition_inputs(vocab_size=6, batch_size=2, train_length=9,
                                  eval_min_length=5, eval_max_length=12, pad_to_multiple=4)
    out.append([next(inputs.train_stream(1)), next(inputs.eval_stream(1)),
                inputs.input_shape, inputs.target_dtype.name])
    return out


def random_inputs(data):
    np.random.seed(2)
    a = data.inputs.random_inputs(input_shape=(3, 4), output_shape=(3,))
    b = data.inputs.random_inputs(input_shape=(2, 2), input_dtype=np.float32,
                                  input_range=(0, 1), output_shape=(2, 1),
                                  output_dtype=np.int64, output_range=(5, 6))
    return [take(a.train_stream(1), 2), take(b.eval_stream(1), 2),
            a.example_shape_dtype[0], [d.name for d in b.example_shape_dtype[1]]]


def sequence_copy(data):
    out = []
    for reverse in (False, True):
        random.seed(5)
        np.random.seed(5)
        inputs = data.sequence_copy_inputs(vocab_size=7, batch_size=2, train_length=4,
                                           eval_min_length=2, eval_max_length=5,
                                           reverse=reverse, pad_to_multiple=8)
        out.append([take(inputs.train_stream(1), 2), take(inputs.eval_stream(1), 2)])
    random.seed(6)
    np.random.seed(6)
    inputs = data.simple_sequence_copy_inputs(vocab_size=9, batch_size=3, train_length=5,
                                              eval_min_length=3, eval_max_length=6,
                                              pad_to_multiple=4)
    out.append([take(inputs.train_stream(1), 2), take(inputs.eval_stream(1), 2)])
    return out


def sine(data):
    np.random.seed(7)
    inputs = data.sine_inputs(batch_size=3, length=5)
    return [take(inputs.train_stream(1), 2), next(inputs.eval_stream(1))]


# The Inputs bundle.

def _examples(n, seed):
    rng = np.random.RandomState(seed)
    return [(rng.randint(1, 9, size=rng.randint(1, 40)), rng.randint(1, 9, size=rng.randint(1, 40)))
            for _ in range(n)]


def batcher_heuristic(data):
    train, evals = _examples(120, 0), _examples(60, 1)
    out = []
    for kwargs in [dict(batch_size_per_device=4, eval_batch_size=4, bucket_length=8),
                   dict(batch_size=6, eval_batch_size=8, bucket_length=16, max_eval_length=24,
                        buckets_include_inputs_in_length=True, id_to_mask=3),
                   dict(variable_shapes=False, batch_size_per_device=3, eval_batch_size=5),
                   dict(buckets=([10, 20], [5, 3, 2]), batch_shuffle_size=3,
                        strict_pad_on_len=True)]:
        np.random.seed(0)
        inputs = data.inputs.batcher((lambda: iter(train), lambda: iter(evals)), **kwargs)
        rec = [inputs.input_shape, inputs.target_shape]
        for n_devices in (1, 2):
            rec.append(take(inputs.train_stream(n_devices), 3))
            rec.append(take(inputs.eval_stream(n_devices), 3))
            rec.append(take(inputs.train_eval_stream(n_devices), 1))
        out.append(rec)
    return out


def make_inputs(data):
    src = lambda _: ((np.arange(i % 3 + 1), np.arange(2)) for i in range(30))
    inputs = data.inputs.make_inputs(train_stream=[src, data.Batch(2)],
                                     eval_stream=[src, data.Batch(3)])
    extra = data.inputs.make_additional_stream(stream=[src, data.Batch(4)])
    par = data.inputs.make_parallel_stream(
        streams=[lambda: iter(range(5)), lambda: iter(range(10, 15))], counters=(1, 2))
    return [take(inputs.train_stream(1), 2), take(inputs.eval_stream(1), 2),
            inputs.example_shape_dtype[0], take(extra, 2), take(par, 6)]


def batch_fn_direct(data):
    out = []
    for training, n_devices in [(True, 1), (False, 3)]:
        np.random.seed(3)
        stream = data.inputs.batch_fn(iter(_examples(80, 4)), training, n_devices, True,
                                      batch_size_per_device=2, eval_batch_size=6,
                                      bucket_length=8, batch_shuffle_size=2)
        out.append(take(stream, 4))
    return out


CASES = {f.__name__: f for f in [
    shuffle_seeded, parallel_counters, parallel_reweight, parallel_gradual,
    parallel_nested_zero, serial_nested, dup_filter_empty, truncate,
    pad_to_length, concatenate_lm, cast_to, append_value, unbatch_prefix_lm,
    count_and_skip, uniformly_seek, prefetch, log_stage, noise_masks,
    mlm_pipeline, endian_helpers, addition, random_inputs, sequence_copy,
    sine, batcher_heuristic, make_inputs, batch_fn_direct]}


def run_case(name, data):
    """``record(CASES[name](data))``, or the error type and message."""
    try:
        return {"result": record(CASES[name](data))}
    except Exception as e:  # pylint: disable=broad-except
        return {"error": type(e).__name__, "message": str(e)}
