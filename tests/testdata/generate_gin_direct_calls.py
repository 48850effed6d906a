"""Reference data for calling Trax's gin-configured names directly after
parsing a config (``gin.parse_config_file(...)`` then
``trax.models.ConfigurableTerraformer(mode='predict')``, as Trax's decoding
tests and notebooks do), from real Trax::

    python tests/testdata/generate_gin_direct_calls.py [--output DIR]

Run with real Trax's Python. It parses Trax's own configs (copied in
``trax_oracle/gin_trainer/``) plus small-size bindings, calls the models,
layers, optimizers and schedules by the names users reach them by, and
records what the bindings changed: the initial weights' shapes and sums
(``get_prng(0)``), greedy decoding of fixed inputs, a layer's output, an
optimizer's parameters and a schedule's values. Writes
``trax_oracle/gin_direct_calls/gin_direct_calls.json``.
"""

import argparse
import json
import pathlib

import numpy as np

from oracle_common import env

HERE = pathlib.Path(__file__).resolve().parent
CONFIGS = HERE / "trax_oracle" / "gin_trainer"
DEFAULT_OUTPUT = HERE / "trax_oracle" / "gin_direct_calls"

# Each model case: a config, small-size bindings on top of it, the direct
# call, the input signature for init, and the prompts to decode greedily.
SMALL_TERRAFORMER = """
ConfigurableTerraformer.d_model = 32
ConfigurableTerraformer.d_ff = 64
ConfigurableTerraformer.n_heads = 2
ConfigurableTerraformer.n_encoder_layers = 1
ConfigurableTerraformer.n_decoder_layers = 1
ConfigurableTerraformer.d_attention_key = 16
ConfigurableTerraformer.d_attention_value = 16
LSHSelfAttention.chunk_len = 8
LSHSelfAttention.n_buckets = [4, 4]
LSHSelfAttention.predict_mem_len = 64
LSHSelfAttention.predict_drop_len = 64
"""
SMALL_REFORMER = """
ReformerLM.d_model = 32
ReformerLM.d_ff = 64
ReformerLM.n_heads = 2
ReformerLM.n_layers = 2
LSHSelfAttention.chunk_len = 8
LSHSelfAttention.n_buckets = [4, 4]
"""
MODEL_CASES = [
    {"name": "terraformer_copy", "config": "terraformer_copy.gin",
     "bindings": SMALL_TERRAFORMER, "model": "ConfigurableTerraformer",
     "signature": [[1, 32], [1, 1]], "max_length": 6, "prompt_len": 32},
    {"name": "reformer_copy", "config": "reformer_copy.gin",
     "bindings": SMALL_REFORMER, "model": "ReformerLM",
     "signature": [[1, 1]], "max_length": 7, "prompt_len": 0},
]
# Bindings for names reached through a package (gin's wrapper there, the
# plain object in the defining module) and for decorated ones.
SMALL_BINDINGS = """
LayerNorm.epsilon = 0.5
Adam.b1 = 0.25
Adam.weight_decay_rate = 0.125
multifactor.constant = 0.5
multifactor.factors = 'constant * linear_warmup'
multifactor.warmup_steps = 4
"""


def prompts(case):
    rng = np.random.RandomState(len(case["name"]))
    return rng.randint(1, 12, size=(1, case["prompt_len"])).tolist()


def weights_record(weights):
    """Per weight: shape, sum, sum of absolute values and first values
    (initialisers may differ in the last bit between JAX versions)."""
    import jax  # pylint: disable=import-outside-toplevel
    out = []
    for leaf in jax.tree_util.tree_leaves(weights):
        leaf = np.asarray(leaf, np.float64)
        out.append({"shape": list(leaf.shape), "sum": float(leaf.sum()),
                    "abs_sum": float(np.abs(leaf).sum()),
                    "first": leaf.ravel()[:4].tolist()})
    return out


def model_record(case):
    import gin  # pylint: disable=import-outside-toplevel
    import trax  # pylint: disable=import-outside-toplevel
    from trax import shapes  # pylint: disable=import-outside-toplevel
    from trax.fastmath import random as trax_random  # pylint: disable=import-outside-toplevel
    from trax.supervised import decoding  # pylint: disable=import-outside-toplevel
    gin.clear_config()
    gin.add_config_file_search_path(str(CONFIGS))
    gin.parse_config_file(case["config"])
    gin.parse_config(case["bindings"])
    model = getattr(trax.models, case["model"])(mode="predict")
    signature = tuple(shapes.ShapeDtype(tuple(s), np.int32)
                      for s in case["signature"])
    model.init(signature if len(signature) > 1 else signature[0],
               rng=trax_random.get_prng(0))
    out = {"weights": weights_record(model.weights)}
    inputs = np.array(prompts(case), np.int32)
    initial_state = model.state
    # A language model decodes from start_id alone; the Terraformer
    # translates the prompt.
    lm = case["prompt_len"] == 0
    sample = decoding.autoregressive_sample(
        model, inputs=None if lm else inputs, eos_id=-1,
        max_length=case["max_length"], temperature=0.0)
    model.state = initial_state
    out["inputs"] = None if lm else inputs.tolist()
    out["sample"] = np.asarray(sample).tolist()
    gin.clear_config()
    return out


def small_record():
    import gin  # pylint: disable=import-outside-toplevel
    import trax  # pylint: disable=import-outside-toplevel
    from trax import layers as tl  # pylint: disable=import-outside-toplevel
    from trax import shapes  # pylint: disable=import-outside-toplevel
    gin.clear_config()
    gin.parse_config(SMALL_BINDINGS)
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 3.0
    out = {}
    for name, layer in (("package", tl.LayerNorm()),
                        ("module", tl.normalization.LayerNorm())):
        layer.init(shapes.signature(x))
        out[f"layer_norm_{name}"] = np.asarray(layer(x)).tolist()
    for name, cls in (("package", trax.optimizers.Adam),
                      ("module", trax.optimizers.adam.Adam)):
        opt = cls(0.01)
        out[f"adam_{name}"] = {k: float(v) for k, v in
                               sorted(opt.opt_params.items())}
    schedule = trax.lr.multifactor()
    out["multifactor"] = [float(schedule(step)) for step in (1, 2, 3, 8)]
    gin.clear_config()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = parser.parse_args()
    data = {"env": env("generate_gin_direct_calls.py"),
            "model_cases": MODEL_CASES, "small_bindings": SMALL_BINDINGS,
            "models": {c["name"]: model_record(c) for c in MODEL_CASES},
            "small": small_record()}
    out = pathlib.Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "gin_direct_calls.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
