"""Adafactor, RMSProp and SM3 against real Trax (trax_oracle/optimizers/).

The oracle (see tests/testdata/README.md and generate_optimizers.py) holds
Trax's constructor defaults, ``opt_params``, slot layouts and five eager
``tree_update`` steps per case on a tree of (), (3,), (4, 5), (2, 3, 4)
weights.

Precision: cases whose update is elementwise (RMSProp, SM3 without
grafting) match Trax bitwise. Means and norms (Adafactor, SM3's grafting,
gradient clipping) sum in a different order under current XLA than under
Trax's jax 0.4.34, an ulp or two apart, more where later steps cancel; they
are checked to 1e-6 of each array's largest magnitude (the worst seen is
about 3e-7). The jitted optax path differs from the eager one by XLA's
fused multiply-adds, checked to the same bound against both.
"""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.training import train_state

from conftest import load_oracle_json, oracle_npz
from tests.testdata.optimizer_slots import as_tree, layout, slot_arrays
from trax_compat import optimizers

ORACLE_JSON = 'optimizers/optimizers.json'
ORACLE_NPZ = 'optimizers/optimizers.npz'
RTOL = 1e-6

ORACLE = load_oracle_json(ORACLE_JSON)
CASES = {c['name']: c for c in ORACLE['cases']}
N_STEPS = ORACLE['recipe']['n_steps']
SHAPES = [tuple(s) for s in ORACLE['recipe']['shapes']]

# No float sums in these updates: Trax's numbers exactly.
BITWISE = [name for name, c in CASES.items()
           if (c['cls'] == 'RMSProp' and 'clip_grad_norm' not in c['kwargs'])
           or (c['cls'] == 'SM3'
               and c['kwargs'].get('second_moment_averaging', 1.0) == 1.0)]


# -- oracle helpers ----------------------------------------------------------

@pytest.fixture(scope='module')
def npz():
    return oracle_npz(ORACLE_NPZ)


def split(row, shapes):
    out, start = [], 0
    for shape in shapes:
        n = int(np.prod(shape, dtype=np.int64))
        out.append(row[start:start + n].reshape(shape))
        start += n
    assert start == row.size
    return out


def inputs(npz, tree):
    weights = split(npz['inputs.weights'][0], SHAPES)
    grads = [as_tree(split(row, SHAPES), tree) for row in npz['inputs.grads']]
    return as_tree(weights, tree), grads


def build_slots(lay, row):
    """Trax's slots from a layout and a packed oracle row."""
    flat = iter(split(row, [tuple(a['shape']) for a in arrays_in(lay)]))

    def build(node):
        if node is None:
            return None
        if 'tuple' in node:
            return tuple(build(e) for e in node['tuple'])
        if 'list' in node:
            return [build(e) for e in node['list']]
        return jnp.asarray(next(flat).astype(jnp.dtype(node['dtype'])))

    return build(lay)


def arrays_in(lay):
    if lay is None:
        return []
    if 'tuple' in lay or 'list' in lay:
        return [a for e in lay.get('tuple', lay.get('list')) for a in
                arrays_in(e)]
    return [lay]


def oracle_step(case, npz, step, tree_of):
    """Trax's weights (a tree like ``tree_of``) and slots after ``step``."""
    leaves, treedef = jax.tree_util.tree_flatten(tree_of)
    weights = split(npz[case['name'] + '.weights'][step],
                    [x.shape for x in leaves])
    slots = build_slots(case['slot_layout_after'],
                        npz[case['name'] + '.slots'][step])
    return jax.tree_util.tree_unflatten(treedef, weights), slots


def make(case):
    kwargs = {k: (optimizers.MomentumType(v['value']) if isinstance(v, dict)
                  else v) for k, v in case['kwargs'].items()}
    return getattr(optimizers, case['cls'])(**kwargs)


def assert_close(actual, expected, bitwise, what):
    """Each array within RTOL of its largest magnitude (or bitwise)."""
    assert layout(actual) == layout(expected), what
    a_leaves = [np.asarray(x).astype(np.float32)
                for x in jax.tree_util.tree_leaves(actual)]
    e_leaves = [np.asarray(x).astype(np.float32)
                for x in jax.tree_util.tree_leaves(expected)]
    assert len(a_leaves) == len(e_leaves), what
    for i, (a, e) in enumerate(zip(a_leaves, e_leaves)):
        if bitwise:
            np.testing.assert_array_equal(a, e, err_msg=f'{what} leaf {i}')
        else:
            scale = max(float(np.max(np.abs(e), initial=0.0)), 1e-30)
            err = float(np.max(np.abs(a - e), initial=0.0))
            assert err <= RTOL * scale, (
                    f'{what} leaf {i}: max error {err:.3g} > '
                    f'{RTOL} * {scale:.3g}')


