"""Behaviour of trax_compat's data stages, encoders and word splitter that
the real-Trax oracles do not reach: errors, files, threads, images, and the
module layout (Tokenize lives in data.text_tokenize)."""

import numpy as np
import pytest

from trax_compat import data
from trax_compat.data import inputs
from trax_compat.data import subword
from trax_compat.data import text_encoder
from trax_compat.data import text_tokenize
from trax_compat.data import tokenizer


def test_tokenize_stages_keep_their_data_names():
    assert data.Tokenize is text_tokenize.Tokenize
    assert data.tokenize is text_tokenize.tokenize
    assert data.detokenize is text_tokenize.detokenize
    assert data.vocab_size is text_tokenize.vocab_size
    assert data.tokenizer is tokenizer and data.text_encoder is text_encoder
    assert tokenizer.encode("Dude - that's so cool.") == [
        "Dude", " - ", "that", "'", "s", "so", "cool", "."]


def test_word_splitter_rejects_bytes_clearly():
    with pytest.raises(TypeError, match="native_to_unicode"):
        tokenizer.encode(b"bytes")
    assert tokenizer.encode("") == [] and tokenizer.encode(b"") == []


def test_data_counters_save_and_load(tmp_path):
    inputs.data_counters.clear()
    list(inputs.count_and_skip(iter(range(5)), "a"))
    inputs.save_data_counters(str(tmp_path), host_id=3)
    assert (tmp_path / "data_counters3.pkl").exists()
    inputs.data_counters["a"] = 0
    holder = inputs.data_counters
    inputs.load_data_counters(str(tmp_path), host_id=3)
    # Loaded in place: every module holding the dict sees the counts.
    assert holder is inputs.data_counters and holder == {"a": 5}
    assert list(data.CountAndSkip("a")(iter(range(7)))) == [5, 6]
    inputs.load_data_counters(str(tmp_path / "none"), host_id=0)  # no file
    assert inputs.data_counters == {"a": 7}
    inputs.data_counters.clear()


def test_prefetch_ends_with_its_input_and_passes_errors_on():
    assert list(data.Prefetch(2)(iter(range(7)))) == list(range(7))

    def broken():
        yield 1
        raise RuntimeError("source broke")

    stream = data.Prefetch(1)(broken())
    assert next(stream) == 1
    with pytest.raises(RuntimeError, match="source broke"):
        next(stream)


def test_stage_errors_name_the_fix():
    with pytest.raises(ValueError, match="len_map"):
        data.PadToLength()
    with pytest.raises(ValueError, match="one counter per stream"):
        data.Parallel([lambda: iter([1])], counters=(1, 2))
    with pytest.raises(TypeError, match="data_streams is required"):
        inputs.batcher()
    with pytest.raises(TypeError, match="vocab_size, batch_size"):
        data.sequence_copy_inputs(train_length=3)
    with pytest.raises(ValueError, match="max_length >= 1"):
        data.generate_sequential_chunks()
    with pytest.raises(ValueError, match="lambda _"):
        inputs.Inputs([1, 2])
    with pytest.raises(ValueError, match="one batch size"):
        list(data.UnBatch()(iter([(np.zeros((2, 1)), np.zeros((3,)))])))


def test_pad_to_length_accepts_one_pad_value_for_all_keys():
    (a, b), = data.PadToLength(len_map={0: 4, 1: 3}, pad_value=7)(
        iter([(np.arange(2), np.arange(1))]))
    assert a.tolist() == [0, 1, 7, 7] and b.tolist() == [0, 7, 7]


def test_subword_text_encoder_is_backed_by_the_subword_vocabulary(tmp_path):
    enc = text_encoder.SubwordTextEncoder.build_from_generator(
        ["the cat sat on the mat"] * 3, 30)
    assert isinstance(enc._vocab, subword.SubwordVocabulary)  # pylint: disable=protected-access
    path = tmp_path / "v.subword"
    enc.store_to_file(str(path))
    # The Tokenize stages read the same file to the same ids.
    vocab = subword.SubwordVocabulary.load(path)
    assert vocab.encode("a cat") == enc.encode("a cat")
    with pytest.raises(ValueError, match="no vocabulary yet"):
        text_encoder.SubwordTextEncoder().encode("x")
    with pytest.raises(ValueError, match="not found"):
        text_encoder.SubwordTextEncoder(str(tmp_path / "missing"))


def test_unencodable_text_raises_trax_assertion_error():
    enc = text_encoder.SubwordTextEncoder()
    enc._load_from_file_object(__import__("io").StringIO("the\nof\n"))  # pylint: disable=protected-access
    with pytest.raises(AssertionError):
        enc.encode("of the")
    with pytest.raises(ValueError):  # also a ValueError, like our vocabularies
        enc.encode("of the")


def test_image_encoder_writes_and_reads_png():
    pixels = np.arange(2 * 2 * 3, dtype=np.uint8) * 10
    enc = text_encoder.ImageEncoder()
    path = enc.decode(pixels.tolist())
    assert path.endswith("_decode.png")
    back = enc.encode(path)
    # matplotlib reads 8-bit PNGs as floats in [0, 1].
    np.testing.assert_allclose(np.round(back * 255).astype(np.uint8).ravel(),
                               pixels)
    with pytest.raises(ValueError, match="Length of ids"):
        text_encoder.ImageEncoder(height=3, width=3).decode([1, 2, 3])
    assert enc.vocab_size == 256 and enc.num_reserved_ids == 0


def test_log_stage_prints_shapes(capsys):
    list(data.Log()(iter([(np.zeros((2, 3), np.int32),)])))
    assert capsys.readouterr().out == (
        "(ShapeDtype{shape:(2, 3), dtype:int32},)\n")


def test_debug_pipeline_logs_powers_of_two(caplog):
    def stream():
        yield from range(1, 10)

    assert data.debug_pipeline(stream) is stream  # off by default, as in Trax
    logged = data.debug_pipeline(stream, debug=True, log_prefix="p")
    with caplog.at_level("INFO", logger="trax_compat.data.debug_data_pipeline"):
        assert list(logged()) == list(range(1, 10))
    assert [r.getMessage() for r in caplog.records] == [
        f"p example[{i}] = {i}" for i in (1, 2, 4, 8)]
    with pytest.raises(ValueError, match="'pow' or 'every'"):
        data.debug_pipeline(stream, debug=True, method="odd")
