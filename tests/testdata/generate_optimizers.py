"""Records real Trax's Adafactor, RMSProp and SM3 for the optimizer tests.

Run with a Python that has **real Google Trax** installed (not trax_compat),
from the repository root:

    python tests/testdata/generate_optimizers.py

The environment used for the committed data is described in
tests/testdata/README.md (Trax 7c189c2c, jax 0.4.34 on CPU, numpy 1.26.4).
It writes, into tests/testdata/trax_oracle/optimizers/ (byte for byte
reproducible: gzip without name or mtime, zip entries with a fixed time):

* ``optimizers.json.gz``: environment, the classes' constructor defaults,
  ``MomentumType``'s members, and per case: the constructor keywords, the
  weight tree used, ``opt_params`` as ``tree_init`` returns them, the slot
  layout (after ``tree_init`` and after the last update), the metrics of
  every ``tree_update`` and the packing of the arrays below; also what SM3
  does with a scalar weight.
* ``optimizers.npz``: ``inputs.weights`` (row 0 of the fixed weights),
  ``inputs.grads`` (one row per step) and, per case, ``<case>.weights`` and
  ``<case>.slots``: row 0 the initial values, row ``k`` those after step
  ``k``. A row is every leaf (in ``tree_flatten`` order, slots depth-first
  in Trax's slot structure) raveled in C order and concatenated, as float32
  (bfloat16 slots are widened exactly; the layout records their dtype).

Recipe (no randomness but numpy's legacy, version-stable RandomState):
leaves of shapes (), (3,), (4, 5), (2, 3, 4) in the tree
``(a, (b, c), d)``; weights ``0.5 * RandomState(0).randn`` leaf by leaf;
step ``k``'s gradients ``RandomState(1000 + k).randn`` leaf by leaf, scaled
per leaf by 1, 0.1, 2, 0.01, with ``c[0, :]`` and ``d[0, :, 0]`` set to 0
(entries that never see a gradient). SM3 cannot take the scalar ``a`` (Trax
fails, see ``sm3_scalar``), so its cases use ``((b, c), d)``. Updates are
eager ``tree_update(step, grads, weights, slots, opt_params)`` calls with
steps 1..5, numbered as Trax's Loop numbers them.
"""

import gzip
import inspect
import io
import json
import pathlib
import platform
import sys
import zipfile

import numpy as np

import jax
import jax.numpy as jnp
import jaxlib
import trax
from trax.optimizers import adafactor
from trax.optimizers import rms_prop
from trax.optimizers import sm3

import oracle_common  # this folder
from optimizer_slots import as_tree, layout, slot_arrays  # this folder

OUT = pathlib.Path(__file__).resolve().parent / 'trax_oracle' / 'optimizers'
N_STEPS = 5
SHAPES = [(), (3,), (4, 5), (2, 3, 4)]
GRAD_SCALES = [1.0, 0.1, 2.0, 0.01]

MT = sm3.MomentumType
# (case name, class, constructor keywords, tree name).
CASES = [
        ('Adafactor()', adafactor.Adafactor, {}, 'full'),
        ('Adafactor(factored=False)', adafactor.Adafactor,
         {'factored': False}, 'full'),
        ('Adafactor(do_momentum=True, beta1=0.9)', adafactor.Adafactor,
         {'do_momentum': True, 'beta1': 0.9}, 'full'),
        ('Adafactor(do_momentum=True, momentum_in_bfloat16=True, beta1=0.9)',
         adafactor.Adafactor,
         {'do_momentum': True, 'momentum_in_bfloat16': True, 'beta1': 0.9},
         'full'),
        ('Adafactor(multiply_by_parameter_scale=False, do_clipping=False)',
         adafactor.Adafactor,
         {'multiply_by_parameter_scale': False, 'do_clipping': False},
         'full'),
        ('Adafactor(0.1, weight_decay_rate=0.1, weight_decay_n_steps=3)',
         adafactor.Adafactor,
         {'learning_rate': 0.1, 'weight_decay_rate': 0.1,
          'weight_decay_n_steps': 3}, 'full'),
        ('Adafactor(0.2, decay_rate=0.5, clipping_threshold=0.5, '
         'epsilon1=1e-3, epsilon2=0.5)', adafactor.Adafactor,
         {'learning_rate': 0.2, 'decay_rate': 0.5, 'clipping_threshold': 0.5,
          'epsilon1': 1e-3, 'epsilon2': 0.5}, 'full'),
        ('RMSProp()', rms_prop.RMSProp, {}, 'full'),
        ('RMSProp(0.01, gamma=0.5, eps=1e-3)', rms_prop.RMSProp,
         {'learning_rate': 0.01, 'gamma': 0.5, 'eps': 1e-3}, 'full'),
        ('RMSProp(0.01, clip_grad_norm=1.0)', rms_prop.RMSProp,
         {'learning_rate': 0.01, 'clip_grad_norm': 1.0}, 'full'),
        ('SM3()', sm3.SM3, {}, 'no_scalar'),
        ('SM3(momentum_type=HEAVY_BALL)', sm3.SM3,
         {'momentum_type': MT.HEAVY_BALL}, 'no_scalar'),
        ('SM3(momentum_type=NESTEROV)', sm3.SM3,
         {'momentum_type': MT.NESTEROV}, 'no_scalar'),
        ('SM3(momentum=0.0)', sm3.SM3, {'momentum': 0.0}, 'no_scalar'),
        ('SM3(0.05, second_moment_averaging=0.9, weight_decay=0.01)',
         sm3.SM3, {'learning_rate': 0.05, 'second_moment_averaging': 0.9,
                   'weight_decay': 0.01}, 'no_scalar'),
        ('SM3(momentum=0.5, second_moment_averaging=0.5, '
         'momentum_type=NESTEROV)', sm3.SM3,
         {'momentum': 0.5, 'second_moment_averaging': 0.5,
          'momentum_type': MT.NESTEROV}, 'no_scalar'),
]


