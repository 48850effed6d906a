"""The Loop's default persistent compilation cache: where it goes, and
that a cache the user configured (or switched off) is left alone."""

import os

import jax
import pytest

from trax_compat.supervised import compile_cache

HOME_DEFAULT = os.path.join(os.path.expanduser("~"), ".cache", "trax_compat",
                            "jax")


def test_default_folder_and_the_cache_dir_variable():
    assert compile_cache.choose_cache_dir({}, None) == HOME_DEFAULT
    assert compile_cache.choose_cache_dir(
        {"TRAX_COMPAT_CACHE_DIR": "/data/tc"}, None) == os.path.join(
            "/data/tc", "jax")
    # An empty variable counts as unset.
    assert compile_cache.choose_cache_dir(
        {"TRAX_COMPAT_CACHE_DIR": ""}, "") == HOME_DEFAULT


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no", " off "])
def test_opt_out(value):
    env = {"TRAX_COMPAT_COMPILATION_CACHE": value,
           "TRAX_COMPAT_CACHE_DIR": "/data/tc"}
    assert compile_cache.choose_cache_dir(env, None) is None


def test_other_switch_values_keep_the_default():
    env = {"TRAX_COMPAT_COMPILATION_CACHE": "on"}
    assert compile_cache.choose_cache_dir(env, None) == HOME_DEFAULT


def test_a_configured_or_disabled_cache_is_never_overridden():
    env = {"TRAX_COMPAT_CACHE_DIR": "/data/tc"}
    assert compile_cache.choose_cache_dir(env, "/mine") is None
    assert compile_cache.choose_cache_dir(env, None,
                                          jax_cache_enabled=False) is None


@pytest.fixture
def jax_cache_config():
    keys = ("jax_compilation_cache_dir",
            "jax_persistent_cache_min_compile_time_secs")
    saved = {k: getattr(jax.config, k) for k in keys}
    jax.config.update("jax_compilation_cache_dir", None)
    yield
    for k, v in saved.items():
        jax.config.update(k, v)
    # JAX keeps the cache it opened at the first compile; later tests in
    # this process must not write into this test's folder.
    from jax._src import compilation_cache as jax_cc  # pylint: disable=g-import-not-at-top
    jax_cc.reset_cache()


def test_enable_default_sets_jax_config_once(tmp_path, jax_cache_config):
    del jax_cache_config
    env = {"TRAX_COMPAT_CACHE_DIR": str(tmp_path)}
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    assert compile_cache.enable_default(env) == str(tmp_path / "jax")
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == (
        compile_cache.MIN_COMPILE_SECONDS)
    # Now configured: a second call (another Loop, another folder) keeps it.
    other = {"TRAX_COMPAT_CACHE_DIR": str(tmp_path / "other")}
    assert compile_cache.enable_default(other) is None
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax")


def test_enable_default_keeps_the_users_settings(tmp_path, jax_cache_config):
    del jax_cache_config
    jax.config.update("jax_compilation_cache_dir", str(tmp_path / "mine"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 3.0)
    assert compile_cache.enable_default({}) is None
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "mine")
    # A threshold the user changed stays too.
    jax.config.update("jax_compilation_cache_dir", None)
    assert compile_cache.enable_default(
        {"TRAX_COMPAT_CACHE_DIR": str(tmp_path)}) == str(tmp_path / "jax")
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 3.0


@pytest.mark.filterwarnings("error")  # e.g. JAX failing to read its cache
def test_the_loop_turns_it_on(tmp_path, monkeypatch, jax_cache_config):
    del jax_cache_config
    from tests.conftest import float_batches  # pylint: disable=g-import-not-at-top
    from trax_compat import layers as tl  # pylint: disable=g-import-not-at-top
    from trax_compat import optimizers  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top
    monkeypatch.setenv("TRAX_COMPAT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("TRAX_COMPAT_COMPILATION_CACHE")
    task = training.TrainTask(float_batches(), tl.CategoryCrossEntropy(),
                              optimizers.SGD(0.1))
    training.Loop(tl.Serial(tl.Dense(2)), task)
    assert jax.config.jax_compilation_cache_dir == str(tmp_path / "jax")
