"""``trax-compat migrate --plan``: Trax scripts read (never run) and each
Trax call mapped to its native Flax/optax/CLU/Orbax equivalent and page."""

import json
import re
import textwrap

import pytest

from trax_compat import cli
from trax_compat import migrate
from trax_compat import migrate_table

# The sentiment tutorial, as a user might have written it.
SENTIMENT_SCRIPT = textwrap.dedent("""\
    import itertools
    import numpy as np
    import trax
    from trax import layers as tl
    from trax.supervised import training

    def make_batches():
        return trax.data.Serial(
            trax.data.Tokenize(vocab_file='en_8k.subword', keys=[0]),
            trax.data.Shuffle(),
            trax.data.FilterByLength(max_length=30, length_keys=[0]),
            trax.data.BucketByLength(boundaries=[5, 10, 30],
                                     batch_sizes=[1, 5, 10], length_keys=[0]),
            trax.data.AddLossWeights())

    classifier = tl.Serial(tl.Embedding(vocab_size=8192, d_feature=256),
                           tl.Mean(axis=1), tl.Dense(2), tl.LogSoftmax())
    train_task = training.TrainTask(
        labeled_data=make_batches()(itertools.cycle(TWEETS)),
        loss_layer=tl.WeightedCategoryCrossEntropy(),
        optimizer=trax.optimizers.Adam(0.01), n_steps_per_checkpoint=500)
    eval_task = training.EvalTask(
        labeled_data=make_batches()(itertools.cycle(EVAL_TWEETS)),
        metrics=[tl.WeightedCategoryCrossEntropy(),
                 tl.WeightedCategoryAccuracy()], n_eval_batches=20)
    loop = training.Loop(classifier, train_task, eval_tasks=[eval_task],
                         output_dir='~/sentiment')
    loop.run(2000)
    ids = next(make_batches()(iter(EVAL_TWEETS)))[0][0]
    print(trax.data.detokenize(ids, vocab_file='en_8k.subword'))
    print(np.exp(classifier(ids[None, :])))
    tl.SomethingNew(3)
    """)


def _plan(tmp_path, text, name="script.py"):
    path = tmp_path / name
    path.write_text(text)
    return migrate.plan(str(path))


def test_sentiment_script_every_call_mapped_in_order(tmp_path):
    findings = _plan(tmp_path, SENTIMENT_SCRIPT)
    names = [(f.where, f.name) for f in findings]
    assert names[:6] == [
        ("line 8", "trax.data.Serial"), ("line 9", "trax.data.Tokenize"),
        ("line 10", "trax.data.Shuffle"),
        ("line 11", "trax.data.FilterByLength"),
        ("line 12", "trax.data.BucketByLength"),
        ("line 14", "trax.data.AddLossWeights")]
    assert ("line 16", "trax.layers.Embedding") in names
    assert ("line 18", "trax.supervised.training.TrainTask") in names
    assert ("line 21", "trax.optimizers.Adam") in names
    assert ("line 26", "trax.supervised.training.Loop") in names
    # Methods and calls of the objects the script built.
    assert ("line 28", "Loop.run") in names
    assert ("line 31", "Layer.__call__") in names
    assert [n for _, n in names].count(
        "trax.layers.WeightedCategoryCrossEntropy") == 2
    by_name = {f.name: f for f in findings}
    assert "trax_adam" in by_name["trax.optimizers.Adam"].equivalent
    assert by_name["trax.optimizers.Adam"].page == (
        "docs/migration/sentiment.md#optimizer-and-schedule")
    assert "flax.linen.Embed" in by_name["trax.layers.Embedding"].equivalent
    assert by_name["Loop.run"].page == "docs/migration/sentiment.md#loop"
    # Calls of other libraries are not Trax calls.
    assert not any(n.startswith(("itertools", "np.", "numpy"))
                   for _, n in names)
    unknown = [(f.where, f.name) for f in findings if f.equivalent is None]
    assert unknown == [("line 32", "trax.layers.SomethingNew")]