def make_inputs():
    rng = np.random.RandomState(0)
    weights = [np.asarray(0.5 * rng.randn(*s), np.float32) for s in SHAPES]
    grads = []
    for step in range(1, N_STEPS + 1):
        rng = np.random.RandomState(1000 + step)
        g = [np.asarray(scale * rng.randn(*s), np.float32)
             for s, scale in zip(SHAPES, GRAD_SCALES)]
        g[2][0, :] = 0
        g[3][0, :, 0] = 0
        grads.append(g)
    return weights, grads


def flat_row(arrays):
    parts = [np.asarray(np.asarray(a).astype(np.float32)).ravel()
             for a in arrays]
    return np.concatenate(parts) if parts else np.zeros([0], np.float32)


def defaults(cls):
    out = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if p.default is inspect.Parameter.empty:
            continue
        value = p.default
        if isinstance(value, MT):
            value = {'MomentumType': value.name, 'value': int(value)}
        out[name] = value
    return out


def jsonable_kwargs(kwargs):
    return {k: ({'MomentumType': v.name, 'value': int(v)}
                if isinstance(v, MT) else v) for k, v in kwargs.items()}


def run_case(cls, kwargs, tree, weights0, grads):
    opt = cls(**kwargs)
    weights = as_tree(weights0, tree)
    slots, opt_params = opt.tree_init(weights)
    record = {
            'opt_params': {k: {'value': float(np.asarray(v)),
                               'dtype': str(np.asarray(v).dtype)}
                           for k, v in opt_params.items()},
            'slot_layout_init': layout(slots),
            'metrics': [],
    }
    # Copied at once: SM3 updates its accumulator lists in place.
    w_rows = [flat_row(jax.tree_util.tree_leaves(weights))]
    s_rows = [flat_row(slot_arrays(slots))]
    for step in range(1, N_STEPS + 1):
        g = as_tree(grads[step - 1], tree)
        weights, slots, metrics = opt.tree_update(
                step, g, weights, slots, opt_params)
        w_rows.append(flat_row(jax.tree_util.tree_leaves(weights)))
        s_rows.append(flat_row(slot_arrays(slots)))
        record['metrics'].append({k: float(np.asarray(v))
                                  for k, v in metrics.items()})
        for w in jax.tree_util.tree_leaves(weights):
            assert w.dtype == np.float32
    record['slot_layout_after'] = layout(slots)
    return record, np.stack(w_rows), np.stack(s_rows)


def sm3_scalar():
    opt = sm3.SM3()
    w = np.float32(0.5) * np.ones((), np.float32)
    slots, opt_params = opt.tree_init((w,))
    try:
        opt.tree_update(1, (w,), (w,), slots, opt_params)
    except Exception as e:  # pylint: disable=broad-except
        return {'slot_layout_init': layout(slots),
                'error': type(e).__name__, 'message': str(e)}
    return {'slot_layout_init': layout(slots), 'error': None}


def write_npz(path, arrays):
    """An .npz np.load reads, without the writer's timestamps."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(name + '.npy',
                                   date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue(), compresslevel=9)


def write_json_gz(path, obj):
    text = json.dumps(obj, indent=1, sort_keys=False) + '\n'
    with open(path, 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0,
                           compresslevel=9) as f:
            f.write(text.encode('utf-8'))


def main():
    assert not jax.config.jax_enable_x64
    weights0, grads = make_inputs()
    arrays = {
            'inputs.weights': flat_row(weights0)[None],
            'inputs.grads': np.stack([flat_row(g) for g in grads]),
    }
    cases = []
    for name, cls, kwargs, tree in CASES:
        record, w_rows, s_rows = run_case(cls, kwargs, tree, weights0, grads)
        arrays[name + '.weights'] = w_rows
        arrays[name + '.slots'] = s_rows
        cases.append(dict(name=name, cls=cls.__name__,
                          kwargs=jsonable_kwargs(kwargs), tree=tree,
                          **record))
        print(f'[generate_optimizers] {name}: weights {w_rows.shape}, '
              f'slots {s_rows.shape}')
    data = {
            'env': {'trax_commit': oracle_common.trax_commit(),
                    'python': platform.python_version(),
                    'jax': jax.__version__,
                    'jaxlib': jaxlib.__version__,
                    'numpy': np.__version__,
                    'backend': jax.default_backend(),
                    'jax_enable_x64': bool(jax.config.jax_enable_x64)},
            'recipe': {'shapes': [list(s) for s in SHAPES],
                       'grad_scales': GRAD_SCALES, 'n_steps': N_STEPS,
                       'weights_seed': 0, 'grads_seed': '1000 + step',
                       'zeroed_grads': ['c[0, :]', 'd[0, :, 0]'],
                       'trees': {'full': '(a, (b, c), d)',
                                 'no_scalar': '((b, c), d)'}},
            'class_defaults': {c.__name__: defaults(c) for c in
                               (adafactor.Adafactor, rms_prop.RMSProp,
                                sm3.SM3)},
            'momentum_type': {m.name: int(m) for m in MT},
            'sm3_scalar': sm3_scalar(),
            'cases': cases,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    write_json_gz(OUT / 'optimizers.json.gz', data)
    write_npz(OUT / 'optimizers.npz', arrays)
    for p in sorted(OUT.iterdir()):
        print(f'[generate_optimizers] wrote {p.name}: '
              f'{p.stat().st_size} bytes')
    return 0


if __name__ == '__main__':
    sys.exit(main())
