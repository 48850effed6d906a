"""Shared test helpers: where the real-Trax oracle data lives.

The data is part of the repository, under ``tests/testdata/`` (compacted; see
its README.md). Trax's ``en_8k.subword`` ships with the package itself, in
``trax_compat/data/vocabs/``.
"""

import functools
import gzip
import hashlib
import json
import os
import pathlib
import signal
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
TESTDATA = REPO / "tests" / "testdata"
ORACLE = TESTDATA / "trax_oracle"
CORPUS_DIR = TESTDATA / "corpus"
# A folder holding en_8k.subword: the copy bundled with the package.
VOCAB_DIR = REPO / "trax_compat" / "data" / "vocabs"
SENTENCEPIECE_GZ = TESTDATA / "vocab" / "sentencepiece.model.gz"

EN_8K_SHA256 = (
    "6fafd9de1732a000540337bd0b7ce3fbea811b81d1b042906a2101801c12e095")
# The Loop turns on JAX's persistent compilation cache in the user's cache
# folder; the suite leaves home alone (tests/test_compile_cache.py checks
# that default).
os.environ.setdefault("TRAX_COMPAT_COMPILATION_CACHE", "off")


def _session_compilation_cache():
    """One JAX persistent compilation cache per test process, in a fresh
    temporary folder that the process's children (``python -m ...`` runs
    inherit the environment) share and that is removed at exit.

    Many tests compile the same programs again: a Loop's train step for the
    same model in each test that builds one, every child process's eager
    initializers and steps. Loading them beats compiling them again. The
    cached program is the one the compiler produced, so results are
    unchanged bit for bit. Each pytest-xdist worker has its own folder (the
    cache writes its files without a lock), and a cache the caller
    configured is kept.
    """
    if os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return
    import atexit  # pylint: disable=g-import-not-at-top
    import shutil  # pylint: disable=g-import-not-at-top
    import tempfile  # pylint: disable=g-import-not-at-top
    folder = tempfile.mkdtemp(prefix="trax_compat_tests_jax_cache_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = folder
    # JAX's default keeps only programs that took a second to compile.
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    if "jax" in sys.modules:  # Already read its environment.
        import jax  # pylint: disable=g-import-not-at-top
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


_session_compilation_cache()

SENTENCEPIECE_SHA256 = (
    "9e925505c08efc3173ed8aa1d7e7e396fa47f6e4aa7aee5a5f56093ca6722a93")


def require_shared():
    """Asserts that the oracle test data is there; never skips.

    The data is committed with the tests, so a missing folder is a broken
    checkout, not an optional feature. (The name is historical.)
    """
    missing = [str(p.relative_to(REPO)) for p in
               (ORACLE, CORPUS_DIR, SENTENCEPIECE_GZ,
                VOCAB_DIR / "en_8k.subword") if not p.exists()]
    assert not missing, (
        f"test data missing from the checkout: {', '.join(missing)} "
        f"(tests/testdata is part of the repository; see its README.md)")


@pytest.fixture(scope="session")
def oracle_dir():
    require_shared()
    return ORACLE


@pytest.fixture(scope="session")
def vocab_dir(tmp_path_factory):
    """A folder with both Trax test vocabularies: en_8k.subword (from the
    package) and sentencepiece.model (unzipped from tests/testdata)."""
    require_shared()
    folder = tmp_path_factory.mktemp("vocab")
    en_8k = (VOCAB_DIR / "en_8k.subword").read_bytes()
    assert hashlib.sha256(en_8k).hexdigest() == EN_8K_SHA256
    (folder / "en_8k.subword").write_bytes(en_8k)
    with gzip.open(SENTENCEPIECE_GZ) as f:
        model = f.read()
    assert hashlib.sha256(model).hexdigest() == SENTENCEPIECE_SHA256
    (folder / "sentencepiece.model").write_bytes(model)
    return folder


@pytest.fixture(scope="session")
def corpus_dir():
    require_shared()
    return CORPUS_DIR


def _oracle_path(name):
    """``ORACLE / name``, or its ``.gz`` twin when only that is stored."""
    path = ORACLE / name
    if path.exists() or path.suffix == ".gz":
        return path
    return path.with_name(path.name + ".gz")


def load_oracle_json(name):
    """Loads ``name`` (relative to the oracle folder); a ``.json.gz`` file is
    read transparently, whether ``name`` ends in ``.json`` or ``.json.gz``."""
    require_shared()
    path = _oracle_path(name)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


# -- arrays stored as a SHA-256 ------------------------------------------------

def _regenerate_init_embedding(shape):
    """Trax's initial embedding of the tutorial model under
    ``Loop(random_seed=0)``, from the key derivation in the oracle's
    ``init_and_step.json`` (``init_regeneration``): plain JAX, independent of
    trax_compat."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    # Trax ran jax 0.4.34, whose default PRNG was not partitionable.
    with jax.threefry_partitionable(False):
        _, model_key = jax.random.split(jax.random.PRNGKey(0))
        sub = jax.random.split(model_key, 4)
        lim = jnp.sqrt(3. * (1. / shape[1]))
        return np.asarray(jax.random.uniform(sub[0], shape, jnp.float32,
                                             -lim, lim))


_REGENERATE = {
    ("init_and_step.npz", "init.embedding"): _regenerate_init_embedding,
}


def array_sha256(array):
    """SHA-256 of an array's bytes in C order (how the oracle hashes)."""
    import numpy as np
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def _load_npz(name):
    import numpy as np
    with np.load(ORACLE / name, allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    arrays = {}
    for key, value in stored.items():
        if not key.endswith(".sha256"):
            continue
        base = key[:-len(".sha256")]
        shape = tuple(int(n) for n in stored[base + ".shape"])
        full = _REGENERATE[(name, base)](shape)
        row_ids = stored[base + ".row_ids"]
        # The stored rows first (a readable failure), then every bit.
        np.testing.assert_array_equal(full[row_ids], stored[base + ".rows"],
                                      err_msg=f"regenerated {base}",
                                      strict=True)
        assert array_sha256(full) == str(value), (
            f"regenerated {base} differs from Trax's (SHA-256)")
        arrays[base] = full
    helpers = {b + s for b in arrays
               for s in (".sha256", ".shape", ".row_ids", ".rows")}
    arrays.update((k, v) for k, v in stored.items() if k not in helpers)
    for value in arrays.values():
        value.flags.writeable = False
    return arrays


def oracle_npz(name):
    """The arrays of an oracle ``.npz`` file as a dict, with every array that
    is stored as a SHA-256 regenerated and checked against it bit for bit
    (see tests/testdata/README.md). The arrays are read-only."""
    require_shared()
    return dict(_load_npz(name))


def oracle_array(entry):
    """Turns an oracle ``{"shape", "dtype", "data"}`` record into an ndarray."""
    import numpy as np
    return np.asarray(entry["data"], dtype=entry["dtype"]).reshape(entry["shape"])


def check_metric_case(case, rtol):
    """Builds a recorded metric case's layer (``tl`` from trax_compat) and
    checks its repr, arity and value on the recorded inputs; returns the
    layer and the inputs."""
    import numpy as np
    from trax_compat import layers as tl  # pylint: disable=unused-import
    layer = eval(case["layer"])  # pylint: disable=eval-used
    assert repr(layer) == case["repr"]
    assert (layer.n_in, layer.n_out) == (case["n_in"], case["n_out"])
    inputs = tuple(oracle_array(a) for a in case["inputs"])
    value = np.asarray(layer(inputs))
    expected = oracle_array(case["value"])
    assert value.shape == () and value.dtype == expected.dtype
    np.testing.assert_allclose(value, expected, rtol=rtol, atol=1e-7)
    return layer, inputs


def read_tweets(path):
    """Reads a corpus file exactly as the Trax tutorial does."""
    import numpy as np
    with open(path, encoding="utf-8") as f:
        return [tuple([str(i.split(",")[0]), np.int64(i.split(",")[1])]) for i in f]


@pytest.fixture(autouse=True)
def _no_internet_for_vocab_downloads(monkeypatch):
    """Vocabulary downloads default to a public bucket; in tests they go to
    a closed loopback port unless a test starts its own local server."""
    if "TRAX_COMPAT_GCS_ENDPOINT" not in os.environ:
        monkeypatch.setenv("TRAX_COMPAT_GCS_ENDPOINT", "http://127.0.0.1:9")


@pytest.fixture(autouse=True, scope="session")
def _ctrl_c_reaches_the_tests():
    """A shell that starts the suite in the background makes it ignore
    SIGINT, and child processes inherit that; the Ctrl-C tests (in this
    process and in the main job's) need it delivered."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def float_batches(n_features=3, n=4, seed=0):
    """An endless stream of small classification batches (x, y, weights)."""
    import numpy as np
    rng = np.random.RandomState(seed)
    while True:
        x = rng.randn(n, n_features).astype(np.float32)
        y = (x[:, 0] > 0).astype(np.int64)
        yield x, y, np.ones((n,), np.float32)


def write_small_corpus(root):
    """Writes small synthetic ``text,label`` train/eval files for the main
    job into ``root``; returns their paths."""
    from train import corpus  # pylint: disable=g-import-not-at-top
    train, evals = root / "train.txt", root / "eval.txt"
    if not train.exists():
        corpus.write_corpus(str(train), corpus.synthetic_tweets(1500, seed=1))
        corpus.write_corpus(str(evals), corpus.synthetic_tweets(300, seed=2))
    return train, evals


@pytest.fixture(scope="module")
def trax_alias():
    """``import trax`` lines in the configs resolve to trax_compat; undone
    afterwards so the rest of the session sees no ``trax`` module."""
    from trax_compat import as_trax
    from trax_compat import gin_check
    had = as_trax.is_installed()
    trainer_lib = gin_check.register_everything()
    yield trainer_lib
    sys.modules["gin"].clear_config()
    if not had:
        sys.meta_path[:] = [f for f in sys.meta_path
                            if not isinstance(f, as_trax.TraxAliasFinder)]
        for name in [n for n in sys.modules
                     if n == "trax" or n.startswith("trax.")]:
            del sys.modules[name]
    # Nor the stand-in `t5` that configs' `import t5...` lines loaded.
    from trax_compat.data import t5_fallback
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not isinstance(f, t5_fallback._Finder)]  # pylint: disable=protected-access
    for name, module in t5_fallback.MODULES.items():
        if sys.modules.get(name) is module:
            del sys.modules[name]


def without_gin_note(message):
    """``message`` without the line gin adds to errors raised inside a
    gin-wrapped call ("  In call to configurable ..."): Trax's names are
    gin's wrappers, in Trax as here, and the oracles record the message
    without it."""
    return "\n".join(line for line in str(message).splitlines()
                     if not line.startswith("  In call to configurable"))


@pytest.fixture(autouse=True, scope="module")
def _no_process_settings_between_test_files():
    """Each test file starts without gin bindings and on the default
    fastmath backend. With gin installed, Trax's names apply bindings on
    direct calls (as in Trax), so bindings one file parsed would otherwise
    change what later files build; Trax's tutorials call
    ``fastmath.set_backend(...)``, which lasts for the process and outranks
    a gin-bound ``backend.name`` (as in Trax)."""
    def clear():
        gin = sys.modules.get("gin")
        if gin is not None:
            gin.clear_config()
        state = sys.modules.get("trax_compat.fastmath.backend_state")
        if state is not None:
            state.set_backend(None)
    clear()
    yield
    clear()


# Tests marked ``slow`` (each a minute or more of compiling on a 2-core
# machine) stay out of the default run, which must stay short; run them with
# ``TRAX_COMPAT_SLOW_TESTS=1 python -m pytest -m slow``.
def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: minutes of compiling; run with "
                   "TRAX_COMPAT_SLOW_TESTS=1")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("TRAX_COMPAT_SLOW_TESTS") == "1":
        return
    skip = pytest.mark.skip(
        reason="slow; set TRAX_COMPAT_SLOW_TESTS=1 to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def cifar10_dir(tmp_path_factory):
    """A TFDS data dir holding the tiny local ``cifar10`` stand-in."""
    pytest.importorskip("tensorflow_datasets")
    from tests.testdata import tiny_tfds  # pylint: disable=g-import-not-at-top
    return tiny_tfds.prepare(tmp_path_factory.mktemp("tfds"),
                             (tiny_tfds.Cifar10StandIn,))
