"""T5's ``preprocessors.glue`` for machines without the ``t5`` package: GLUE
examples as text-to-text pairs, which Trax's ``T5Glue*`` streams read.

An example ``{"question1": q1, "question2": q2, "label": 1, "idx": 10}`` of
benchmark ``qqp`` with label names ``["not_duplicate", "duplicate"]``
becomes ``{"inputs": "qqp question1: <q1> question2: <q2>", "targets":
"duplicate", "idx": 10}``: the benchmark name, then each text feature as
``name: text`` (sorted by name, or in ``feature_names``' order); an
unlabeled example (label -1, the test splits) gets the target ``<unk>``.
T5's SuperGLUE-only handling of ``multirc`` is not here.
"""

from trax_compat.data import tf_deps


def glue(dataset, benchmark_name, label_names, feature_names=None,
         id_key="idx"):
    """Maps ``dataset`` (a tf.data.Dataset of GLUE examples) as T5 does."""
    if benchmark_name == "multirc":
        raise ValueError("preprocessors.glue for 'multirc' (SuperGLUE) needs "
                         "the t5 package: pip install t5")
    tf = tf_deps.tf("T5's preprocessors.glue")
    names = tf.constant(list(label_names))

    def convert(example):
        keys = feature_names or sorted(set(example) - {"label", "idx"})
        parts = [benchmark_name]
        for key in keys:
            parts += [key + ":", example[key]]
        label = example["label"]
        out = {}
        if id_key:
            out["idx"] = example[id_key]
        out["inputs"] = tf.strings.join(parts, separator=" ")
        out["targets"] = tf.cond(tf.equal(label, -1),
                                 lambda: tf.constant("<unk>"),
                                 lambda: tf.gather(names, label))
        return out

    return dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
