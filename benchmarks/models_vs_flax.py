"""Training throughput of two language models, ``training.Loop`` against a
hand-written Flax/optax twin with the same shapes and the same batches.

Run from the repository root::

    python -m benchmarks.models_vs_flax            # default, a couple of minutes
    python -m benchmarks.models_vs_flax --quick    # smoke run, under a minute

Models, written as Trax users write them (``lstm``, ``attention`` and
``transformer``):

* ``lstm``: ``tl.Serial(tl.ShiftRight(), tl.Embedding(vocab, d), tl.LSTM(d),
  tl.LSTM(d), tl.Dense(vocab), tl.LogSoftmax())``.
* ``attention``: ``tl.Serial(tl.ShiftRight(), tl.Embedding(vocab, d),
  tl.PositionalEncoding(max_len=length), 2 x [tl.Residual(tl.LayerNorm(),
  tl.CausalAttention(d, n_heads)), tl.Residual(tl.LayerNorm(), tl.Dense(d),
  tl.Relu(), tl.Dense(d))], tl.Dense(vocab), tl.LogSoftmax())`` (pre-norm
  blocks, no dropout).
* ``transformer``: ``trax.models.TransformerLM(vocab, d_model=d, d_ff=4 d,
  n_layers=2, n_heads, max_len=length, dropout=--dropout)`` (Trax's own
  model: dropout after the embedding, on the attention weights, inside and
  after each residual branch; a final LayerNorm; logits out).

The first two are trained with ``tl.CrossEntropyLoss()``, the
``transformer`` with ``tl.CrossEntropyLossWithLogSoftmax()``; all with
``trax_compat.optimizers.Adam``. Contenders, per model (as in
``loop_vs_flax``, whose timing and table this reuses):

* A: ``training.Loop`` (no evals, no output_dir), timed as ``loop.run(n)``.
* B1: the Flax Linen twin (``LSTMLanguageModel`` / ``AttentionLanguageModel``
  below: Trax's arithmetic, the same weight shapes, starting from the Loop's
  initial weights) with ``optax.adam`` in a jitted, donating ``TrainState``
  step.
* B2: the twin with trax_compat's Adam applied as the Loop applies it
  (``optimizers.apply_gradients``): A / B2 is what the Loop itself adds.

The batches are random token ids ``(inputs, targets = inputs, weights =
1)``, generated before timing; every contender trains on the same list.
"""

import argparse
import sys

import numpy as np

from benchmarks import common
from benchmarks import loop_vs_flax

MODELS = ("lstm", "attention", "transformer")
N_LAYERS = 2  # the transformer's depth
FF_FACTOR = 4  # its d_ff = FF_FACTOR * d


# -- the models as Trax users write them ---------------------------------------

def trax_model(kind, vocab, d, length, n_heads, dropout=0.0):
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    if kind == "transformer":
        from trax_compat import models  # pylint: disable=g-import-not-at-top
        return models.TransformerLM(
            vocab, d_model=d, d_ff=FF_FACTOR * d, n_layers=N_LAYERS,
            n_heads=n_heads, max_len=length, dropout=dropout, mode="train")
    if kind == "lstm":
        return tl.Serial(tl.ShiftRight(), tl.Embedding(vocab, d), tl.LSTM(d),
                         tl.LSTM(d), tl.Dense(vocab), tl.LogSoftmax())
    blocks = [[tl.Residual(tl.LayerNorm(), tl.CausalAttention(d, n_heads)),
               tl.Residual(tl.LayerNorm(), tl.Dense(d), tl.Relu(),
                           tl.Dense(d))] for _ in range(2)]
    return tl.Serial(tl.ShiftRight(), tl.Embedding(vocab, d),
                     tl.PositionalEncoding(max_len=length), blocks,
                     tl.Dense(vocab), tl.LogSoftmax())


# -- the hand-written Flax twins ----------------------------------------------

