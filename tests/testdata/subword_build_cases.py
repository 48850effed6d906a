"""Flag sets for ``text_encoder_build_subword``, shared by the generator
(real Trax's program) and ``tests/test_data_subword_build.py``. ``{corpus}``
is the corpus folder, ``{words}`` the word-count file of the oracle folder,
``{out}`` the output file."""

CASES = {
    # Both corpus files through a glob, the first 150 lines of each.
    "corpus_glob": ["--corpus_filepattern={corpus}/dev_tweets*.txt",
                    "--corpus_max_lines=150", "--min_count=3",
                    "--output_filename={out}"],
    # Whole files as documents, fewer iterations.
    "whole_files": ["--corpus_filepattern={corpus}/dev_tweets_eval.txt",
                    "--nosplit_on_newlines", "--min_count=4",
                    "--num_iterations=2", "--output_filename={out}"],
    # Word,count lines instead of a corpus; the default min_count.
    "word_counts": ["--vocab_filepattern={words}", "--corpus_max_lines=40",
                    "--output_filename={out}"],
}

WORDS_FILE = "words.csv"


def argv(name, corpus, words, out):
    return [a.format(corpus=corpus, words=words, out=out)
            for a in CASES[name]]