def eager_run(case, npz):
    """Our eager tree_update for every step: [(weights, slots, metrics)],
    the initial values first (metrics None)."""
    opt = make(case)
    weights, grads = inputs(npz, case['tree'])
    slots, opt_params = opt.tree_init(weights)
    out = [(weights, slots, None)]
    for step in range(1, N_STEPS + 1):
        weights, slots, metrics = opt.tree_update(
                step, grads[step - 1], weights, slots, opt_params)
        out.append((weights, slots, metrics))
    return out


_EAGER = {}


def eager(case, npz):
    if case['name'] not in _EAGER:
        _EAGER[case['name']] = eager_run(case, npz)
    return _EAGER[case['name']]


_JITTED = {}


def jitted_apply(case):
    """One optimizer and its jitted ``apply`` per case (compiled once)."""
    if case['name'] not in _JITTED:
        opt = make(case)
        _JITTED[case['name']] = opt, jax.jit(opt.apply)
    return _JITTED[case['name']]


# -- constructors, opt_params, layout ----------------------------------------

def _defaults(cls):
    out = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if p.default is inspect.Parameter.empty:
            continue
        value = p.default
        if isinstance(value, optimizers.MomentumType):
            value = {'MomentumType': value.name, 'value': int(value)}
        out[name] = value
    return out


@pytest.mark.parametrize('cls', ['Adafactor', 'RMSProp', 'SM3'])
def test_constructor_defaults_match_trax(cls):
    ours = _defaults(getattr(optimizers, cls))
    expected = ORACLE['class_defaults'][cls]
    assert list(ours) == list(expected)  # Same order: positional calls work.
    assert ours == expected


def test_momentum_type_matches_trax():
    assert {m.name: int(m) for m in optimizers.MomentumType} == (
            ORACLE['momentum_type'])
    assert optimizers.sm3.MomentumType is optimizers.MomentumType


@pytest.mark.parametrize('name', list(CASES))
def test_opt_params_match_trax(name):
    case = CASES[name]
    _, opt_params = make(case).tree_init(as_tree(
            [np.zeros(s, np.float32) for s in SHAPES], case['tree']))
    ours = {k: {'value': float(np.asarray(v)),
                'dtype': str(np.asarray(v).dtype)}
            for k, v in opt_params.items()}
    assert ours == case['opt_params']


@pytest.mark.parametrize('name', list(CASES))
def test_tree_init_layout_and_values_match_trax(name, npz):
    case = CASES[name]
    weights, _ = inputs(npz, case['tree'])
    opt = make(case)
    slots, _ = opt.tree_init(weights)
    assert layout(slots) == case['slot_layout_init']
    assert opt.slots is slots
    expected = build_slots(case['slot_layout_init'], npz[name + '.slots'][0])
    assert_close(slots, expected, True, 'initial slots')


def test_sm3_scalar_weight_fails_like_trax():
    expected = ORACLE['sm3_scalar']
    assert expected['error'] == 'IndexError'  # What Trax raised.
    opt = optimizers.SM3()
    w = jnp.asarray(0.5, jnp.float32)
    slots, opt_params = opt.tree_init((w,))
    assert layout(slots) == expected['slot_layout_init']
    with pytest.raises(ValueError, match='rank 1 or more'):
        opt.tree_update(1, (w,), (w,), slots, opt_params)


# -- eager updates -----------------------------------------------------------

@pytest.mark.parametrize('name', list(CASES))
def test_eager_tree_update_matches_trax(name, npz):
    case = CASES[name]
    runs = eager(case, npz)
    for step in range(1, N_STEPS + 1):
        weights, slots, metrics = runs[step]
        exp_w, exp_s = oracle_step(case, npz, step, weights)
        assert layout(slots) == case['slot_layout_after']
        what = f'{name} step {step}'
        assert_close(weights, exp_w, name in BITWISE, what + ' weights')
        assert_close(slots, exp_s, name in BITWISE, what + ' slots')
        # Gradient and weight norms (summed in leaf order, as Trax).
        for key, value in case['metrics'][step - 1].items():
            np.testing.assert_allclose(float(metrics[key]), value, rtol=RTOL)


def test_bitwise_cases_cover_each_elementwise_rule():
    assert {CASES[n]['cls'] for n in BITWISE} == {'RMSProp', 'SM3'}
    assert len(BITWISE) == 6


# -- the optax path under jit ------------------------------------------------

# Each jitted case costs a compilation (about a second), so a few that
# cover the code paths: factored and unfactored leaves, bfloat16 momentum,
# the step-dependent decay schedules, gradient clipping, SM3's sketched and
# diagonal rules with momentum and grafting.
JIT_CASES = [
        'Adafactor()',
        'Adafactor(do_momentum=True, momentum_in_bfloat16=True, beta1=0.9)',
        'Adafactor(0.1, weight_decay_rate=0.1, weight_decay_n_steps=3)',
        'RMSProp(0.01, clip_grad_norm=1.0)',
        'SM3(momentum=0.5, second_moment_averaging=0.5, '
        'momentum_type=NESTEROV)',
]


