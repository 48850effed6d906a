"""The Loop's step is ``value_and_grad`` over the model's ``pure_fn``: the
same gradients as the model written in JAX, one compilation per task, and the
model's layer state carried by ``TrainState`` through checkpoints, a kill -9
and a resume."""

import contextlib
import io
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np

import trax_compat as trax
from trax_compat import layers as tl
from trax_compat.supervised import checkpoints
from trax_compat.supervised import steps
from trax_compat.supervised import training
from tests.conftest import REPO, float_batches


def test_gradients_equal_the_seed_model_written_in_jax():
    model = tl.Serial(tl.Embedding(8192, 256), tl.Mean(axis=1), tl.Dense(2),
                      tl.LogSoftmax())
    loss_layer = tl.WeightedCategoryCrossEntropy()
    rng = np.random.RandomState(0)
    ids = rng.randint(1, 8192, size=(10, 12)).astype(np.int64)
    batch = (ids, rng.randint(0, 2, size=10).astype(np.int64),
             np.ones(10, np.float32))
    model.init(trax.shapes.signature(ids), rng=trax.fastmath.random.get_prng(0))
    params = model.params

    def through_pure_fn(params):
        (loss,), _ = steps.model_then(model, [loss_layer], params, {}, batch,
                                      None)
        return loss

    def by_hand(params):
        table = params["layers_0"]["embedding"]
        dense = params["layers_2"]
        x = jnp.mean(jnp.take(table, jnp.asarray(ids), axis=0, mode="clip"),
                     axis=1)
        logits = jnp.dot(x, dense["kernel"]) + dense["bias"]
        log_probs = logits - jax.scipy.special.logsumexp(logits, axis=-1,
                                                         keepdims=True)
        one_hot = jnp.asarray(batch[1][:, None] == jnp.arange(2),
                              jnp.float32)
        cross_entropy = -jnp.sum(one_hot * log_probs, axis=-1)
        return jnp.sum(cross_entropy * batch[2]) / jnp.sum(batch[2])

    loss_a, grads_a = jax.jit(jax.value_and_grad(through_pure_fn))(params)
    loss_b, grads_b = jax.jit(jax.value_and_grad(by_hand))(params)
    # XLA may fuse the two programs differently: an ulp apart at most. (The
    # seed tutorial's oracle tests hold the Loop to Trax's own numbers.)
    np.testing.assert_allclose(loss_a, loss_b, rtol=2e-7)
    assert jax.tree_util.tree_structure(grads_a) == (
        jax.tree_util.tree_structure(grads_b))
    for a, b in zip(jax.tree_util.tree_leaves(grads_a),
                    jax.tree_util.tree_leaves(grads_b)):
        np.testing.assert_allclose(a, b, rtol=1e-6,
                                   atol=1e-6 * np.abs(b).max())
    assert np.abs(grads_a["layers_2"]["kernel"]).max() > 0


class Counter(tl.Layer):
    """Identity whose state counts the batches it has seen."""

    def init_weights_and_state(self, input_signature):
        del input_signature
        self.state = jnp.zeros((), jnp.int32)

    def forward(self, x):
        self.state = self.state + 1
        return x


def test_each_task_compiles_its_step_once_and_shares_the_state():
    model = tl.Serial(tl.Dense(2), Counter(), tl.LogSoftmax())
    tasks = [training.TrainTask(float_batches(seed=s),
                                tl.WeightedCategoryCrossEntropy(),
                                trax.optimizers.Adam(0.01))
             for s in (0, 1)]
    evals = training.EvalTask(float_batches(seed=2),
                              [tl.WeightedCategoryAccuracy()],
                              n_eval_batches=2)
    with contextlib.redirect_stdout(io.StringIO()):
        loop = training.Loop(model, tasks, eval_tasks=[evals],
                             eval_at=lambda step: step % 3 == 0,
                             output_dir=None, random_seed=0)
        loop.run(9)
        # pylint: disable=protected-access
        # Per task, one program for logged steps (which add the optimizer's
        # norms) and the others alike; no more as it runs.
        sizes = [f._cache_size() for f in loop._train_steps]
        assert sizes == [1, 1]
        loop.run(9)
    assert [f._cache_size() for f in loop._train_steps] == sizes
    assert loop._eval_fns[0]._cache_size() == 1
    # Both tasks train one model: the counter saw all 18 training batches;
    # evaluation leaves the state alone, as in Trax.
    assert int(loop.model.state[1]) == 18


_SCRIPT = textwrap.dedent("""
    import sys
    import time

    import jax.numpy as jnp
    import numpy as np

    import trax_compat as trax
    from trax_compat import layers as tl
    from trax_compat.supervised import training


    class BatchMeanSum(tl.Layer):
        def init_weights_and_state(self, input_signature):
            self.state = jnp.zeros(input_signature.shape[-1], jnp.float32)

        def forward(self, x):
            self.state = self.state + jnp.mean(x, axis=0)
            return x


    def batches(delay):
        rng = np.random.RandomState(0)
        while True:
            time.sleep(delay)  # Slow enough to be killed mid-run.
            x = rng.randn(4, 3).astype(np.float32)
            yield x, (x[:, 0] > 0).astype(np.int64), np.ones(4, np.float32)


    output_dir, total, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    task = training.TrainTask(batches(delay), tl.WeightedCategoryCrossEntropy(),
                              trax.optimizers.Adam(0.01),
                              n_steps_per_checkpoint=5)
    loop = training.Loop(
        tl.Serial(tl.Dense(3), BatchMeanSum(), tl.Dense(2), tl.LogSoftmax()),
        task, output_dir=output_dir, random_seed=0, resume_streams="replay")
    loop.run(total - loop.step)
    loop.close()
""")


def test_layer_state_survives_kill_9_and_resume_bitwise(tmp_path):
    script = tmp_path / "stateful_job.py"
    script.write_text(_SCRIPT)
    total = 40

    def command(out, delay):
        return [sys.executable, str(script), str(out), str(total), str(delay)]

    whole = tmp_path / "whole"
    subprocess.run(command(whole, 0), cwd=REPO, check=True,
                   capture_output=True, timeout=300)

    split = tmp_path / "split"
    proc = subprocess.Popen(command(split, 0.05), cwd=REPO,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    ckpt_dir = str(split / "checkpoints")
    while time.time() < deadline and proc.poll() is None:
        committed = (checkpoints.committed_steps(ckpt_dir)
                     if (split / "checkpoints").exists() else [])
        if committed and committed[-1] >= 15:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the job ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = checkpoints.committed_steps(ckpt_dir)[-1]
    assert killed_at < total
    subprocess.run(command(split, 0), cwd=REPO, check=True,
                   capture_output=True, timeout=300)

    (params_a, state_a) = checkpoints.load_model_params(str(whole))
    (params_b, state_b) = checkpoints.load_model_params(str(split))
    state_a = state_a["layers_1"]["state"]
    state_b = state_b["layers_1"]["state"]
    np.testing.assert_array_equal(state_a, state_b)
    assert np.abs(state_a).max() > 0
    for a, b in zip(jax.tree_util.tree_leaves(params_a),
                    jax.tree_util.tree_leaves(params_b)):
        np.testing.assert_array_equal(a, b)