def _twins():
    """The Flax modules (imported lazily, as the rest of the benchmarks)."""
    import flax.linen as nn  # pylint: disable=g-import-not-at-top
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

    def shift_right(x):
        return jnp.pad(x, [(0, 0), (1, 0)])[:, :-1]

    def log_softmax(x):
        return x - jax.scipy.special.logsumexp(x, axis=-1, keepdims=True)

    class LSTMCell(nn.Module):
        """Trax's LSTM step: gates (i, j, f, o) from ``[x, h] @ kernel``."""
        d: int

        @nn.compact
        def __call__(self, carry, x):
            c, h = carry
            y = nn.Dense(4 * self.d, name="gates")(
                jnp.concatenate([x, h], axis=-1))
            i, j, f, o = jnp.split(y, 4, axis=-1)
            c = c * jax.nn.sigmoid(f) + jax.nn.sigmoid(i) * jnp.tanh(j)
            h = jnp.tanh(c) * jax.nn.sigmoid(o)
            return (c, h), h

    class LSTMLanguageModel(nn.Module):
        vocab: int
        d: int

        @nn.compact
        def __call__(self, ids):
            x = nn.Embed(self.vocab, self.d, name="embed")(shift_right(ids))
            scan = nn.scan(LSTMCell, variable_broadcast="params",
                           split_rngs={"params": False}, in_axes=1,
                           out_axes=1)
            for name in ("lstm_0", "lstm_1"):
                zeros = jnp.zeros((x.shape[0], self.d), x.dtype)
                _, x = scan(self.d, name=name)((zeros, zeros), x)
            return log_softmax(nn.Dense(self.vocab, name="out")(x))

    class CausalSelfAttention(nn.Module):
        d: int
        n_heads: int

        @nn.compact
        def __call__(self, x):
            b, length, _ = x.shape
            d_head = self.d // self.n_heads

            def heads(name):
                return nn.Dense(self.d, name=name)(x).reshape(
                    b, length, self.n_heads, d_head)

            q, k, v = heads("q"), heads("k"), heads("v")
            dots = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(d_head)
            mask = jnp.tril(jnp.ones((length, length), bool))
            dots = jnp.where(mask, dots, -1e9)
            out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(dots), v)
            return nn.Dense(self.d, name="o")(out.reshape(b, length, self.d))

    class AttentionLanguageModel(nn.Module):
        vocab: int
        d: int
        length: int
        n_heads: int

        @nn.compact
        def __call__(self, ids):
            x = nn.Embed(self.vocab, self.d, name="embed")(shift_right(ids))
            pos = self.param("pos", nn.initializers.normal(),
                             (self.length, self.d))
            x = x + pos[None, :x.shape[1]]
            for i in range(2):
                x = x + CausalSelfAttention(self.d, self.n_heads,
                                            name=f"attn_{i}")(
                    nn.LayerNorm(epsilon=1e-6, name=f"ln_attn_{i}")(x))
                y = nn.LayerNorm(epsilon=1e-6, name=f"ln_ff_{i}")(x)
                y = nn.Dense(self.d, name=f"ff_{i}_0")(y)
                x = x + nn.Dense(self.d, name=f"ff_{i}_1")(nn.relu(y))
            return log_softmax(nn.Dense(self.vocab, name="out")(x))

    class TransformerLanguageModel(nn.Module):
        """A decoder-only Transformer as Flax users write one: pre-norm
        blocks, dropout where Trax's TransformerLM has it (after the
        embedding, on the attention weights, after the FF activation, at
        the end of each residual branch), a final LayerNorm, logits."""
        vocab: int
        d: int
        d_ff: int
        length: int
        n_heads: int
        n_layers: int
        dropout: float

        @nn.compact
        def __call__(self, ids):
            drop = nn.Dropout(self.dropout, deterministic=False)
            x = nn.Embed(self.vocab, self.d, name="embed")(shift_right(ids))
            pos = self.param("pos", nn.initializers.normal(),
                             (self.length, self.d))
            x = drop(x) + pos[None, :x.shape[1]]
            b, length, _ = x.shape
            d_head = self.d // self.n_heads
            mask = jnp.tril(jnp.ones((length, length), bool))
            for i in range(self.n_layers):
                y = nn.LayerNorm(epsilon=1e-6, name=f"ln_attn_{i}")(x)

                def heads(name, y=y, i=i):
                    return nn.Dense(self.d, name=f"attn_{i}_{name}")(
                        y).reshape(b, length, self.n_heads, d_head)

                q, k, v = heads("q"), heads("k"), heads("v")
                dots = jnp.einsum("bqhd,bkhd->bhqk", q, k) / jnp.sqrt(d_head)
                weights = drop(jax.nn.softmax(jnp.where(mask, dots, -1e9)))
                y = jnp.einsum("bhqk,bkhd->bqhd", weights, v)
                y = nn.Dense(self.d, name=f"attn_{i}_o")(
                    y.reshape(b, length, self.d))
                x = x + drop(y)
                y = nn.LayerNorm(epsilon=1e-6, name=f"ln_ff_{i}")(x)
                y = drop(nn.relu(nn.Dense(self.d_ff, name=f"ff_{i}_0")(y)))
                x = x + drop(nn.Dense(self.d, name=f"ff_{i}_1")(y))
            x = nn.LayerNorm(epsilon=1e-6, name="ln_final")(x)
            return nn.Dense(self.vocab, name="out")(x)

    return LSTMLanguageModel, AttentionLanguageModel, TransformerLanguageModel


