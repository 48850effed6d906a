"""trainer_lib.train and the gin trainer command: a gin config trains the
same model, with the same weights, as the Loop built by hand."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

gin = pytest.importorskip("gin")

import jax  # noqa: E402

from trax_compat import gin_registry  # noqa: E402
from trax_compat import layers as tl  # noqa: E402
from trax_compat import optimizers  # noqa: E402
from trax_compat.supervised import lr_schedules  # noqa: E402
from trax_compat.supervised import trainer_lib  # noqa: E402
from trax_compat.supervised import training  # noqa: E402

from conftest import REPO  # noqa: E402

VOCAB, BATCH, LENGTH = 7, 3, 5


def tiny_model(mode="train"):
    del mode
    return tl.Serial(tl.Embedding(VOCAB, 4), tl.Dense(VOCAB), tl.LogSoftmax())


def _stream(seed):
    rng = np.random.default_rng(seed)
    while True:
        x = rng.integers(1, VOCAB, size=(BATCH, LENGTH)).astype(np.int32)
        yield x, x, np.ones((BATCH, LENGTH), np.float32)


class TinyInputs:
    """What trainer_lib needs of trax.data.Inputs."""

    def train_stream(self, n_devices):
        assert n_devices == 1
        return _stream(1)

    def eval_stream(self, n_devices):
        assert n_devices == 1
        return _stream(2)


def tiny_inputs():
    return TinyInputs()


gin.external_configurable(tiny_model, name="tiny_model")
gin.external_configurable(tiny_inputs, name="tiny_inputs")

CONFIG = """
train.model = @tiny_model
train.inputs = @tiny_inputs
train.optimizer = @trax.optimizers.Adam
train.steps = 5
train.eval_frequency = 2
train.eval_steps = 1
train.random_seed = 3
Adam.weight_decay_rate = 0.0
multifactor.constant = 0.05
multifactor.factors = 'constant'
"""


@pytest.fixture(autouse=True)
def _clear_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def _by_hand(output_dir, steps):
    """The same run written out with TrainTask, EvalTask and Loop."""
    metrics = trainer_lib._default_metrics()  # pylint: disable=protected-access
    task = training.TrainTask(
        _stream(1), tl.WeightedCategoryCrossEntropy(),
        optimizers.Adam(weight_decay_rate=0.0),
        lr_schedule=lr_schedules.multifactor(constant=0.05,
                                             factors="constant"),
        n_steps_per_checkpoint=2)
    eval_task = training.EvalTask(_stream(2), list(metrics.values()),
                                  metric_names=list(metrics),
                                  n_eval_batches=1)
    loop = training.Loop(tiny_model("train"), [task],
                         eval_model=tiny_model("eval"), eval_tasks=[eval_task],
                         output_dir=output_dir, random_seed=3)
    loop.run(steps)
    return loop


def test_a_gin_config_trains_as_the_loop_built_by_hand(tmp_path, capsys):
    gin.parse_config(CONFIG)
    train = gin_registry.configurable(trainer_lib.train)
    loop = train(output_dir=str(tmp_path / "gin"))
    assert loop.step == 5
    expected = _by_hand(str(tmp_path / "hand"), 5)
    for ours, theirs in zip(jax.tree_util.tree_leaves(loop.model.weights),
                            jax.tree_util.tree_leaves(expected.model.weights)):
        np.testing.assert_array_equal(ours, theirs)
    history = loop.history
    assert history.get("train", "training/learning_rate")[0] == (1, 0.05)
    # Evals at step 1 and every eval_frequency steps, as Trax's Loop.
    assert [s for s, _ in history.get("eval", "metrics/accuracy")] == [
        1, 2, 4]
    assert set(history.modes) == {"train", "eval"}
    # The operative config, as Trax writes it after the first step.
    config = (tmp_path / "gin" / "config.gin").read_text()
    assert "multifactor.constant = 0.05" in config
    assert "train.steps = 5" in config
    capsys.readouterr()


def test_a_second_call_resumes_and_stops_at_steps(tmp_path, capsys):
    gin.parse_config(CONFIG + "train.steps = 4\n")
    train = gin_registry.configurable(trainer_lib.train)
    out = str(tmp_path / "run")
    assert train(output_dir=out).step == 4  # checkpointed at 2 and 4
    capsys.readouterr()
    assert train(output_dir=out).step == 4
    assert "Stop training, already reached the total training steps 4" in (
        capsys.readouterr().out)
    gin.parse_config("train.steps = 6")
    resumed = train(output_dir=out)
    assert resumed.step == 6
    # It went on from step 4: only steps 5 and 6 were run this time.
    assert "Step      6: Ran 2 train steps" in capsys.readouterr().out


def test_clear_errors_for_what_is_not_here():
    with pytest.raises(ValueError, match="needs a model"):
        trainer_lib.train("/nonexistent")
    with pytest.raises(NotImplementedError, match="use_loop"):
        trainer_lib.train("/nonexistent", model=tiny_model, use_loop=False)


def test_epochs_skips_the_steps_done_and_stops_at_the_total():
    def run(total, skip, steps):
        return list(trainer_lib.epochs(total, skip, steps))
    assert run(10, 0, [1, 4, 5, 5]) == [1, 4, 5]
    assert run(10, 3, [1, 4, 5, 5]) == [2, 5]
    assert run(10, 5, [1, 4, 5, 5]) == [5]
    assert run(7, 0, [3, 3, 3]) == [3, 3, 1]


def _trainer(tmp_path, *args):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO)]))
    return subprocess.run([sys.executable, "-m", "trax_compat.trainer",
                           *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_trainer_command_runs_a_config_file(tmp_path):
    # The task lives in a module the config imports, as Trax configs do.
    (tmp_path / "tiny_gin_task.py").write_text(textwrap.dedent(f"""
        import gin
        import sys
        sys.path.insert(0, {str(REPO / 'tests')!r})
        from test_trainer_lib import tiny_model, tiny_inputs  # registers
    """))
    config = tmp_path / "tiny.gin"
    config.write_text("import tiny_gin_task\nimport trax.optimizers\n"
                      + CONFIG)
    result = _trainer(tmp_path, f"--config_file={config}",
                      "--config=train.steps = 4",
                      f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr
    assert "Step      4: Ran 2 train steps" in result.stdout
    assert result.stdout.rstrip().endswith("Finished training.")
    assert "train.steps = 4" in (tmp_path / "out" / "config.gin").read_text()


def test_the_trainer_command_names_bad_configs(tmp_path):
    bad = tmp_path / "bad.gin"
    bad.write_text("train.steps = 3\nPolicy.body = 4\n")
    result = _trainer(tmp_path, f"--config_file={bad}",
                      f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad.gin" in result.stderr and "line 2" in result.stderr
    assert "trax.models.Policy is a Trax configurable" in result.stderr
    missing = _trainer(tmp_path, "--config_file=nope.gin")
    assert missing.returncode == 2
    assert "--config_file nope.gin: no such file" in missing.stderr
