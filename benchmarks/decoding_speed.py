"""Greedy decoding speed: ``autoregressive_sample(accelerate=True)`` (one
compiled step per token) against the same call with ``accelerate=False``
(the layers run op by op), on the same 'predict'-mode language model, in
one run; optionally real Trax's ``autoregressive_sample`` on the same model
in a child process.

    python -m benchmarks.decoding_speed [--quick] [--trax-python PY]

The model is built from layers both libraries have: ``ShiftRight``,
``Embedding``, ``PositionalEncoding``, then per layer a residual
``CausalAttention`` and a residual ``LayerNorm, Dense, Relu, Dense`` block,
``LayerNorm`` and ``Dense(vocab)``; random weights (``get_prng(0)``).
Each round decodes ``--tokens`` tokens per row for a batch of ``--batch``
rows after a prefix of ``--prefix`` tokens, with ``eos_id=-1`` so every
round decodes the same number of tokens; the model's state is reset to its
initial state before each round. A warm-up round per contender (which
compiles) is not timed; contenders alternate and medians are reported.
Tokens/s counts generated tokens over the whole batch.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

DEFAULTS = dict(vocab=256, d_model=128, d_ff=256, n_layers=2, n_heads=4,
                batch=4, prefix=8, tokens=64, rounds=5)
QUICK = dict(DEFAULTS, tokens=16, rounds=2)


def build_model(tl, cfg, max_len):
    """The benchmark LM in 'predict' mode, from ``tl`` (either library)."""
    def block():
        return [
            tl.Residual(tl.LayerNorm(), tl.CausalAttention(
                cfg["d_model"], n_heads=cfg["n_heads"],
                max_inference_length=max_len, mode="predict")),
            tl.Residual(tl.LayerNorm(), tl.Dense(cfg["d_ff"]), tl.Relu(),
                        tl.Dense(cfg["d_model"])),
        ]
    return tl.Serial(
        tl.ShiftRight(mode="predict"),
        tl.Embedding(cfg["vocab"], cfg["d_model"]),
        tl.PositionalEncoding(max_len=max_len, mode="predict"),
        [block() for _ in range(cfg["n_layers"])],
        tl.LayerNorm(),
        tl.Dense(cfg["vocab"]))


def measure(library, cfg, contenders):
    """{contender: [seconds per round]} for ``library`` ('trax_compat' or
    'trax'); contenders are 'accelerated' and/or 'eager'."""
    import numpy as np  # pylint: disable=g-import-not-at-top
    if library == "trax":
        import trax  # pylint: disable=g-import-not-at-top,unused-import
        from trax import layers as tl  # pylint: disable=g-import-not-at-top
        from trax import shapes  # pylint: disable=g-import-not-at-top
        from trax.fastmath import random as trax_random  # pylint: disable=g-import-not-at-top
        from trax.supervised import decoding  # pylint: disable=g-import-not-at-top
    else:
        from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
        from trax_compat import shapes  # pylint: disable=g-import-not-at-top
        from trax_compat.fastmath import random as trax_random  # pylint: disable=g-import-not-at-top
        from trax_compat.supervised import decoding  # pylint: disable=g-import-not-at-top

    max_len = 1 + cfg["prefix"] + cfg["tokens"]
    model = build_model(tl, cfg, max_len)
    model.init(shapes.ShapeDtype((cfg["batch"], 1), np.int32),
               rng=trax_random.get_prng(0))
    initial_state = model.state
    prefix = np.random.default_rng(1).integers(
        2, cfg["vocab"], size=(cfg["batch"], cfg["prefix"])).astype(np.int32)

    def decode(accelerate):
        model.state = initial_state
        out = decoding.autoregressive_sample(
            model, prefix, batch_size=cfg["batch"], temperature=0.0,
            eos_id=-1, max_length=cfg["tokens"], accelerate=accelerate)
        assert np.asarray(out).shape == (cfg["batch"], cfg["tokens"])
        return np.asarray(out)

    outputs, times = {}, {name: [] for name in contenders}
    for name in contenders:  # warm-up: compiles
        outputs[name] = decode(name == "accelerated")
    for _ in range(cfg["rounds"]):
        for name in contenders:
            start = time.perf_counter()
            decode(name == "accelerated")
            times[name].append(time.perf_counter() - start)
    same = len({o.tobytes() for o in outputs.values()}) == 1
    return times, same


def tokens_per_s(cfg, seconds):
    return cfg["batch"] * cfg["tokens"] / statistics.median(seconds)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK['tokens']} tokens, "
                        f"{QUICK['rounds']} rounds")
    for key, value in DEFAULTS.items():
        p.add_argument("--" + key.replace("_", "-"), type=int, default=None,
                       help=f"default {value}")
    p.add_argument("--trax-python", default=None,
                   help="a Python with real Trax: also time Trax's "
                        "autoregressive_sample on the same model there")
    p.add_argument("--library", default="trax_compat",
                   choices=("trax_compat", "trax"), help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="write the figures here")
    return p.parse_args(argv)


def config(args):
    cfg = dict(QUICK if args.quick else DEFAULTS)
    for key in DEFAULTS:
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    return cfg


def _trax_times(python, argv):
    """Runs this module under real Trax's Python (accelerated only)."""
    result = subprocess.run(
        [python, "-m", "benchmarks.decoding_speed", "--library", "trax"]
        + argv, capture_output=True, text=True, check=True,
        cwd=_repo_root())
    return json.loads(result.stdout.strip().splitlines()[-1])


def _repo_root():
    import os  # pylint: disable=g-import-not-at-top
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    cfg = config(args)
    if args.library == "trax":  # child: Trax's accelerated decoding only
        times, _ = measure("trax", cfg, ["accelerated"])
        print(json.dumps({"accelerated": times["accelerated"]}))
        return 0

    from benchmarks import common  # pylint: disable=g-import-not-at-top
    for line in common.machine_info():
        print(line)
    print("config    : " + ", ".join(f"{k}={v}" for k, v in cfg.items()))
    times, same = measure("trax_compat", cfg, ["accelerated", "eager"])
    fast = tokens_per_s(cfg, times["accelerated"])
    slow = tokens_per_s(cfg, times["eager"])
    figures = {"config": cfg, "seconds": times,
               "tokens_per_s": {"accelerated": fast, "eager": slow},
               "accelerated_over_eager": fast / slow,
               "same_tokens": same}
    rows = [("trax_compat accelerate=True", f"{fast:.1f}", ""),
            ("trax_compat accelerate=False", f"{slow:.1f}", ""),
            ("ratio accelerated / eager", "", f"{fast / slow:.1f}x")]
    if args.trax_python:
        child_argv = [f"--{k.replace('_', '-')}={v}" for k, v in cfg.items()]
        trax_times = _trax_times(args.trax_python, child_argv)["accelerated"]
        trax_rate = tokens_per_s(cfg, trax_times)
        figures["seconds"]["trax_accelerated"] = trax_times
        figures["tokens_per_s"]["trax"] = trax_rate
        figures["ours_over_trax"] = fast / trax_rate
        rows += [("real Trax autoregressive_sample", f"{trax_rate:.1f}", ""),
                 ("ratio ours accelerated / Trax", "",
                  f"{fast / trax_rate:.1f}x")]
    print(f"greedy decoding, {cfg['batch']} x {cfg['tokens']} tokens after "
          f"a {cfg['prefix']}-token prefix, median of {cfg['rounds']} rounds")
    print(common.format_table(("contender", "tokens/s", "ratio"), rows))
    print(f"same tokens accelerated and eager: {same}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=1)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