def twin_model(kind, vocab, d, length, n_heads, dropout=0.0):
    lstm, attention, transformer = _twins()
    if kind == "lstm":
        return lstm(vocab, d)
    if kind == "transformer":
        return transformer(vocab, d, FF_FACTOR * d, length, n_heads,
                           N_LAYERS, dropout)
    return attention(vocab, d, length, n_heads)


def twin_params(kind, trax_weights):
    """The twin's params holding the Trax model's weights (``model.weights``,
    whose leaves come in layer order)."""
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    leaves = iter(jax.tree_util.tree_leaves(trax_weights))

    def take():
        return jnp.array(next(leaves))  # a copy: the twin donates its buffers

    def dense():
        kernel = take()
        return {"kernel": kernel, "bias": take()}

    params = {"embed": {"embedding": take()}}
    if kind == "lstm":
        for name in ("lstm_0", "lstm_1"):
            params[name] = {"gates": dense()}
    elif kind == "transformer":
        params["pos"] = take()
        for i in range(N_LAYERS):
            scale = take()
            params[f"ln_attn_{i}"] = {"scale": scale, "bias": take()}
            for n in ("q", "k", "v", "o"):
                params[f"attn_{i}_{n}"] = dense()
            scale = take()
            params[f"ln_ff_{i}"] = {"scale": scale, "bias": take()}
            params[f"ff_{i}_0"] = dense()
            params[f"ff_{i}_1"] = dense()
        scale = take()
        params["ln_final"] = {"scale": scale, "bias": take()}
    else:
        params["pos"] = take()
        for i in range(2):
            scale = take()
            params[f"ln_attn_{i}"] = {"scale": scale, "bias": take()}
            params[f"attn_{i}"] = {n: dense() for n in ("q", "k", "v", "o")}
            scale = take()
            params[f"ln_ff_{i}"] = {"scale": scale, "bias": take()}
            params[f"ff_{i}_0"] = dense()
            params[f"ff_{i}_1"] = dense()
    params["out"] = dense()
    if next(leaves, None) is not None:
        raise ValueError("the Trax model has more weights than the twin")
    return params


def logits_cross_entropy_loss(logits, targets, weights):
    """``tl.CrossEntropyLossWithLogSoftmax()``: the same on raw logits."""
    import jax  # pylint: disable=g-import-not-at-top
    log_probs = logits - jax.scipy.special.logsumexp(logits, axis=-1,
                                                     keepdims=True)
    return cross_entropy_loss(log_probs, targets, weights)


def cross_entropy_loss(log_probs, targets, weights):
    """``tl.CrossEntropyLoss()``: weighted mean of -log p(target)."""
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    one_hot = jax.nn.one_hot(targets, log_probs.shape[-1], dtype=jnp.float32)
    ce = -jnp.sum(log_probs * one_hot, axis=-1)
    return jnp.sum(ce * weights) / jnp.sum(weights)


