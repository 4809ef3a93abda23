"""Pretrained weight files: where they live, downloading them once, checking their hash.

Files are kept where Keras keeps them (``$KERAS_HOME/models``, else ``~/.keras/models``,
else ``/tmp/.keras/models`` when the home folder is read-only), so a file Keras downloaded
earlier is reused, and a file copied there by hand (on a machine without network) is found.

Every download is checked against the hash its publisher gives; a file whose hash does not
match is never used. Offline, :func:`ensure` fails at once (socket timeout
``ZOO_DOWNLOAD_TIMEOUT`` seconds, default 10) with an :class:`~zoo.errors.OfflineError` that
names the missing file, the URL to fetch it from and the exact path to put it at.

``ZOO_WEIGHTS_BASE_URL`` replaces the publisher's base URL (a mirror, or an unreachable
address in tests). Importing this module never imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from zoo.errors import OfflineError, Problem, UserError

BASE_URL_ENV = "ZOO_WEIGHTS_BASE_URL"
TIMEOUT_ENV = "ZOO_DOWNLOAD_TIMEOUT"
DEFAULT_TIMEOUT_S = 10.0
CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file: its name, where it is published and its hash."""

    fname: str
    base_url: str
    url_path: str
    file_hash: str
    hash_algorithm: str = "md5"  # what the publisher gives; sha256 when available
    description: str = ""
    license: str = ""

    def url(self, base_url: str | None = None) -> str:
        base = base_url or os.environ.get(BASE_URL_ENV) or self.base_url
        return base.rstrip("/") + "/" + self.url_path.lstrip("/")


KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"

# keras.applications.vgg16: WEIGHTS_PATH_NO_TOP and its file_hash (md5), as Keras publishes them.
VGG16_NOTOP = WeightsFile(
    fname="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    base_url=KERAS_APPLICATIONS,
    url_path="vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    file_hash="6d6bbae143d832006294945121d1f1fc",
    description="VGG16 convolutional base trained on ImageNet (Keras Applications), 58.9 MB",
    license="imagenet (Keras Applications)",
)
KNOWN: dict[str, WeightsFile] = {"vgg16_notop": VGG16_NOTOP}


def cache_dir() -> Path:
    """Where Keras keeps downloaded model weights (the same rule as ``keras.utils.get_file``)."""
    if "KERAS_HOME" in os.environ:
        base = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        home = Path.home()
        base = (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"
    return base / "models"


def local_path(wf: WeightsFile) -> Path:
    """The path the file is (or would be) kept at."""
    return cache_dir() / wf.fname


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def is_valid(wf: WeightsFile, path: Path | None = None) -> bool:
    """True when the file is there and its hash is the published one."""
    path = path or local_path(wf)
    return path.is_file() and file_digest(path, wf.hash_algorithm) == wf.file_hash


def _timeout() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _offline(wf: WeightsFile, url: str, reason: str) -> OfflineError:
    target = local_path(wf)
    state = "Corrupt file (wrong hash)" if target.is_file() else "Missing file"
    return OfflineError([Problem(
        f"cannot download {wf.fname} ({reason}). {state}: {target} . Download {url} on a "
        f"machine with network and copy it there ({wf.hash_algorithm} {wf.file_hash}), or set "
        f"KERAS_HOME to a folder whose models/ holds it, or use weights: none"
    )])


def ensure(wf: WeightsFile, *, base_url: str | None = None, log: TextIO | None = None) -> Path:
    """The local path of ``wf``, downloading and checking it first when needed.

    A present file is hashed every time (about a tenth of a second for VGG16); a present
    file with the wrong hash is downloaded again, and reported when offline.
    """
    log = log or sys.stderr
    target = local_path(wf)
    if target.is_file():
        if is_valid(wf, target):
            return target
        log.write(f"zoo: {target} does not match its published {wf.hash_algorithm} hash; "
                  "downloading it again\n")
    url = wf.url(base_url)
    if os.environ.get("ZOO_OFFLINE", "").strip() not in ("", "0"):
        raise _offline(wf, url, "ZOO_OFFLINE is set")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError([Problem(f"cannot create {target.parent} for {wf.fname}: {exc}")]) from None
    log.write(f"zoo: downloading {wf.fname} from {url}\n")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{wf.fname}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.new(wf.hash_algorithm)
        size = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_timeout()) as resp:
            for chunk in iter(lambda: resp.read(CHUNK), b""):
                out.write(chunk)
                h.update(chunk)
                size += len(chunk)
        if h.hexdigest() != wf.file_hash:
            raise UserError([Problem(
                f"downloaded {wf.fname} from {url} but its {wf.hash_algorithm} is {h.hexdigest()}, "
                f"not the published {wf.file_hash}; the file was discarded (a broken mirror or "
                "a proxy page?)"
            )])
        os.replace(tmp, target)
    except urllib.error.HTTPError as exc:
        raise _offline(wf, url, f"HTTP {exc.code} {exc.reason} from {url}") from None
    except urllib.error.URLError as exc:
        raise _offline(wf, url, f"no network: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise _offline(wf, url, f"{type(exc).__name__}: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    log.write(f"zoo: saved {target} ({size / 1e6:.1f} MB, {wf.hash_algorithm} ok)\n")
    return target
