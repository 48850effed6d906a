"""trax_compat.optimizers against real-Trax oracle data (init_and_step.*)."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.training import train_state

from conftest import load_oracle_json, oracle_npz
from trax_compat import optimizers

# Standalone runs were eager float32 calls in Trax; we match them bitwise.
ULPS = 2

CASES = {
        'Adam(0.01)': lambda: optimizers.Adam(0.01),
        'SGD(0.1)': lambda: optimizers.SGD(0.1),
        'Momentum(0.1)': lambda: optimizers.Momentum(0.1),
        'Momentum(0.1, nesterov=False)':
                lambda: optimizers.Momentum(0.1, nesterov=False),
        'Adam(0.01, clip_grad_norm=0.5)':
                lambda: optimizers.Adam(0.01, clip_grad_norm=0.5),
}


def assert_ulps(actual, expected, ulps=ULPS):
    actual = np.asarray(actual, np.float32)
    expected = np.asarray(expected, np.float32)
    assert actual.shape == expected.shape
    tol = ulps * np.spacing(np.maximum(np.abs(actual), np.abs(expected)))
    assert np.all(np.abs(actual - expected) <= tol), (actual, expected)


def as_tree(x):
    """Oracle JSON slots/weights -> tuples of arrays (None stays None)."""
    if x is None:
        return None
    if isinstance(x, dict):
        return np.asarray(x['data'], x['dtype'])
    return tuple(as_tree(e) for e in x)


def assert_tree_equal(actual, expected):
    if expected is None:
        assert actual is None
        return
    if isinstance(expected, tuple):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_tree_equal(a, e)
        return
    np.testing.assert_array_equal(np.asarray(actual), expected, strict=True)


@pytest.fixture(scope='module')
def oracle():
    return load_oracle_json('init_and_step.json')


@pytest.fixture(scope='module')
def npz():
    z = oracle_npz('init_and_step.npz')
    return {k: v for k, v in z.items() if not k.startswith(
            ('train_sample', 'eval_sample', 'step1_batch'))}


# -- class defaults ----------------------------------------------------------

def _defaults(cls):
    return {name: p.default
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_class_defaults_match_trax(oracle):
    expected = oracle['optimizers_standalone']['class_defaults']
    assert _defaults(optimizers.Adam) == expected['Adam']
    assert _defaults(optimizers.SGD) == expected['SGD']
    assert _defaults(optimizers.Momentum) == expected['Momentum']
    assert _defaults(optimizers.Optimizer) == expected['Optimizer(base)']
    assert optimizers.Momentum().nesterov is True


def test_opt_params_are_float32_like_trax(oracle):
    params = optimizers.Adam(0.01).opt_params
    expected = oracle['adam_opt_params']
    assert set(params) == set(expected)
    for name, value in expected.items():
        assert params[name].dtype == jnp.float32
        assert float(params[name]) == value


# -- standalone tree_init / tree_update (3 steps) ----------------------------

@pytest.mark.parametrize('case', list(CASES))
def test_standalone_three_steps(oracle, case):
    data = oracle['optimizers_standalone']
    record = next(c for c in data['cases'] if c['optimizer'] == case)
    opt = CASES[case]()
    weights = as_tree(data['init_weights'])
    slots, opt_params = opt.tree_init(weights)
    assert_tree_equal(slots, as_tree(record['slots_after_tree_init']))
    for name, value in record['opt_params'].items():
        assert float(opt_params[name]) == value
    for step_record in record['steps']:
        step = step_record['step']
        grads = as_tree(data['grads'][str(step)])
        weights, slots, metrics = opt.tree_update(
                step, grads, weights, slots, opt_params)
        assert_tree_equal(weights, as_tree(step_record['weights_after']))
        assert_tree_equal(slots, as_tree(step_record['slots_after']))
        assert opt.slots is slots
        for name, value in step_record['metrics'].items():
            assert_tree_equal(metrics[name], np.float32(value))


def test_standalone_slots_are_trax_shaped():
    w = (jnp.ones((3, 2)), jnp.ones((2,)))
    adam_slots, _ = optimizers.Adam(0.01).tree_init(w)
    assert isinstance(adam_slots, tuple) and len(adam_slots) == 2
    assert [s[0].shape for s in adam_slots] == [(3, 2), (2,)]
    assert optimizers.SGD(0.1).tree_init(w)[0] == (None, None)
    assert [s.shape for s in optimizers.Momentum().tree_init(w)[0]] == [
            (3, 2), (2,)]


# -- the Loop's first Adam step, bitwise -------------------------------------

def _loop_step_trees(npz):
    rows = npz['after.embedding_touched_row_ids']
    # A few rows the batch did not touch: zero gradient, decay only.
    untouched = np.setdiff1d(np.arange(64), rows)[:8]
    params = {
            'dense_b': npz['init.dense_b'],
            'dense_w': npz['init.dense_w'],
            'emb': npz['init.embedding'][rows],
            'emb_untouched': npz['init.embedding'][untouched],
    }
    grads = {
            'dense_b': npz['grad.dense_b'],
            'dense_w': npz['grad.dense_w'],
            'emb': npz['grad.embedding_touched_rows'],
            'emb_untouched': np.zeros_like(params['emb_untouched']),
    }
    decayed = np.float32(1 - 1e-5) * params['emb_untouched']
    after = {'dense_b': npz['after.dense_b'], 'dense_w': npz['after.dense_w'],
             'emb': npz['after.embedding_touched_rows'],
             'emb_untouched': decayed}
    zeros = np.zeros_like(params['emb_untouched'])
    m = {'dense_b': npz['adam.m.dense_b'], 'dense_w': npz['adam.m.dense_w'],
         'emb': npz['adam.m.embedding_touched_rows'], 'emb_untouched': zeros}
    v = {'dense_b': npz['adam.v.dense_b'], 'dense_w': npz['adam.v.dense_w'],
         'emb': npz['adam.v.embedding_touched_rows'], 'emb_untouched': zeros}
    to_jnp = lambda t: jax.tree.map(jnp.asarray, t)
    return to_jnp(params), to_jnp(grads), after, m, v


def _assert_bitwise(actual, expected):
    for name, value in expected.items():
        np.testing.assert_array_equal(np.asarray(actual[name]), value,
                                      err_msg=name, strict=True)


def test_loop_first_step_bitwise_with_train_state(npz):
    """Bitwise: jitted TrainState step with ``optimizers.apply_gradients``."""
    params, grads, after, m, v = _loop_step_trees(npz)
    opt = optimizers.Adam(0.01)
    state = train_state.TrainState.create(apply_fn=None, params=params,
                                          tx=opt)
    new = jax.jit(optimizers.apply_gradients)(state, grads)
    _assert_bitwise(new.params, after)
    _assert_bitwise(new.opt_state.m, m)
    _assert_bitwise(new.opt_state.v, v)
    assert int(new.step) == 1 and int(new.opt_state.count) == 1


def test_loop_first_step_params_plus_updates_path(npz):
    """``TrainState.apply_gradients`` (params + updates): within one ulp.

    Some entries cannot be bitwise on that path: when a weight changes sign
    (|new| much smaller than |old|) no float u gives fl(old + u) == new, and
    old + u lands within half an ulp of old instead. Every entry where
    new - old is exact (new, old within a factor of 2) is bitwise.
    """
    params, grads, after, m, v = _loop_step_trees(npz)
    opt = optimizers.Adam(0.01)
    state = train_state.TrainState.create(apply_fn=None, params=params,
                                          tx=opt)
    new = jax.jit(lambda s, g: s.apply_gradients(grads=g))(state, grads)
    _assert_bitwise(new.opt_state.m, m)
    _assert_bitwise(new.opt_state.v, v)
    for name, expected in after.items():
        got = np.asarray(new.params[name])
        old = np.asarray(params[name])
        tol = np.spacing(np.maximum(np.abs(old), np.abs(expected)))
        assert np.all(np.abs(got - expected) <= tol), name
        # Where new and old are within a factor of 2, new - old is exact.
        sterbenz = (expected / 2 <= old) & (old <= 2 * expected)
        np.testing.assert_array_equal(got[sterbenz], expected[sterbenz])
    assert np.any(np.asarray(new.params['emb']) != after['emb'])


def test_loop_first_step_needs_jit(npz):
    """Only the jitted update is bitwise; eager is within one ulp.

    Inside ``jax.jit`` XLA on CPU contracts ``(1 - wd) * w - delta`` into one
    fused multiply-add, as it did in Trax's jitted Loop step. Eager dispatch
    runs one op at a time and rounds the product separately, which misses
    the Loop's weights by up to one ulp (of the larger of old and new
    weight). The slots have no such product-then-add and are bitwise both
    ways.
    """
    params, grads, after, m, v = _loop_step_trees(npz)
    names = sorted(params)
    opt = optimizers.Adam(0.01)

    def update(weights, grads):
        slots = tuple(opt.init_slot(w) for w in weights)
        return opt.tree_update(1, grads, weights, slots, opt.opt_params,
                               store_slots=False)[:2]

    args = (tuple(params[n] for n in names), tuple(grads[n] for n in names))
    jit_weights, jit_slots = jax.jit(update)(*args)
    eager_weights, eager_slots = update(*args)
    for i, name in enumerate(names):
        np.testing.assert_array_equal(np.asarray(jit_weights[i]),
                                      after[name], err_msg=name, strict=True)
        for slots in (jit_slots, eager_slots):
            np.testing.assert_array_equal(np.asarray(slots[i][0]), m[name],
                                          err_msg=name, strict=True)
            np.testing.assert_array_equal(np.asarray(slots[i][1]), v[name],
                                          err_msg=name, strict=True)
        got = np.asarray(eager_weights[i], np.float64)
        old = np.asarray(params[name])
        ulp = np.spacing(np.maximum(np.abs(old), np.abs(after[name])))
        assert np.all(np.abs(got - after[name]) <= ulp), name
    assert np.any(np.asarray(eager_weights[names.index('dense_w')])
                  != after['dense_w'])


# -- optax protocol ----------------------------------------------------------

def _tiny():
    params = {'b': jnp.array([0.1, -0.2]), 'w': jnp.array([[0.5, -1.0]])}
    grads = {'b': jnp.array([0.05, -0.05]), 'w': jnp.array([[0.1, -0.2]])}
    return params, grads


@pytest.mark.parametrize('make', [lambda: optimizers.Adam(0.01),
                                  lambda: optimizers.SGD(0.1),
                                  lambda: optimizers.Momentum(0.1)])
def test_is_gradient_transformation_and_matches_tree_update(make):
    opt = make()
    tx = opt.gradient_transformation
    assert isinstance(tx, optax.GradientTransformation)
    assert isinstance(opt.to_optax(), optax.GradientTransformation)
    params, grads = _tiny()
    state = tx.init(params)
    updates, state = jax.jit(tx.update)(grads, state, params)
    new = optax.apply_updates(params, updates)
    leaves, treedef = jax.tree_util.tree_flatten(params)
    slots, opt_params = opt.tree_init(params)
    expected, expected_slots, _ = opt.tree_update(
            1, grads, params, slots, opt_params)
    for a, e in zip(jax.tree_util.tree_leaves(new),
                    jax.tree_util.tree_leaves(expected)):
        assert_ulps(a, e, ulps=1)
    assert int(state.count) == 1
    # optax state <-> Trax slots round trip (checkpoint conversion).
    trax_slots = opt.slots_from_state(state, params)
    assert len(trax_slots) == treedef.num_leaves
    back = opt.state_from_slots(trax_slots, params, count=state.count)
    assert type(back) is type(state)
    for a, b in zip(jax.tree_util.tree_leaves(back),
                    jax.tree_util.tree_leaves(state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for a, b in zip(jax.tree_util.tree_leaves(trax_slots),
                    jax.tree_util.tree_leaves(expected_slots)):
        assert_ulps(a, b, ulps=1)


def test_adam_state_is_count_m_v():
    params, _ = _tiny()
    state = optimizers.Adam(0.01).init(params)
    assert isinstance(state, optimizers.AdamState)
    assert state._fields == ('count', 'm', 'v')
    assert int(state.count) == 0
    assert jax.tree_util.tree_structure(state.m) == \
        jax.tree_util.tree_structure(params)


def test_train_state_and_optax_chain():
    params, grads = _tiny()
    opt = optimizers.Adam(0.01)
    state = train_state.TrainState.create(apply_fn=None, params=params,
                                          tx=opt)
    step = jax.jit(lambda s, g: s.apply_gradients(grads=g))
    s1 = step(state, grads)
    s2 = step(s1, grads)
    assert int(s2.step) == 2 and int(s2.opt_state.count) == 2
    chained = optax.chain(optax.identity(), opt)
    cstate = train_state.TrainState.create(apply_fn=None, params=params,
                                           tx=chained)
    c2 = step(step(cstate, grads), grads)
    for a, b in zip(jax.tree_util.tree_leaves(c2.params),
                    jax.tree_util.tree_leaves(s2.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # Scaling the gradient first really changes Adam's clipped step size.
    clipped = optimizers.Adam(0.01, clip_grad_norm=1e-3)
    cs = train_state.TrainState.create(apply_fn=None, params=params,
                                       tx=clipped)
    assert np.any(np.asarray(step(cs, grads).opt_state.m['w'])
                  != np.asarray(s1.opt_state.m['w']))


def test_learning_rate_schedule_gets_trax_step():
    params, grads = _tiny()
    seen = []

    def schedule(step):
        seen.append(step)
        return jnp.where(step == 1, 0.01, 0.0)

    opt = optimizers.Adam(schedule)
    ref = optimizers.Adam(0.01)
    state = train_state.TrainState.create(apply_fn=None, params=params,
                                          tx=opt)
    ref_state = train_state.TrainState.create(apply_fn=None, params=params,
                                              tx=ref)
    s1 = jax.jit(optimizers.apply_gradients)(state, grads)
    r1 = jax.jit(optimizers.apply_gradients)(ref_state, grads)
    np.testing.assert_array_equal(np.asarray(s1.params['w']),
                                  np.asarray(r1.params['w']))
    # Step 2 has lr 0: only the (1 - wd) decay is applied.
    s2 = jax.jit(optimizers.apply_gradients)(s1, grads)
    decayed = np.float32(1 - 1e-5) * np.asarray(s1.params['w'])
    np.testing.assert_array_equal(np.asarray(s2.params['w']), decayed)
    assert seen[0] == 1  # called with Trax's first step at construction


def test_update_without_params_is_an_error():
    params, grads = _tiny()
    opt = optimizers.Adam(0.01)
    with pytest.raises(ValueError):
        opt.update(grads, opt.init(params))