# -- benchmark -----------------------------------------------------------------

def make_batches(n, vocab, batch_size, length, seed):
    rng = np.random.RandomState(seed)
    weights = np.ones((batch_size, length), np.float32)
    out = []
    for _ in range(n):
        ids = rng.randint(1, vocab, (batch_size, length)).astype(np.int32)
        out.append((ids, ids, weights))
    return out


def make_contenders(kind, args, sample_batch):
    import optax  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
    shape = (args.vocab, args.d, args.length, args.heads)
    lr = args.learning_rate
    logits = kind == "transformer"
    dropout = args.dropout if logits else 0.0
    loop = loop_vs_flax.LoopContender(
        sample_batch, lr, model=trax_model(kind, *shape, dropout=dropout),
        loss_layer=(tl.CrossEntropyLossWithLogSoftmax() if logits
                    else tl.CrossEntropyLoss()),
        name="A  trax_compat training.Loop")
    # Both twins start from the Loop's initial weights.
    weights = loop.loop.model.weights
    twin = twin_model(kind, *shape, dropout=dropout)

    def flax(name, tx, direct=False):
        return loop_vs_flax.FlaxContender(
            name, tx, sample_batch, direct=direct, module=twin,
            params=twin_params(kind, weights),
            loss=logits_cross_entropy_loss if logits else cross_entropy_loss,
            dropout_seed=args.seed if dropout else None)

    return [loop,
            flax("B1 Flax twin + optax.adam", optax.adam(lr)),
            flax("B2 Flax twin + trax_compat Adam (apply_gradients)",
                 optimizers.Adam(lr), direct=True)]


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.models_vs_flax",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: --steps 60 --rounds 2 --warmup 3")
    p.add_argument("--models", nargs="+", choices=MODELS, default=MODELS)
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per contender (default 400)")
    p.add_argument("--rounds", type=int, default=None,
                   help="alternating rounds (default 8)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed steps first (default 20)")
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--d", type=int, default=128, help="model width")
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.1,
                   help="the transformer's dropout rate (Trax's default)")
    p.add_argument("--seed", type=int, default=0)
    return loop_vs_flax.rounds_defaults(p, p.parse_args(argv), (60, 2, 3),
                                        (400, 8, 20))


def measure(args, log=print):
    """``{model: loop_vs_flax.run_rounds(...)'s result}`` for each model."""
    batches = make_batches(args.warmup + args.steps, args.vocab,
                           args.batch_size, args.length, args.seed)
    warmup, timed = batches[:args.warmup], batches[args.warmup:]
    log(f"batches: {args.steps} timed + {args.warmup} warm-up, "
        f"{args.batch_size} x {args.length} random ids of {args.vocab}; "
        f"d {args.d}, {args.heads} heads; Adam({args.learning_rate}); "
        f"transformer dropout {args.dropout}")
    results = {}
    for kind in args.models:
        log("")
        log(f"-- {kind}: {_DESCRIPTIONS[kind]}")
        contenders = make_contenders(kind, args, warmup[0])
        results[kind] = loop_vs_flax.run_rounds(
            contenders, warmup, timed, args.rounds, log=log)
    return results


_DESCRIPTIONS = {
    "lstm": "ShiftRight, Embedding, LSTM, LSTM, Dense(vocab), LogSoftmax",
    "attention": ("ShiftRight, Embedding, PositionalEncoding, 2 x [Residual("
                  "LayerNorm, CausalAttention), Residual(LayerNorm, Dense, "
                  "Relu, Dense)], Dense(vocab), LogSoftmax"),
    "transformer": (f"trax.models.TransformerLM(vocab, d_model=d, "
                    f"d_ff={FF_FACTOR} d, n_layers={N_LAYERS}, n_heads, "
                    f"max_len=length, dropout); "
                    f"CrossEntropyLossWithLogSoftmax"),
}


def main(argv=None):
    args = parse_args(argv)
    for line in common.machine_info():
        print(line)
    measure(args)


if __name__ == "__main__":
    sys.exit(main())
