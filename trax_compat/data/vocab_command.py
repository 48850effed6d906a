"""``trax-compat vocab``: build, inspect and download vocabulary files.

    trax-compat vocab build CORPUS... --target-size 8192 --output FILE.subword
    trax-compat vocab info FILE [--vocab-type subword] [--vocab-dir DIR]
    trax-compat vocab download en_8k.subword [--vocab-dir gs://trax-ml/vocabs/]
"""

import argparse
import os
import sys
import tempfile

from trax_compat import command_errors
from trax_compat.command_errors import UsageError

_TYPES = ("subword", "sentencepiece", "char", "bert", "bert-lowercase")


def add_arguments(parser):
    sub = parser.add_subparsers(dest="vocab_command", metavar="ACTION")
    sub.required = True

    build = sub.add_parser(
            "build", help="build a .subword vocabulary from text files",
            description="Builds a t2t/Trax .subword vocabulary (readable by "
                        "trax_compat and by Trax itself) from the lines of "
                        "the corpus files.")
    build.add_argument("corpus", nargs="+", help="UTF-8 text files")
    build.add_argument("--target-size", type=int, required=True,
                       help="wanted vocabulary size (reached within 1%% when "
                            "the corpus has enough distinct words)")
    build.add_argument("--output", required=True, help="the .subword file")
    build.add_argument("--delimiter", default=None,
                       help="split each line at this string and use only "
                            "--field (e.g. ',' for 'text,label' files)")
    build.add_argument("--field", type=int, default=0,
                       help="field index used with --delimiter (default 0)")
    build.add_argument("--max-subtoken-length", type=int, default=None,
                       help="bound subtoken length (faster on long words)")

    info = sub.add_parser(
            "info", help="print a vocabulary's size",
            description="Prints a vocabulary's size. FILE is a path, or a "
                        "name such as en_8k.subword, looked up as Tokenize "
                        "does: in --vocab-dir, else $TRAX_COMPAT_VOCAB_DIR, "
                        "the cache, then the copies bundled with trax_compat.")
    info.add_argument("file")
    info.add_argument("--vocab-type", default="subword", choices=_TYPES)
    info.add_argument("--vocab-dir", default=None,
                      help="folder holding FILE (default: look as Tokenize "
                           "does)")

    fetch = sub.add_parser(
            "download", help="download a Trax vocabulary into the cache")
    fetch.add_argument("vocab_file", help="e.g. en_8k.subword")
    fetch.add_argument("--vocab-dir", default=None,
                       help="gs:// folder (default gs://trax-ml/vocabs/)")


def _corpus_lines(paths, delimiter, field):
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if delimiter is not None:
                    parts = line.split(delimiter)
                    line = parts[field] if -len(parts) <= field < len(parts) else ""
                yield line


def _build(args):
    from trax_compat.data import subword  # pylint: disable=g-import-not-at-top
    for path in args.corpus:
        if not os.path.isfile(path):
            raise UsageError("no such corpus file: %s" % path)
    if args.target_size < 1:
        raise UsageError("--target-size must be positive")
    vocab = subword.build_subword_vocabulary(
            _corpus_lines(args.corpus, args.delimiter, args.field),
            args.target_size, max_subtoken_length=args.max_subtoken_length)
    out = os.path.abspath(os.path.expanduser(args.output))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    # Write next to the target and rename, so a killed build leaves no stub.
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".",
                               dir=os.path.dirname(out))
    os.close(fd)
    try:
        vocab.save(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    size = subword.SubwordVocabulary.load(out).vocab_size
    off = 100.0 * (size - args.target_size) / args.target_size
    print("Wrote %s: %d subtokens (target %d, %+.2f%%)"
          % (out, size, args.target_size, off))
    if abs(off) >= 1:
        print("note: the corpus is too small for the target size; use more "
              "text or a smaller --target-size", file=sys.stderr)
    return 0


def _local_vocab(name, vocab_dir):
    """``name`` as a path when it is one, else found where Tokenize looks."""
    from trax_compat.data import vocab_files  # pylint: disable=g-import-not-at-top
    given = os.path.expanduser(name)
    if vocab_dir is None and (os.path.dirname(given) or os.path.isfile(given)):
        if not os.path.isfile(given):
            raise UsageError(
                "%s: no such file; pass a vocabulary file, or a name such as "
                "en_8k.subword to look it up as Tokenize does" % name)
        return os.path.abspath(given)
    try:
        return vocab_files.resolve_vocab_path(name, vocab_dir)
    except FileNotFoundError:
        places = vocab_files.candidate_paths(name, vocab_dir)
    raise UsageError(
        "%s not found (looked in %s); pass --vocab-dir with the folder "
        "holding it, set %s to that folder, or fetch one of Trax's with "
        "`trax-compat vocab download %s`"
        % (name, ", ".join(places), vocab_files.ENV_VOCAB_DIR,
           os.path.basename(given)))


def _info(args):
    from trax_compat.data import text_tokenize  # pylint: disable=g-import-not-at-top
    path = (os.path.abspath(os.path.expanduser(args.file))
            if args.vocab_type == "char"  # needs no file
            else _local_vocab(args.file, args.vocab_dir))
    size = text_tokenize.vocab_size(vocab_type=args.vocab_type,
                                vocab_file=os.path.basename(path),
                                vocab_dir=os.path.dirname(path))
    print("%s: %s vocabulary, vocab_size %d" % (path, args.vocab_type, size))
    return 0


def _download(args):
    from trax_compat.data import vocab_files  # pylint: disable=g-import-not-at-top
    path = vocab_files.fetch_vocab_path(args.vocab_file, args.vocab_dir,
                                        bundled=False)
    print(path)
    return 0


def run(args):
    actions = {"build": _build, "info": _info, "download": _download}
    # Errors are named as argparse names this subcommand's own.
    prog = "trax-compat vocab %s" % args.vocab_command
    try:
        return actions[args.vocab_command](args)
    except UsageError as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        return UsageError.exit_code
    except (OSError, ValueError) as e:
        print("%s: error: %s" % (prog, command_errors.as_flags(
            str(e), {"vocab_dir": "--vocab-dir"})), file=sys.stderr)
        return 1


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="trax-compat vocab")
    add_arguments(_parser)
    sys.exit(run(_parser.parse_args()))
