"""Vocabulary downloads from a (loopback) GCS endpoint into the cache."""

import http.server
import io
import os
import threading

import pytest

from trax_compat import cli
from trax_compat.data import download
from trax_compat.data import text_tokenize
from trax_compat.data import vocab_files
from trax_compat.data.vocab_common import VocabFormatError

VOCAB = "en_8k.subword"


class _Handler(http.server.BaseHTTPRequestHandler):
    # path -> bytes; "cut:" prefix = announce more bytes than sent.
    files = {}
    requests = []

    def do_GET(self):  # pylint: disable=invalid-name
        type(self).requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404, "No such object")
            return
        cut = body.startswith(b"cut:")
        if cut:
            body = body[4:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) * (2 if cut else 1)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if cut:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch, tmp_path, vocab_dir):
    _Handler.files = {
            "/trax-ml/vocabs/" + VOCAB: (vocab_dir / VOCAB).read_bytes(),
            "/my-bucket/sub/dir/" + VOCAB: (vocab_dir / VOCAB).read_bytes(),
            "/trax-ml/vocabs/cut.subword":
                    b"cut:" + (vocab_dir / VOCAB).read_bytes()[:5000],
            "/trax-ml/vocabs/html.subword": b"<html><body>Sorry</body></html>\n",
    }
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    endpoint = "http://127.0.0.1:%d" % httpd.server_address[1]
    monkeypatch.setenv(download.ENV_GCS_ENDPOINT, endpoint)
    monkeypatch.setenv(vocab_files.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(vocab_files.ENV_VOCAB_DIR, raising=False)
    # These tests are about downloading: no packaged copy short-cuts them.
    monkeypatch.setattr(vocab_files, "BUNDLED_DIR", str(tmp_path / "none"))
    vocab_files.clear_vocab_cache()
    yield endpoint
    vocab_files.clear_vocab_cache()
    httpd.shutdown()
    httpd.server_close()


def _cache(tmp_path):
    return tmp_path / "cache" / "vocabs"


def test_default_bucket_is_downloaded_once_into_the_cache(server, tmp_path,
                                                          vocab_dir):
    (arr,) = text_tokenize.tokenize(iter(["Hello, World!"]), vocab_file=VOCAB)
    cached = _cache(tmp_path) / VOCAB
    assert cached.read_bytes() == (vocab_dir / VOCAB).read_bytes()
    assert _Handler.requests == ["/trax-ml/vocabs/" + VOCAB]
    (want,) = text_tokenize.tokenize(iter(["Hello, World!"]), vocab_file=VOCAB,
                                 vocab_dir=str(vocab_dir))
    assert arr.tolist() == want.tolist()
    # Later calls (even in a "new process": cleared memory) use the cache.
    vocab_files.clear_vocab_cache()
    assert text_tokenize.vocab_size(vocab_file=VOCAB) == 8183
    assert text_tokenize.vocab_size(vocab_file=VOCAB,
                                vocab_dir="gs://trax-ml/vocabs/") == 8183
    assert len(_Handler.requests) == 1
    # No temporary files are left behind.
    assert sorted(os.listdir(_cache(tmp_path))) == [VOCAB]


def test_env_vocab_dir_wins_and_other_buckets_get_their_own_folder(
        server, tmp_path, monkeypatch, vocab_dir):
    monkeypatch.setenv(vocab_files.ENV_VOCAB_DIR, str(vocab_dir))
    assert text_tokenize.vocab_size(vocab_file=VOCAB) == 8183
    assert _Handler.requests == []
    path = vocab_files.fetch_vocab_path(VOCAB, "gs://my-bucket/sub/dir")
    assert path == str(_cache(tmp_path) / "gs" / "my-bucket" / "sub" / "dir"
                       / VOCAB)
    assert _Handler.requests == ["/my-bucket/sub/dir/" + VOCAB]
    # A full gs:// file name works the same and reuses that copy.
    assert vocab_files.fetch_vocab_path("gs://my-bucket/sub/dir/" + VOCAB) == path
    assert len(_Handler.requests) == 1


@pytest.mark.parametrize("name, reason", [
        ("missing.subword", "HTTP 404"),
        ("cut.subword", "stopped after 5000 of 10000 bytes"),
])
def test_failed_downloads_leave_nothing_and_say_what_to_do(server, tmp_path,
                                                           name, reason):
    with pytest.raises(download.DownloadError) as info:
        text_tokenize.vocab_size(vocab_file=name)
    msg = str(info.value)
    dest = _cache(tmp_path) / name
    assert reason in msg
    assert server + "/trax-ml/vocabs/" + name in msg
    assert "place it at %s" % dest in msg
    assert isinstance(info.value, FileNotFoundError)
    assert not dest.exists()
    assert not list(_cache(tmp_path).glob("*"))


def test_a_download_that_is_not_a_vocabulary_is_not_cached(server, tmp_path):
    with pytest.raises(VocabFormatError, match="not a .subword vocabulary"):
        text_tokenize.vocab_size(vocab_file="html.subword")
    assert not list(_cache(tmp_path).glob("*"))


def test_offline_error_names_url_and_cache_path(monkeypatch, tmp_path):
    import socket  # pylint: disable=g-import-not-at-top
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(download.ENV_GCS_ENDPOINT, "http://127.0.0.1:%d" % port)
    monkeypatch.setenv(vocab_files.ENV_CACHE_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(vocab_files.ENV_VOCAB_DIR, raising=False)
    with pytest.raises(download.DownloadError) as info:
        vocab_files.fetch_vocab_path("ende_32k.subword")
    msg = str(info.value)
    assert "http://127.0.0.1:%d/trax-ml/vocabs/ende_32k.subword" % port in msg
    assert str(_cache(tmp_path) / "ende_32k.subword") in msg
    assert "offline" in msg


def test_progress_only_when_asked_or_on_a_terminal(server, tmp_path,
                                                   monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    url = server + "/trax-ml/vocabs/" + VOCAB
    download.download(url, tmp_path / "a.subword")
    assert err.getvalue() == ""  # StringIO is not a terminal
    download.download(url, tmp_path / "b.subword", progress=True)
    shown = err.getvalue()
    assert "Downloading %s" % url in shown and "100%" in shown
    assert shown.endswith("\n")
    assert (tmp_path / "a.subword").read_bytes() == (
            tmp_path / "b.subword").read_bytes()


def test_download_command(server, tmp_path, capsys):
    assert cli.main(["vocab", "download", VOCAB]) == 0
    assert capsys.readouterr().out.strip() == str(_cache(tmp_path) / VOCAB)
    assert cli.main(["vocab", "download", "missing.subword"]) == 1
    assert "HTTP 404" in capsys.readouterr().err


def test_gcs_url_quoting(monkeypatch):
    monkeypatch.delenv(download.ENV_GCS_ENDPOINT, raising=False)
    assert download.gcs_url("gs://trax-ml/vocabs/en_8k.subword") == (
            "https://storage.googleapis.com/trax-ml/vocabs/en_8k.subword")
    monkeypatch.setenv(download.ENV_GCS_ENDPOINT, "http://127.0.0.1:1/")
    assert download.gcs_url("gs://b/a dir/x#1") == (
            "http://127.0.0.1:1/b/a%20dir/x%231")
    with pytest.raises(ValueError):
        download.split_gs_path("gs:///nobucket")
