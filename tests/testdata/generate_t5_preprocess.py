"""Records what real Trax's T5-backed text preprocessing gives, with the real
``t5`` package: ``tf_inputs.generic_text_dataset_preprocess_fn`` and
``get_t5_preprocessor_by_name`` (T5's ``rekey`` and ``tokenize``).

Run with a Python that has real Google Trax **and T5** (``t5==0.9.4`` with
``seqio==0.0.19`` and their imports; T5 is not a dependency of Trax's
package), from the repository root:

    python tests/testdata/generate_t5_preprocess.py SPM_MODEL [OUT_DIR]

SPM_MODEL is Trax's test SentencePiece model (``tests/testdata/vocab/
sentencepiece.model.gz`` unzipped). OUT_DIR defaults to
``tests/testdata/trax_oracle/t5_preprocess``; it gets ``t5_preprocess.json``:

* ``texts``: each case's feature dicts, key map, ``copy_pretokenized``, and
  the resulting examples (ids as lists, strings as text), or the error
  Trax raised (type and first line). Case ``integer_label`` is the text
  step of Trax's ``transformer_imdb_tfds.gin`` (rekey ``inputs: text,
  targets: label``): with the real ``t5``, the integer label reaches the
  SentencePiece op.
"""

import json
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import oracle_common  # noqa: E402  pylint: disable=wrong-import-position

CASES = [
    {"name": "strings", "key_map": {"inputs": "text", "targets": "other"},
     "examples": [{"text": "I have a cat.", "other": "That is good."},
                  {"text": "Überraschung! 12 ünïcödé — ok", "other": ""},
                  {"text": "  spaces   inside  ", "other": "x" * 40}],
     "copy_pretokenized": False},
    {"name": "copy_pretokenized", "key_map": {"inputs": "other",
                                              "targets": "text"},
     "examples": [{"text": "That is good.", "other": "That is bad."}],
     "copy_pretokenized": True},
    {"name": "missing_key", "key_map": {"inputs": "text",
                                        "targets": "absent"},
     "examples": [{"text": "Only inputs here."}],
     "copy_pretokenized": False},
    {"name": "integer_label", "key_map": {"inputs": "text",
                                          "targets": "label"},
     "examples": [{"text": "A fine film.", "label": 1}],
     "copy_pretokenized": False},
]


def _plain(value):
    import numpy as np  # pylint: disable=import-outside-toplevel
    value = np.asarray(value)
    if value.dtype.kind in "SO":
        return {"text": value.item().decode("utf-8")}
    return {"dtype": str(value.dtype), "values": value.tolist()}


def run_case(case, spm_path):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from trax.data import tf_inputs  # pylint: disable=import-outside-toplevel
    examples = case["examples"]
    keys = examples[0].keys()
    dataset = tf.data.Dataset.from_tensor_slices(
        {k: [e[k] for e in examples] for k in keys})
    rekey = tf_inputs.get_t5_preprocessor_by_name(
        "rekey", {"key_map": case["key_map"]})
    try:
        out = tf_inputs.generic_text_dataset_preprocess_fn(
            dataset, training=True, text_preprocess_fns=[rekey],
            spm_path=spm_path, copy_pretokenized=case["copy_pretokenized"])
        result = [{k: _plain(v) for k, v in sorted(e.items())}
                  for e in out.as_numpy_iterator()]
        return {**case, "result": result}
    except Exception as e:  # pylint: disable=broad-except
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return {**case, "error": {"type": type(e).__name__, "first": first}}


def main(argv):
    spm_path = argv[1]
    out_dir = pathlib.Path(argv[2] if len(argv) > 2 else
                           HERE / "trax_oracle" / "t5_preprocess")
    import t5  # pylint: disable=import-outside-toplevel
    import seqio  # pylint: disable=import-outside-toplevel
    data = {
        "env": oracle_common.env(
            "tests/testdata/generate_t5_preprocess.py", with_tensorflow=True,
            t5=t5.__version__, seqio=seqio.__version__,
            spm_model=os.path.basename(spm_path)),
        "texts": [run_case(c, spm_path) for c in CASES],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "t5_preprocess.json", "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv)
