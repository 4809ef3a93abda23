"""numpy: images and labels from a NumPy ``.npz`` file.

Either one pool, ``x`` and ``y`` (zoo splits it by ``data.split``), or a split, ``x_train``/
``y_train`` with ``x_test``/``y_test`` and optionally ``x_validation``/``y_validation``
(or ``x_val``/``y_val``): the layout ``keras.datasets`` uses. ``x_key``/``y_key`` rename the
``x``/``y`` part of those keys. The file is read with ``allow_pickle=False``: data only.

Images: ``(N, H, W)`` or ``(N, H, W, 1|3)``; uint8 as is, other types when their values
fit 0..255, floats in 0..1 are scaled by 255. Labels: integers ``0..K-1``, one-hot rows, or
strings (class names). Class names come from ``class_names`` (a parameter, or an array in the
file under ``class_names_key``), else the distinct string labels, else ``"0".."K-1"``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from pydantic import Field
from zoo_builtins.data._common import label_order, paths_exist, require, resolve_path

import zoo
from zoo import plugin
from zoo.plugin import ImageSet, Problem, ShapeHint, SourceData, UserError

SPLIT_SUFFIXES = {"train": ("_train",), "validation": ("_validation", "_val"), "test": ("_test",)}


class NpzParams(zoo.PluginParams):
    path: str = Field(description="The .npz file; relative to the spec file.")
    x_key: str = Field(
        "x", min_length=1, description="Images key: x, or x_train/x_test/x_validation."
    )
    y_key: str = Field(
        "y", min_length=1, description="Labels key: y, or y_train/y_test/y_validation."
    )
    class_names: list[str] | None = Field(
        None,
        min_length=1,
        description="Class names in label order; overrides the file's.",
    )
    class_names_key: str = Field(
        "class_names",
        description="Key of an optional array of class names in the file.",
    )


def _keys(params: NpzParams, names: set[str], path: Path) -> dict[str, tuple[str, str]]:
    """``split -> (x key, y key)``; 'all' for a pool."""
    if params.x_key in names or params.y_key in names:
        if not {params.x_key, params.y_key} <= names:
            raise UserError(
                [
                    Problem(
                        f"needs both '{params.x_key}' and '{params.y_key}'; the file "
                        f"has: {', '.join(sorted(names))}",
                        str(path),
                    )
                ]
            )
        return {"all": (params.x_key, params.y_key)}
    keys: dict[str, tuple[str, str]] = {}
    problems = []
    for split, suffixes in SPLIT_SUFFIXES.items():
        for suffix in suffixes:
            x, y = params.x_key + suffix, params.y_key + suffix
            if x in names and y in names:
                keys[split] = (x, y)
                break
            if x in names or y in names:
                problems.append(
                    Problem(
                        f"has '{x if x in names else y}' but not '{y if x in names else x}'",
                        str(path),
                    )
                )
    if problems:
        raise UserError(problems)
    if "train" not in keys:
        raise UserError(
            [
                Problem(
                    f"no images found: expected '{params.x_key}'/'{params.y_key}' or "
                    f"'{params.x_key}_train'/'{params.y_key}_train'; the file has: "
                    f"{', '.join(sorted(names)) or 'nothing'}",
                    str(path),
                )
            ]
        )
    return keys


def _images(x: Any, key: str, path: Path) -> Any:
    import numpy as np

    x = np.asarray(x)
    where = f"'{key}'"
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] not in (1, 3):
        hint = (
            " (channels first? zoo wants channels last: N, H, W, C)"
            if x.ndim == 4 and x.shape[1] in (1, 3)
            else ""
        )
        raise UserError(
            [
                Problem(
                    f"{where} must be images of shape (N, H, W) or (N, H, W, 1|3); "
                    f"got {x.shape}{hint}",
                    str(path),
                )
            ]
        )
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind not in "uif" and x.dtype != np.bool_:
        raise UserError([Problem(f"{where} has dtype {x.dtype}; expected numbers", str(path))])
    if x.size == 0:
        return x.astype(np.uint8)
    lo, hi = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 255:
        raise UserError(
            [
                Problem(
                    f"{where} has values from {lo:g} to {hi:g}; expected 0..255 (or 0..1 floats)",
                    str(path),
                )
            ]
        )
    if x.dtype.kind == "f" and hi <= 1.0:
        x = x * 255.0
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _empty_message(key: str, split: str, shape: tuple[int, ...]) -> str:
    """Why an array of 0 images cannot be used: training needs images, and an empty shipped
    split would silently become one carved from the training images."""
    if split in ("all", "train"):
        return f"'{key}' holds no images (shape {shape}): there is nothing to train on"
    return (
        f"'{key}' holds no images (shape {shape}); leave it out of the file to have the "
        f"{split} set taken from the training images"
    )


def _labels(y: Any, key: str, n: int, path: Path) -> Any:
    import numpy as np

    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.dtype.kind in "uifb":
        sums = y.sum(axis=1)
        if not (np.all(np.isin(y, (0, 1))) and np.allclose(sums, 1)):
            raise UserError(
                [Problem(f"'{key}' is 2-D but not one-hot (each row a single 1)", str(path))]
            )
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise UserError(
            [Problem(f"'{key}' must be 1-D labels or one-hot rows; got shape {y.shape}", str(path))]
        )
    if len(y) != n:
        raise UserError([Problem(f"'{key}' has {len(y)} labels for {n} images", str(path))])
    return y


def load_npz(params: NpzParams, ctx: zoo.DataContext) -> SourceData:
    import numpy as np

    path = resolve_path(params.path, ctx.spec_dir)
    require(path, folder=False, key="data.params.path")
    try:
        with np.load(path, allow_pickle=False) as f:
            if not isinstance(f, np.lib.npyio.NpzFile):
                raise UserError(
                    [Problem("expected an .npz archive (np.savez), got a single array", str(path))]
                )
            names = set(f.files)
            keys = _keys(params, names, path)
            raw = {split: (f[x], f[y], x, y) for split, (x, y) in keys.items()}
            file_names = f[params.class_names_key] if params.class_names_key in names else None
    except UserError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError([Problem(f"cannot read .npz file: {exc}", str(path))]) from None

    images = {s: _images(x, xk, path) for s, (x, _, xk, _) in raw.items()}
    empty = [
        Problem(_empty_message(raw[s][2], s, im.shape), str(path))
        for s, im in images.items()
        if len(im) == 0
    ]
    if empty:
        raise UserError(empty)
    labels = {s: _labels(y, yk, len(images[s]), path) for s, (_, y, _, yk) in raw.items()}
    if len({im.shape[1:] for im in images.values()}) > 1:
        shapes = ", ".join(f"{s}: {im.shape[1:]}" for s, im in images.items())
        raise UserError([Problem(f"the splits' images differ in shape ({shapes})", str(path))])

    class_names = list(params.class_names) if params.class_names else None
    if class_names is None and file_names is not None:
        class_names = [str(n) for n in np.asarray(file_names).reshape(-1).tolist()]
    if any(y.dtype.kind in "US" for y in labels.values()):
        text = {s: np.char.strip(y.astype(str)) for s, y in labels.items()}
        if class_names is None:
            class_names = label_order(v for y in text.values() for v in y.tolist())
        index = {n: i for i, n in enumerate(class_names)}
        problems = [
            Problem(
                f"label '{v}' in '{raw[s][3]}' is not a class name ({', '.join(class_names)})",
                str(path),
            )
            for s, y in text.items()
            for v in sorted(set(y.tolist()) - set(index))
        ]
        if problems:
            raise UserError(problems)
        ints = {
            s: np.array([index[v] for v in y.tolist()], dtype=np.int64) for s, y in text.items()
        }
    else:
        ints = {}
        for s, y in labels.items():
            if y.dtype.kind == "f" and not np.all(np.equal(np.mod(y, 1), 0)):
                raise UserError([Problem(f"'{raw[s][3]}' has fractional labels", str(path))])
            ints[s] = y.astype(np.int64)
        top = max((int(y.max()) for y in ints.values() if len(y)), default=-1)
        if class_names is None:
            class_names = [str(i) for i in range(top + 1)]
        for s, y in ints.items():
            wrong = (y < 0) | (y >= len(class_names))
            if wrong.any():
                first = int(np.flatnonzero(wrong)[0])
                raise UserError(
                    [
                        Problem(
                            f"'{raw[s][3]}' has {int(wrong.sum())} label(s) outside "
                            f"0..{len(class_names) - 1} (first: {int(y[first])} at row {first}); "
                            "there "
                            f"are {len(class_names)} class names",
                            str(path),
                        )
                    ]
                )
    return SourceData(
        class_names=class_names, splits={s: ImageSet(ints[s], images=images[s]) for s in images}
    )


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Array shapes from the .npz's member headers, without reading the data."""
    import numpy as np

    shapes = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, _ = np.lib.format.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, _, _ = np.lib.format.read_array_header_2_0(f)
                else:
                    continue
            shapes[info.filename[:-4]] = shape
    return shapes