@pytest.mark.parametrize('name', JIT_CASES)
def test_jitted_apply_matches_eager_and_trax(name, npz):
    case = CASES[name]
    opt, apply = jitted_apply(case)
    params, grads = inputs(npz, case['tree'])
    state = opt.init(params)
    runs = eager(case, npz)
    for step in range(1, N_STEPS + 1):
        params, state = apply(grads[step - 1], state, params)
        assert int(state.count) == step
        slots = opt.slots_from_state(state, params)
        what = f'{name} jitted step {step}'
        assert_close(params, runs[step][0], False, what + ' vs eager weights')
        assert_close(slots, runs[step][1], False, what + ' vs eager slots')
        exp_w, exp_s = oracle_step(case, npz, step, params)
        assert_close(params, exp_w, False, what + ' vs Trax weights')
        assert_close(slots, exp_s, False, what + ' vs Trax slots')


def test_apply_gradients_on_train_state_matches_eager(npz):
    # The richest state: factored, unfactored and bfloat16 momentum slots.
    name = 'Adafactor(do_momentum=True, momentum_in_bfloat16=True, beta1=0.9)'
    case = CASES[name]
    opt = make(case)
    params, grads = inputs(npz, case['tree'])
    state = train_state.TrainState.create(apply_fn=None, params=params, tx=opt)
    step_fn = jax.jit(optimizers.apply_gradients)
    runs = eager(case, npz)
    for step in range(1, N_STEPS + 1):
        state = step_fn(state, grads[step - 1])
        assert int(state.step) == step
        what = f'{name} TrainState step {step}'
        assert_close(state.params, runs[step][0], False, what + ' weights')
        assert_close(opt.slots_from_state(state.opt_state, state.params),
                     runs[step][1], False, what + ' slots')


# -- optax state <-> Trax slots ----------------------------------------------

@pytest.mark.parametrize('name', list(CASES))
def test_trax_slots_round_trip(name, npz):
    """Trax's slots of every step into an optax state and back, unchanged."""
    case = CASES[name]
    opt = make(case)
    params, _ = inputs(npz, case['tree'])
    for step in range(N_STEPS + 1):
        params, slots = oracle_step(case, npz, step, params)
        state = opt.state_from_slots(slots, params, count=step)
        assert int(state.count) == step
        back = opt.slots_from_state(state, params)
        assert isinstance(back, tuple)
        assert layout(back) == case['slot_layout_after']
        assert_close(back, slots, True, f'round trip of step {step}')


@pytest.mark.parametrize('name', JIT_CASES)
def test_resume_from_trax_slots(name, npz):
    """From Trax's step-2 weights and slots, three more (jitted) updates
    land on Trax's steps 3..5 (the step number follows the count)."""
    case = CASES[name]
    opt, apply = jitted_apply(case)
    params, grads = inputs(npz, case['tree'])
    params, slots = oracle_step(case, npz, 2, params)
    state = opt.state_from_slots(slots, params, count=2)
    for step in range(3, N_STEPS + 1):
        params, state = apply(grads[step - 1], state, params)
        exp_w, exp_s = oracle_step(case, npz, step, params)
        what = f'{name} resumed step {step}'
        assert_close(params, exp_w, False, what + ' weights')
        assert_close(opt.slots_from_state(state, params), exp_s, False,
                     what + ' slots')


def test_optax_states_name_trax_slots(npz):
    params, _ = inputs(npz, 'full')
    scalar, (vec, mat), cube = params

    state = optimizers.Adafactor(do_momentum=True).init(params)
    assert isinstance(state, optimizers.AdafactorState)
    assert state.v_row[1][1].shape == (4,) and state.v_col[2].shape == (2, 4)
    assert state.v[0].shape == () and state.v_row[0] is None
    assert state.v[1][1] is None
    assert state.m[2].shape == cube.shape
    assert optimizers.Adafactor().init(params).m == (None, (None, None), None)

    sm3_params = ((vec, mat), cube)
    state = optimizers.SM3().init(sm3_params)
    assert isinstance(state, optimizers.SM3State)
    assert [v.shape for v in state.v1[1]] == [(2,), (3,), (4,)]
    assert state.v2 == (([], []), [])
    assert optimizers.SM3(momentum=0.0).init(sm3_params).momentum == (
            ([], []), [])

    state = optimizers.RMSProp().init(params)
    assert isinstance(state, optimizers.RMSPropState)
    np.testing.assert_array_equal(state.avg_sq_grad[2], np.ones(cube.shape))
