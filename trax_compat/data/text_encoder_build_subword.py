r"""Builds a ``SubwordTextEncoder`` vocabulary file from a corpus or from
word counts: Trax's ``text_encoder_build_subword`` program, with its flags.

    python -m trax_compat.data.text_encoder_build_subword \
        --corpus_filepattern='data/train-*' --corpus_max_lines=12345 \
        --output_filename=data/my.subword_text_encoder

``--min_count`` and ``--corpus_max_lines`` set the vocabulary's size; the
file written equals the one Trax's program writes for the same flags.
"""

from absl import app
from absl import flags

from trax_compat.data import text_encoder
from trax_compat.data import tokenizer

flags.DEFINE_string("output_filename", "/tmp/my.subword_text_encoder",
                    "The vocabulary file to write.")
flags.DEFINE_string("corpus_filepattern", "",
                    "Glob of the text files to count words in.")
flags.DEFINE_string("vocab_filepattern", "",
                    "Glob of word-count files (one `word,count` a line), "
                    "instead of a corpus.")
flags.DEFINE_integer("min_count", 5,
                     "Least count of a subtoken kept in the vocabulary.")
flags.DEFINE_integer("corpus_max_lines", 10000,
                     "Lines read from the corpus (or count files).")
flags.DEFINE_integer("num_iterations", 4,
                     "Rounds of the subtoken-selection algorithm.")
flags.DEFINE_bool("split_on_newlines", True,
                  "Count each corpus line on its own (else whole files).")

FLAGS = flags.FLAGS


def token_counts(corpus_filepattern="", vocab_filepattern="",
                 corpus_max_lines=10000, split_on_newlines=True):
    """Word counts from exactly one of a corpus or word-count files."""
    if corpus_filepattern and vocab_filepattern:
        raise ValueError("Give --corpus_filepattern or --vocab_filepattern, "
                         "not both.")
    if corpus_filepattern:
        return tokenizer.corpus_token_counts(
                corpus_filepattern, corpus_max_lines,
                split_on_newlines=split_on_newlines)
    if vocab_filepattern:
        return tokenizer.vocab_token_counts(vocab_filepattern,
                                            corpus_max_lines)
    raise ValueError("Give --corpus_filepattern (text files) or "
                     "--vocab_filepattern (word,count files).")


def build(output_filename, min_count=5, num_iterations=4, **count_args):
    """Builds the encoder from :func:`token_counts` and writes it."""
    encoder = text_encoder.SubwordTextEncoder()
    encoder.build_from_token_counts(token_counts(**count_args), min_count,
                                    num_iterations)
    encoder.store_to_file(output_filename)
    return encoder


def main(unused_argv):
    build(FLAGS.output_filename, min_count=FLAGS.min_count,
          num_iterations=FLAGS.num_iterations,
          corpus_filepattern=FLAGS.corpus_filepattern,
          vocab_filepattern=FLAGS.vocab_filepattern,
          corpus_max_lines=FLAGS.corpus_max_lines,
          split_on_newlines=FLAGS.split_on_newlines)


if __name__ == "__main__":
    app.run(main)