def npz_shape_hint(params: NpzParams, ctx: zoo.DataContext) -> ShapeHint:
    """Reads only the array headers; None for what cannot be told that way."""
    size, channels, num_classes = None, None, None
    if params.class_names:
        num_classes = len(params.class_names)
    try:
        path = resolve_path(params.path, ctx.spec_dir)
        shapes = _header_shapes(path)
        for key in (params.x_key, params.x_key + "_train"):
            shape = shapes.get(key)
            if shape is not None and len(shape) in (3, 4):
                size = (int(shape[1]), int(shape[2]))
                channels = int(shape[3]) if len(shape) == 4 else 1
                break
        if num_classes is None and params.class_names_key in shapes:
            num_classes = _prod(shapes[params.class_names_key])
    except (OSError, ValueError, zipfile.BadZipFile, KeyError):
        pass
    return ShapeHint(
        image_size=ctx.image_size or size,
        channels=ctx.channels or channels,
        num_classes=num_classes,
    )


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


@zoo.hookimpl
def zoo_register_data_sources(registry: plugin.PluginRegistrar) -> None:
    registry.add_data_source(
        "numpy",
        params=NpzParams,
        factory=load_npz,
        description="Images and labels from a NumPy .npz file (x/y, or "
        "x_train/y_train/x_test/y_test).",
        tags={"files", "builtin"},
        input_kind="image",
        shape_hint=npz_shape_hint,
        check_spec=lambda params, spec, *, spec_dir: paths_exist(
            spec_dir, (params.path, False, "path")
        ),
    )
