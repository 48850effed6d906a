"""BERT input streams: [CLS]/[SEP] framing, segment ids and token masking.

These are plain NumPy generators over tokenized examples (as Trax's), plus
the two TFDS-backed corpora streams that rely on T5's text preprocessors.
"""

import functools

import numpy as np

CLS_ID = 101
SEP_ID = 102
MASK_ID = 103


def _framed(first, second, cls_id, sep_id):
    """Token ids ``[CLS] first [SEP] (second [SEP])`` and int32 segment ids."""
    if second is None:
        ids = np.concatenate(([cls_id], first, [sep_id]))
        segments = np.zeros(first.shape[0] + 2, dtype=np.int32)
    else:
        ids = np.concatenate(([cls_id], first, [sep_id], second, [sep_id]))
        segments = np.zeros(first.shape[0] + second.shape[0] + 3,
                            dtype=np.int32)
        segments[first.shape[0] + 2:] = 1
    return ids, segments


def BertSingleSentenceInputs(batch, labeled=True, cls_id=CLS_ID,  # pylint: disable=invalid-name
                             sep_id=SEP_ID):
    """(sentence, label) -> (ids, segments, segments, label, int32 1).

    Unlabeled rows are ``(sentence,)`` and give (ids, segments, segments).
    The segment array is yielded twice, as Trax does.
    """
    for row in batch:
        if labeled:
            sentence, label = row
        else:
            (sentence,) = row
        ids, segments = _framed(sentence, None, cls_id, sep_id)
        if labeled:
            yield ids, segments, segments, label, np.int32(1)
        else:
            yield ids, segments, segments


def BertDoubleSentenceInputs(batch, labeled=True, cls_id=CLS_ID,  # pylint: disable=invalid-name
                             sep_id=SEP_ID):
    """(first, second, label) -> (ids, segments, segments, label, int32 1).

    Segment ids are 0 up to and including the first [SEP], then 1.
    """
    for row in batch:
        if labeled:
            first, second, label = row
        else:
            first, second = row
        ids, segments = _framed(first, second, cls_id, sep_id)
        if labeled:
            yield ids, segments, segments, label, np.int32(1)
        else:
            yield ids, segments, segments


def CreateBertInputs(double_sentence=True, labeled=True, cls_id=CLS_ID,  # pylint: disable=invalid-name
                     sep_id=SEP_ID):
    """The single- or double-sentence stream function with these ids."""
    fn = BertDoubleSentenceInputs if double_sentence else (
            BertSingleSentenceInputs)
    return functools.partial(fn, labeled=labeled, cls_id=cls_id, sep_id=sep_id)


def mask_random_tokens(batch, explicit_vocab_size=30522, masking_prob=0.15,
                       cls_id=CLS_ID, sep_id=SEP_ID, mask_id=MASK_ID,
                       vocab_start_id=999):
    """BERT's masked-LM corruption of each row's first array (token ids).

    Of the tokens that are not [CLS], [SEP] or padding (0),
    ``round(masking_prob * n)`` are picked; each picked token becomes
    ``mask_id`` (80%), a random id in ``[vocab_start_id, explicit_vocab_size)``
    (10%) or stays (10%). Rows with nothing to pick are dropped. Yields
    ``(corrupted ids, *rest of row, original ids, weights)``, the weights
    spreading 1 evenly over the picked positions. Draws from NumPy's global
    generator in Trax's order, so a seeded run matches Trax's.
    """
    for token_ids, *rest in batch:
        original = token_ids.copy()
        special = (token_ids == cls_id) | (token_ids == sep_id) | (
                token_ids == 0)
        candidates = np.arange(token_ids.shape[0])[~special]
        n_pick = round(masking_prob * candidates.shape[0])
        if n_pick == 0:
            continue
        picked = np.random.choice(candidates, n_pick, replace=False)
        weights = np.zeros(token_ids.shape)
        weights[picked] = 1 / picked.shape[0]
        scores = np.random.random(picked.shape)
        token_ids[picked[scores < 0.8]] = mask_id
        to_random = picked[(scores >= 0.8) & (scores < 0.9)]
        token_ids[to_random] = np.random.randint(vocab_start_id,
                                                 explicit_vocab_size,
                                                 to_random.shape[0])
        yield (token_ids, *rest, original, weights)


def BertNextSentencePredictionInputs(dataset_name, data_dir=None,  # pylint: disable=invalid-name
                                     text_key="text", train=True,
                                     shuffle_size=50000):
    """(sentence 1, sentence 2, is-next) triples from a text corpus (via T5)."""
    from trax_compat.data import tf_inputs  # pylint: disable=g-import-not-at-top
    t5 = tf_inputs.t5_data("BertNextSentencePredictionInputs")
    stream = tf_inputs.TFDS(
            dataset_name, data_dir=data_dir,
            tfds_preprocess_fn=functools.partial(
                    t5.preprocessors.next_sentence_prediction,
                    text_key=text_key, label_sentences=True,
                    buffer_size=shuffle_size),
            keys=["inputs", "targets"], train=train)

    def split_stream(generator=None):
        for text, target in stream(generator):
            # T5 writes 'sentence1: A sentence2: B'; Trax splits str(bytes)
            # and drops its closing quote.
            parts = str(text)[:-1].split("sentence1: ")[1].split(
                    " sentence2: ")
            if len(parts) != 2:
                continue
            yield parts[0], parts[1], target == "next"

    return split_stream


def CorpusToRandomChunks(dataset_name, num_tokens=512, train=True):  # pylint: disable=invalid-name
    """A TFDS text corpus cut into random chunks of <= num_tokens words (T5)."""
    from trax_compat.data import tf_inputs  # pylint: disable=g-import-not-at-top
    t5 = tf_inputs.t5_data("CorpusToRandomChunks")
    return tf_inputs.TFDS(
            dataset_name,
            tfds_preprocess_fn=functools.partial(
                    t5.preprocessors.random_split_text,
                    max_words_per_segment=num_tokens),
            train=train, keys=["text"])
