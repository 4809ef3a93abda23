"""Helpers shared by the built-in data sources: paths, image listing, label order."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from zoo.plugin import IMAGE_SUFFIXES, DataContext, Problem, ShapeHint, UserError

log = logging.getLogger("zoo.data")

# Folder names accepted for each split of an already split data set.
SPLIT_FOLDERS = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "val": "validation",
    "valid": "validation",
    "test": "test",
    "testing": "test",
}


def resolve_path(value: str, base: Path) -> Path:
    """``value`` with ``~`` expanded, relative to ``base`` unless absolute."""
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else Path(base) / path


def paths_exist(spec_dir: Path, *checks: tuple[str | None, bool, str]) -> list[str]:
    """A ``check_spec`` body: each ``(value, is_folder, key)`` path must exist, so that
    ``zoo validate`` finds a missing data path before any training. Every one is reported."""
    problems: list[Problem] = []
    for value, folder, key in checks:
        if value is None:
            continue
        try:
            require(resolve_path(value, spec_dir), folder=folder, key=f"data.params.{key}")
        except UserError as exc:
            problems += exc.problems
    if problems:
        raise UserError(problems)
    return []


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


def list_images(
    folder: Path, follow_links: bool = False, *, scan: FolderScan | None = None, owner: str = ""
) -> list[Path]:
    """Image files under ``folder`` (sub-folders included, hidden ones not), sorted, each once.

    With ``scan``, files already listed by an earlier call of the same scan are left out
    too (see :class:`FolderScan`); ``owner`` names what this folder is (its split and class).
    """
    return (scan or FolderScan(folder, follow_links)).images(folder, owner)


def sub_folders(folder: Path, follow_links: bool = False) -> list[str]:
    """Names of the visible sub-folders of ``folder``, sorted; links only when followed."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (follow_links or not p.is_symlink())
    )


def _holds(outer: str, inner: str) -> bool:
    """Whether real path ``inner`` is ``outer`` or inside it."""
    return inner == outer or inner.startswith(outer.rstrip(os.sep) + os.sep)


class FolderScan:
    """One pass over a data folder: every folder entered once, every image listed once.

    Folders and files are told apart by their real paths (links resolved). A link back to a
    folder being read, or to one holding the data folder, would loop and list the same
    images again and again: it is not followed. A file reached a second time through a link
    is listed once; reached again from another class or split folder it goes to
    ``repeats`` (it would be read twice an epoch, or leak from training into test).
    """

    def __init__(self, root: Path, follow_links: bool = False) -> None:
        self.follow_links = follow_links
        self._root = os.path.realpath(root)
        self._claimed: dict[str, Path] = {}  # real path -> class or split folder
        self._files: dict[str, tuple[Path, str]] = {}  # real path -> (first path, owner)
        self.repeats: list[tuple[Path, Path, str]] = []  # (path, first path, its owner)
        self.ignored: list[str] = []  # "path: why" for each link not followed

    def sub_folders(self, folder: Path) -> list[str]:
        """Like :func:`sub_folders`; a link that is not followed is noted in ``ignored``."""
        names = sub_folders(folder, follow_links=True)
        if self.follow_links:
            return names
        links = [n for n in names if (folder / n).is_symlink()]
        self.ignored += [
            f"{folder / n}: a link to a folder (data.params.follow_links is false)" for n in links
        ]
        return [n for n in names if n not in links]

    def claim(self, folder: Path) -> str | None:
        """Take ``folder`` as one class (or split) folder; why it cannot be one, if so."""
        if folder.is_symlink() and not self.follow_links:
            return "is a link to a folder; set data.params.follow_links: true to read it"
        real = os.path.realpath(folder)
        if _holds(real, self._root):
            return f"links to {real}, which holds the data folder itself (a loop)"
        if real in self._claimed:
            return f"is the same folder as {self._claimed[real]} (through a link)"
        self._claimed[real] = folder
        return None

    def images(self, folder: Path, owner: str = "") -> list[Path]:
        """Image files under ``folder`` not listed before in this scan, sorted."""
        found: list[tuple[Path, str]] = []
        top_real = os.path.realpath(folder)
        entered = [top_real]
        stack = [(Path(folder), top_real)]
        while stack:
            here, here_real = stack.pop()
            try:
                entries = list(os.scandir(here))
            except OSError as exc:
                self.ignored.append(f"{here}: cannot read folder: {exc.strerror or exc}")
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = here / entry.name
                link = entry.is_symlink()
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    is_dir = False
                real = os.path.realpath(path) if link else os.path.join(here_real, entry.name)
                if is_dir:
                    why = self._why_not_enter(real, entered) if link else None
                    if why:
                        self.ignored.append(f"{path}: {why}")
                        continue
                    entered.append(real)
                    stack.append((path, real))
                elif is_image_name(entry.name):
                    found.append((path, real))
        out = []
        for path, real in sorted(found):
            first = self._files.get(real)
            if first is None:
                self._files[real] = (path, owner)
                out.append(path)
            elif first[1] != owner:
                self.repeats.append((path, *first))
        return out

    def _why_not_enter(self, real: str, entered: list[str]) -> str | None:
        if not self.follow_links:
            return "a link to a folder (data.params.follow_links is false)"
        if _holds(real, self._root) or any(_holds(real, e) for e in entered):
            return f"links to {real}, which is already being read (a loop)"
        if real in self._claimed:
            return f"links to {self._claimed[real]}, a class folder of its own"
        return None

    def warn(self) -> None:
        """Log the links that were not followed (one line)."""
        if self.ignored:
            n = len(self.ignored)
            log.warning(
                "did not follow %d link%s: %s%s",
                n,
                "" if n == 1 else "s",
                "; ".join(self.ignored[:5]),
                "; ..." if n > 5 else "",
            )


def file_shape_hint(ctx: DataContext, num_classes: int | None) -> ShapeHint:
    """The shape hint of a file-based source: the spec's size, RGB unless told, the classes."""
    return ShapeHint(image_size=ctx.image_size, channels=ctx.channels or 3, num_classes=num_classes)


def label_order(labels: Iterable[str]) -> list[str]:
    """Distinct labels, sorted; numerically when every label is an integer."""
    distinct = list(dict.fromkeys(labels))
    try:
        return sorted(distinct, key=lambda s: (int(s), s))
    except ValueError:
        return sorted(distinct)
