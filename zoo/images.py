"""Decode, convert and resize images with OpenCV, one file or many in parallel.

Every image zoo hands on is ``uint8`` HWC in RGB (or one gray channel). A file that cannot
be decoded is a :class:`~zoo.errors.UserError` naming it; :func:`load_images` collects one
problem per bad file and reports them all at once, or skips them under
``on_bad_file="skip"``. OpenCV is imported on first use (``zoo list`` never pays for it);
it releases the GIL while decoding, so a thread pool decodes in parallel.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np

from zoo.errors import Problem, UserError
from zoo.progress import progress

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
PIXEL_LIMIT_ENV = "ZOO_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's Image.MAX_IMAGE_PIXELS
# JPEG start-of-frame markers (they carry the size): C0-C3, C5-C7, C9-CB, CD-CF
_JPEG_FRAMES = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)}
)
ResizeMode = Literal["stretch", "keep_aspect"]
OnBadFile = Literal["error", "skip"]


class BadImage(UserError):
    """One file that is missing, unreadable or not a decodable image."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__([Problem(reason, self.path)])


def _cv2() -> Any:
    import cv2

    return cv2


def default_workers() -> int:
    """Threads for decoding: the CPUs this process may use, at most 16."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(16, cpus))


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def check_regular_file(path: str | Path) -> None:
    """Raise :class:`BadImage` unless ``path`` (links followed) is a regular file.

    Opening a FIFO named ``x.png`` blocks forever and a device never ends: only regular
    files are images, so nothing else is ever opened.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        reason = "broken symbolic link" if os.path.islink(path) else "no such file"
        raise BadImage(path, reason) from None
    except OSError as exc:
        raise BadImage(path, f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise BadImage(path, "is a folder, not an image file")
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
        raise BadImage(path, f"is {kind}, not an image file")


def pixel_limit() -> int:
    """The most pixels an image file may declare: ``$ZOO_MAX_IMAGE_PIXELS``, else Pillow's
    default (89,478,485, a 9459x9459 image, about 268 MB decoded as RGB)."""
    raw = os.environ.get(PIXEL_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(
            [Problem(f"must be a whole number of pixels > 0 (got {raw!r})", PIXEL_LIMIT_ENV)]
        )
    return value


def declared_size(raw: bytes | np.ndarray) -> tuple[int, int] | None:
    """(height, width) an image file declares in its header, read without decoding it (PNG,
    JPEG, GIF, BMP, WebP; Pillow's header reader for the others); None when unknown."""
    head = bytes(raw[: 64 * 1024]) if isinstance(raw, np.ndarray) else raw[: 64 * 1024]
    try:
        if head[:8] == b"\x89PNG\r\n\x1a\n":
            if head[12:16] != b"IHDR":  # not a PNG after all: the decoder says what it is
                return None
            w, h = struct.unpack(">II", head[16:24])
            return h, w
        if head[:2] == b"\xff\xd8":
            return _jpeg_size(head)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<HH", head[6:10])
            return h, w
        if head[:2] == b"BM":
            w, h = struct.unpack("<ii", head[18:26])
            return abs(h), abs(w)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            return _webp_size(head)
    except struct.error:
        return None
    return _pillow_size(bytes(raw) if isinstance(raw, np.ndarray) else raw)


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        if marker in _JPEG_FRAMES:
            h, w = struct.unpack(">HH", head[i + 5 : i + 9])
            return h, w
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        i += 2 + length
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(head[24:27], "little") + 1
        h = int.from_bytes(head[27:30], "little") + 1
        return h, w
    if chunk == b"VP8L":
        bits = int.from_bytes(head[21:25], "little")
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", head[26:30])
        return h & 0x3FFF, w & 0x3FFF
    return None


def _pillow_size(raw: bytes) -> tuple[int, int] | None:
    """Formats zoo does not read headers of itself (TIFF): Pillow reads the header only."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: judged below
            with Image.open(io.BytesIO(raw)) as image:
                w, h = image.size
    except Image.DecompressionBombError:
        return (1 << 31, 1)  # beyond Pillow's own hard limit: over any sane one
    except Exception:  # noqa: BLE001 - not an image Pillow knows: OpenCV decides
        return None
    return h, w


def check_declared_size(path: str | Path, raw: bytes | np.ndarray, limit: int) -> None:
    """Refuse, before decoding, a file that declares more pixels than ``limit`` (a
    decompression bomb: a small file that would decode into gigabytes)."""
    size = declared_size(raw)
    if size is not None and size[0] * size[1] > limit:
        h, w = size
        raise BadImage(
            path,
            f"declares {w}x{h} pixels ({w * h:,}), more than the "
            f"{limit:,} an image may have (a decompression bomb?); raise "
            f"{PIXEL_LIMIT_ENV} if the image is real",
        )


def decode_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """The file's pixels as uint8 HWC RGB (HW1 for gray), alpha dropped, 16-bit reduced to 8.

    A file declaring more than ``max_pixels`` (default :func:`pixel_limit`) is refused before
    it is decoded."""
    cv2 = _cv2()
    path = Path(path)
    check_regular_file(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)  # works for non-ASCII paths, unlike imread
    except FileNotFoundError:
        raise BadImage(path, "no such file") from None
    except IsADirectoryError:
        raise BadImage(path, "is a folder, not an image file") from None
    except OSError as exc:
        raise BadImage(path, f"cannot read file: {exc.strerror or exc}") from None
    if raw.size == 0:
        raise BadImage(path, "empty file (0 bytes), not an image")
    check_declared_size(path, raw, max_pixels or pixel_limit())
    image = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise BadImage(path, "cannot decode image: corrupt, or not a PNG/JPEG/BMP/TIFF/WebP file")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if image.ndim == 2:
        return image[:, :, None]
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    if image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.shape[2] == 1:
        return image
    raise BadImage(path, f"unsupported image with {image.shape[2]} channels")


def convert_channels(image: np.ndarray, channels: int | None) -> np.ndarray:
    """An HWC (or NHWC) uint8 image with ``channels`` channels (gray <-> RGB); None keeps it."""
    have = image.shape[-1]
    if channels is None or have == channels:
        return image
    if channels == 3 and have == 1:
        return np.repeat(image, 3, axis=-1)
    if channels == 1 and have == 3:
        # ITU-R 601 luma, the weights OpenCV's COLOR_RGB2GRAY uses.
        gray = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
        return np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
    raise ValueError(f"cannot convert {have} channels to {channels}")


def resize_image(
    image: np.ndarray, image_size: tuple[int, int] | None, resize: ResizeMode = "stretch"
) -> np.ndarray:
    """One HWC image at ``(height, width)``: stretched, or scaled to fit and padded with black."""
    if image_size is None:
        return image
    cv2 = _cv2()
    h, w = int(image_size[0]), int(image_size[1])
    ih, iw = image.shape[:2]
    if (ih, iw) == (h, w):
        return image
    channels = image.shape[2]
    if resize == "keep_aspect":
        scale = min(h / ih, w / iw)
        nh, nw = max(1, round(ih * scale)), max(1, round(iw * scale))
    else:
        scale = min(h / ih, w / iw)
        nh, nw = h, w
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    out = cv2.resize(image, (nw, nh), interpolation=interp)
    if out.ndim == 2:
        out = out[:, :, None]
    if (nh, nw) == (h, w):
        return out
    canvas = np.zeros((h, w, channels), dtype=np.uint8)
    top, left = (h - nh) // 2, (w - nw) // 2
    canvas[top : top + nh, left : left + nw] = out
    return canvas


def read_image(
    path: str | Path,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    resize: ResizeMode = "stretch",
) -> np.ndarray:
    """Decode one file to uint8 HWC at ``image_size`` with ``channels``; errors name the file."""
    image = decode_image(path)
    image = convert_channels(image, channels)
    return resize_image(image, image_size, resize)


def convert_images(
    images: np.ndarray,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    resize: ResizeMode = "stretch",
    workers: int | None = None,
) -> np.ndarray:
    """An in-memory NHWC uint8 batch converted to ``channels`` and resized to ``image_size``."""
    images = convert_channels(np.asarray(images, dtype=np.uint8), channels)
    if image_size is None or tuple(images.shape[1:3]) == tuple(image_size):
        return images
    out = np.empty(
        (len(images), int(image_size[0]), int(image_size[1]), images.shape[3]), dtype=np.uint8
    )

    def work(i: int) -> None:
        out[i] = resize_image(images[i], image_size, resize)

    _run_parallel(work, len(images), workers)
    return out


class LoadedImages(NamedTuple):
    """What :func:`load_images` returns: the decoded batch, which inputs it holds, and the rest."""

    images: np.ndarray  # uint8 NHWC
    kept: np.ndarray  # positions in the input list of the rows of ``images``
    skipped: list[str]  # "path: reason" for each file left out


@dataclass
class _Decoded:
    image: np.ndarray | None = None
    error: BadImage | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _run_parallel(fn: Callable[[int], None], n: int, workers: int | None) -> None:
    workers = workers or default_workers()
    if workers <= 1 or n < 64:
        for i in range(n):
            fn(i)
        return
    chunk = max(16, n // (workers * 8))
    starts = range(0, n, chunk)

    def run_chunk(start: int) -> None:
        for i in range(start, min(n, start + chunk)):
            fn(i)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zoo-decode") as pool:
        for _ in pool.map(run_chunk, starts):
            pass


def load_images(
    paths: Sequence[str | Path],
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    resize: ResizeMode = "stretch",
    on_bad_file: OnBadFile = "error",
    workers: int | None = None,
    out: np.ndarray | None = None,
) -> LoadedImages:
    """Decode ``paths`` in parallel into one uint8 NHWC array.

    Without ``image_size`` every image must have the same size; files of another size than
    the most common one are bad files too. Without ``channels``, gray images are made RGB
    when any image is in colour. Under ``on_bad_file="error"`` every bad file is reported in
    one :class:`UserError`, one problem each; under ``"skip"`` they are left out and listed.
    ``out``: where to decode (a preallocated array or memory map of ``len(paths)`` rows,
    with ``image_size`` and ``channels`` given); the images returned are its first rows,
    the good images moved up in place over the bad ones (the pixels are held once).
    """
    n = len(paths)
    results: list[_Decoded] = [_Decoded() for _ in range(n)]
    if out is None and image_size is not None and channels is not None:
        out = np.empty((n, int(image_size[0]), int(image_size[1]), channels), dtype=np.uint8)

    def work(i: int) -> None:
        try:
            image = read_image(paths[i], image_size, channels, resize)
        except BadImage as exc:
            results[i].error = exc
            return
        except Exception as exc:  # OpenCV can raise cv2.error on odd files
            results[i].error = BadImage(paths[i], f"cannot decode image: {exc}")
            return
        finally:
            bar.update()
        if out is not None:
            out[i] = image
        else:
            results[i].image = image

    with progress("decoding images", n) as bar:
        _run_parallel(work, n, workers)

    bad: dict[int, BadImage] = {i: r.error for i, r in enumerate(results) if r.error is not None}
    if out is None:
        good = [i for i in range(n) if i not in bad]
        if channels is None and any(results[i].image.shape[2] == 3 for i in good):  # type: ignore[union-attr]
            for i in good:
                results[i].image = convert_channels(results[i].image, 3)  # type: ignore[arg-type]
        if image_size is None and good:
            bad.update(_odd_sizes(paths, {i: results[i].image.shape[:2] for i in good}))  # type: ignore[union-attr]

    if bad and on_bad_file == "error":
        raise UserError([p for i in sorted(bad) for p in bad[i].problems])
    kept = np.array([i for i in range(n) if i not in bad], dtype=np.int64)
    skipped = [f"{bad[i].path}: {bad[i].reason}" for i in sorted(bad)]
    if out is not None:
        images = _compact(out, kept) if bad else out
    elif len(kept):
        images = np.stack([results[i].image for i in kept])
    else:
        images = np.zeros((0, *(tuple(image_size or (0, 0))), channels or 3), dtype=np.uint8)
    return LoadedImages(images, kept, skipped)


def _compact(images: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """The rows ``kept`` (ascending) moved to the front in place; a view of them."""
    for row, source in enumerate(kept):
        if row != source:
            images[row] = images[source]
    return images[: len(kept)]


def _odd_sizes(
    paths: Sequence[str | Path], sizes: dict[int, tuple[int, ...]]
) -> dict[int, BadImage]:
    """Files whose size differs from the most common one (the first seen wins a tie)."""
    counts: dict[tuple[int, ...], int] = {}
    for size in sizes.values():
        counts[size] = counts.get(size, 0) + 1
    if len(counts) <= 1:
        return {}
    common = max(counts, key=lambda s: counts[s])  # dicts keep first-seen order for ties
    return {
        i: BadImage(
            paths[i],
            f"image is {s[0]}x{s[1]} but most images are "
            f"{common[0]}x{common[1]}; set data.image_size to resize them all",
        )
        for i, s in sizes.items()
        if s != common
    }


class ProbedImages(NamedTuple):
    """What :func:`probe_images` returns: the common size and channels, kept inputs, the rest."""

    image_size: tuple[int, int] | None
    channels: int | None
    kept: np.ndarray
    skipped: list[str]


def probe_images(
    paths: Sequence[str | Path],
    image_size: tuple[int, int] | None = None,
    on_bad_file: OnBadFile = "error",
    workers: int | None = None,
) -> ProbedImages:
    """Decode every file once, in parallel, keeping only its shape (``data.cache: false``).

    A header is not enough: a truncated file has a valid header and would only fail when
    the pipeline decodes it, mid-training, even under ``on_bad_file: skip``. Decoding with
    the very decoder the pipeline uses finds every such file before training starts.
    Without ``image_size``, mixed sizes are bad files too.
    """
    n = len(paths)
    shapes: list[tuple[int, int, int] | None] = [None] * n
    errors: dict[int, BadImage] = {}

    def work(i: int) -> None:
        try:
            h, w, c = decode_image(paths[i]).shape
        except BadImage as exc:
            errors[i] = exc
            return
        except Exception as exc:  # OpenCV can raise cv2.error on odd files
            errors[i] = BadImage(paths[i], f"cannot decode image: {exc}")
            return
        shapes[i] = (h, w, 1 if c == 1 else 3)

    _run_parallel(work, n, workers)
    good = {i: s for i, s in enumerate(shapes) if s is not None}
    if image_size is None and good:
        errors.update(_odd_sizes(paths, {i: s[:2] for i, s in good.items()}))
    if errors and on_bad_file == "error":
        raise UserError([p for i in sorted(errors) for p in errors[i].problems])
    kept = np.array([i for i in range(n) if i not in errors], dtype=np.int64)
    size = image_size
    if size is None and len(kept):
        s = good[int(kept[0])]
        size = (s[0], s[1])
    channels = 3 if any(good[int(i)][2] == 3 for i in kept) else (1 if len(kept) else None)
    skipped = [f"{errors[i].path}: {errors[i].reason}" for i in sorted(errors)]
    return ProbedImages(size, channels, kept, skipped)


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 HWC RGB or gray image as PNG (``path``'s folder must exist)."""
    cv2 = _cv2()
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.ndim == 3:
        image = image[:, :, 0]
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"cannot encode {path} as PNG")
    Path(path).write_bytes(buf.tobytes())
