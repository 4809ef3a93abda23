"""Write a split to ``train/ validation/ test/`` class folders.

Files that came from disk are copied as they are (``shutil.copy2``); images that live in
memory (digits, Keras data sets, .npz) are written as PNG files named ``<class><n>.png``
(``<class>_<n>.png`` when the class name ends in a digit). Class names that cannot be folder names
(``T-shirt/top``) get a safe folder name, and ``label_map.json`` maps each folder back to its
class name, so the export reads back with the ``directory`` source and
``label_map: label_map.json`` to the very same classes.

The export is built in a temporary folder beside the target and moved into place at the
end; a folder that is not empty and was not written by zoo is never overwritten.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from zoo.errors import Problem, UserError
from zoo.images import write_png
from zoo.plugin.source import SPLIT_NAMES, ImageSet

MARKER = ".zoo-export.json"
LABEL_MAP = "label_map.json"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def folder_names(class_names: Sequence[str]) -> list[str]:
    """A distinct, file-system-safe folder name for each class name."""
    out: list[str] = []
    seen: set[str] = set()
    for name in class_names:
        base = _UNSAFE.sub("_", name).strip(" .") or "class"
        candidate, n = base, 2
        while candidate.lower() in seen:
            candidate, n = f"{base}_{n}", n + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _check_target(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise UserError(
            [
                Problem(
                    "data.split.export_to is a file, not a folder",
                    str(dest),
                    key_path="data.split.export_to",
                )
            ]
        )
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).is_file():
        raise UserError(
            [
                Problem(
                    "data.split.export_to folder exists, is not empty and was not "
                    "written by zoo; choose a new or empty folder",
                    str(dest),
                    key_path="data.split.export_to",
                )
            ]
        )


def export_splits(
    dest: str | Path,
    class_names: Sequence[str],
    sets: Mapping[str, ImageSet | None],
    files: Mapping[str, Sequence[Path] | None] | None = None,
) -> dict[str, int]:
    """Write each set to ``dest/<split>/<class folder>/``; returns images written per split.

    ``files[split]``, when given, lists each image's original file (aligned with the set's
    labels): those are copied. Otherwise the set's in-memory images are written as PNG.
    """
    dest = Path(dest)
    _check_target(dest)
    folders = folder_names(class_names)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    counts: dict[str, int] = {}
    try:
        for split in SPLIT_NAMES:
            image_set = sets.get(split)
            if image_set is None:
                continue
            originals = (files or {}).get(split)
            counts[split] = _write_split(tmp / split, folders, image_set, originals)
        (tmp / LABEL_MAP).write_text(
            json.dumps(dict(zip(folders, class_names, strict=True)), indent=2, ensure_ascii=False)
            + "\n",
            encoding="utf-8",
        )
        (tmp / MARKER).write_text(
            json.dumps(
                {"class_names": list(class_names), "counts": counts}, indent=2, ensure_ascii=False
            )
            + "\n",
            encoding="utf-8",
        )
        _swap_into_place(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return counts


def _write_split(
    root: Path, folders: list[str], image_set: ImageSet, originals: Sequence[Path] | None
) -> int:
    for folder in set(folders[int(i)] for i in image_set.labels):
        (root / folder).mkdir(parents=True, exist_ok=True)
    if originals is None and image_set.paths is not None:
        originals = image_set.paths
    used: set[Path] = set()
    per_class: dict[int, int] = {}
    for row, label in enumerate(image_set.labels):
        label = int(label)
        target_dir = root / folders[label]
        if originals is not None:
            src = Path(originals[row])
            target = target_dir / src.name
            n = 1
            while target in used:
                target = target_dir / f"{src.stem}_{n}{src.suffix}"
                n += 1
            used.add(target)
            shutil.copy2(src, target)
        else:
            assert image_set.images is not None
            per_class[label] = per_class.get(label, 0) + 1
            stem = folders[label] + ("_" if folders[label][-1].isdigit() else "")
            write_png(target_dir / f"{stem}{per_class[label]}.png", image_set.images[row])
    return len(image_set)


def _swap_into_place(tmp: Path, dest: Path) -> None:
    if not dest.exists():
        tmp.rename(dest)
        return
    old = dest.with_name(f".{dest.name}.old-{tmp.name}")
    dest.rename(old)
    try:
        tmp.rename(dest)
    except OSError:
        old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
