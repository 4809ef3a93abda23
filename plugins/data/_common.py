"""Helpers shared by the built-in data sources: paths, image listing, label order."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from zoo.data.images import IMAGE_SUFFIXES
from zoo.errors import Problem, UserError

# Folder names accepted for each split of an already split data set.
SPLIT_FOLDERS = {"train": "train", "training": "train", "validation": "validation",
                 "val": "validation", "valid": "validation", "test": "test", "testing": "test"}


def resolve_path(value: str, base: Path) -> Path:
    """``value`` with ``~`` expanded, relative to ``base`` unless absolute."""
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else Path(base) / path


def require(path: Path, *, folder: bool, key: str) -> None:
    """A clear error when ``path`` is missing or of the wrong kind."""
    if not path.exists():
        kind = "folder" if folder else "file"
        raise UserError([Problem(f"no such {kind}: {path}", key_path=key)])
    if folder and not path.is_dir():
        raise UserError([Problem(f"not a folder: {path}", key_path=key)])
    if not folder and path.is_dir():
        raise UserError([Problem(f"is a folder, expected a file: {path}", key_path=key)])


def is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


def list_images(folder: Path, follow_links: bool = False) -> list[Path]:
    """Image files under ``folder`` (sub-folders included, hidden ones not), sorted."""
    found = []
    for top, dirs, files in os.walk(folder, followlinks=follow_links):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(top) / f for f in files if is_image_name(f))
    return sorted(found)


def sub_folders(folder: Path) -> list[str]:
    """Names of the visible sub-folders of ``folder``, sorted."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def file_shape_hint(data_spec: object, num_classes: int | None) -> dict[str, object]:
    """The shape hint of a file-based source: the spec's size, RGB unless told, the classes."""
    size = getattr(data_spec, "image_size", None)
    return {
        "image_size": tuple(size) if size else None,
        "channels": getattr(data_spec, "channels", None) or 3,
        "num_classes": num_classes,
    }


def label_order(labels: Iterable[str]) -> list[str]:
    """Distinct labels, sorted; numerically when every label is an integer."""
    distinct = list(dict.fromkeys(labels))
    try:
        return sorted(distinct, key=lambda s: (int(s), s))
    except ValueError:
        return sorted(distinct)