def test_command_prints_the_plan(tmp_path, capsys):
    path = tmp_path / "sentiment.py"
    path.write_text(SENTIMENT_SCRIPT)
    assert cli.main(["migrate", "--plan", str(path)]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert re.fullmatch(
        rf"Migration plan for {re.escape(str(path))}: (\d+) Trax call\(s\), "
        r"(\d+) with a native equivalent, 1 unknown\. Nothing was run\.",
        first)
    assert re.search(r"^line 21 +trax\.optimizers\.Adam\n +-> train/"
                     r"trax_adam\.py's trax_adam.*\n +see docs/migration/"
                     r"sentiment\.md#optimizer-and-schedule$", out, re.M)
    assert re.search(r"^Unknown \(not in the migration table yet.*\n"
                     r"line 32 +trax\.layers\.SomethingNew$", out, re.M)


def test_image_classifier_script_points_to_the_fashion_mnist_page(tmp_path):
    # A small image classifier in the Fashion-MNIST tutorial's style.
    findings = _plan(tmp_path, textwrap.dedent("""\
        import trax
        from trax import layers as tl
        images = trax.data.TFDS('fashion_mnist', keys=('image', 'label'))()
        net = tl.Serial(tl.ToFloat(), tl.Conv(16, (3, 3), padding='SAME'),
                        tl.Relu(), tl.MaxPool(), tl.Flatten(), tl.Dense(10))
        loss = tl.CategoryCrossEntropy()
        """))
    pages = {f.name: f.page for f in findings}
    assert all(f.equivalent for f in findings), findings
    for name in ("ToFloat", "Conv", "MaxPool", "Flatten"):
        assert pages["trax.layers." + name] == (
            "docs/migration/fashion_mnist.md#model"), name
    assert pages["trax.layers.CategoryCrossEntropy"] == (
        "docs/migration/fashion_mnist.md#loss-and-metrics")
    assert pages["trax.data.TFDS"] == "docs/migration/imdb.md#data"
    by_name = {f.name: f.equivalent for f in findings}
    assert "strides=(1, 1)" in by_name["trax.layers.MaxPool"]


def test_import_spellings_and_references(tmp_path):
    # A Deep N-Gram style script on trax_compat's names, with from-imports.
    findings = _plan(tmp_path, textwrap.dedent("""\
        import trax_compat as trax
        from trax_compat.layers import Dense, GRU
        import trax.fastmath.numpy as fnp
        from trax.supervised import trainer_lib
        model = trax.layers.Serial(Dense(4), GRU(8))
        model.init_from_file('model.pkl.gz', weights_only=True)
        y = fnp.exp(3.0)
        trainer_lib.train('out', optimizer=trax.optimizers.SGD)
        """))
    got = [(f.where, f.name, f.equivalent) for f in findings]
    assert ("line 5", "trax.layers.Dense", got[1][2]) == got[1]
    assert [g[:2] for g in got] == [
        ("line 5", "trax.layers.Serial"), ("line 5", "trax.layers.Dense"),
        ("line 5", "trax.layers.GRU"), ("line 6", "Layer.init_from_file"),
        ("line 7", "trax.fastmath.numpy.exp"),
        ("line 8", "trax.supervised.trainer_lib.train"),
        ("line 8", "trax.optimizers.SGD")]
    assert got[4][2] == "jax.numpy.exp"
    assert "trax-compat convert" in got[3][2]
    assert all(g[2] for g in got)


def test_notebook_code_cells(tmp_path):
    notebook = {"cells": [
        {"cell_type": "markdown", "source": ["# Intro\n", "tl.Dense(1)"]},
        {"cell_type": "code", "source": ["!pip install trax\n",
                                         "from trax import layers as tl"]},
        {"cell_type": "code", "source": "%time\nm = tl.Serial(tl.Relu())"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    findings = _plan(tmp_path, json.dumps(notebook), "intro.ipynb")
    assert [(f.where, f.name) for f in findings] == [
        ("cell 3, line 2", "trax.layers.Serial"),
        ("cell 3, line 2", "trax.layers.Relu")]


def test_no_trax_calls(tmp_path, capsys):
    path = tmp_path / "plain.py"
    path.write_text("import numpy as np\nnp.zeros(3)\n")
    assert cli.main(["migrate", "--plan", str(path)]) == 0
    assert "0 Trax call(s)" in capsys.readouterr().out


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist; pass the path of a Trax script"),
    ("model = tl.Serial(\n", "is not valid Python (line 1: '(' was never closed)"),
    (b"\xff\xfe binary", "is not UTF-8 text"),
])
def test_bad_scripts_are_one_line_errors(tmp_path, capsys, content,
                                         expected):
    path = tmp_path / "script.py"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert cli.main(["migrate", "--plan", str(path)]) == 2
    captured = capsys.readouterr()
    lines = [l for l in captured.err.splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert lines[0].startswith(f"trax-compat migrate: error: {path} ")
    assert expected in lines[0]


def test_bad_notebook_and_missing_plan_flag(tmp_path, capsys):
    path = tmp_path / "nb.ipynb"
    path.write_text("{not json")
    assert cli.main(["migrate", "--plan", str(path)]) == 2
    assert "is not a Jupyter notebook" in capsys.readouterr().err
    assert cli.main(["migrate", str(path)]) == 2
    assert "pass --plan" in capsys.readouterr().err


def test_table_names_exist_in_trax_compat():
    # Each full Trax name in the table is one trax_compat provides, so the
    # plan speaks of real APIs (methods are checked on the classes).
    import trax_compat  # pylint: disable=g-import-not-at-top
    from trax_compat.layers import base  # pylint: disable=g-import-not-at-top
    from trax_compat.supervised import training  # pylint: disable=g-import-not-at-top
    owners = {"Loop": training.Loop, "Layer": base.Layer}
    for name in migrate_table.TABLE:
        prefix, _, rest = name.partition(".")
        if prefix in owners:
            assert hasattr(owners[prefix], rest), name
            continue
        obj = trax_compat
        for part in name.split(".")[1:]:
            obj = getattr(obj, part, None)
        assert obj is not None, name
