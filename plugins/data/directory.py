"""directory: a folder of class sub-folders, as Keras' ``flow_from_directory`` loads them.

Two layouts (``layout: auto`` tells them apart):

- ``classes``: ``path/<class>/<image>`` (sub-folders of a class folder count too); zoo
  splits the pool by ``data.split`` (stratified, seeded; test first, then validation).
- ``split``: ``path/train/<class>/...``, ``path/validation/<class>/...``, ``path/test/<class>/...``
  (``val``/``valid`` and ``training``/``testing`` are accepted), as ``data.split.export_to``
  writes it; the shipped sets are used, a missing one is carved from train.

Images are PNG, JPEG, BMP (also TIFF, WebP), gray or colour; zoo decodes and resizes them
to ``data.image_size`` (stretched, or kept in aspect and padded, per ``data.resize``).
Class names are the folder names, or come from a label-map file (a translation table such
as ``specs/data/animals_labels.yaml``) read strictly as data. An empty class folder or a
folder the label map lacks is an error naming it, or, with ``data.on_bad_file: skip``, left
out and counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field
from zoo_builtins.data._common import (
    SPLIT_FOLDERS,
    file_shape_hint,
    list_images,
    paths_exist,
    require,
    resolve_path,
    sub_folders,
)

import zoo
from zoo import plugin
from zoo.plugin import (
    ImageSet,
    Problem,
    ShapeHint,
    SourceData,
    UserError,
    apply_label_map,
    read_label_map,
)


class DirectoryParams(zoo.PluginParams):
    path: str = Field(
        description="Folder of class sub-folders, or of train/ validation/ test/ folders of "
        "them; relative to the spec file.",
    )
    layout: Literal["auto", "classes", "split"] = Field(
        "auto",
        description="classes: path/<class>/; split: path/<split>/<class>/; auto: split when "
        "every sub-folder is a split name (train, validation, test).",
    )
    classes: list[str] | None = Field(
        None,
        min_length=1,
        description="Use only these class folders, in this order; null: every sub-folder, sorted.",
    )
    label_map: str | None = Field(
        None,
        description="File mapping folder names to class names (YAML, JSON, CSV, or a text with "
        "one {...} mapping such as a translate.py table); relative to the spec "
        "file.",
    )
    label_map_inverse: bool = Field(
        False,
        description="Also look folder names up among the label map's values.",
    )
    follow_links: bool = Field(False, description="Follow symbolic links to folders.")


def _layout(root: Path, params: DirectoryParams) -> str:
    if params.layout != "auto":
        return params.layout
    names = [n.lower() for n in sub_folders(root, params.follow_links)]
    is_split = "train" in names and all(n in SPLIT_FOLDERS for n in names)
    return "split" if is_split else "classes"


def _split_roots(root: Path, layout: str, follow_links: bool = False) -> dict[str, Path]:
    if layout == "classes":
        return {"all": root}
    roots: dict[str, Path] = {}
    problems = []
    for name in sub_folders(root, follow_links):
        split = SPLIT_FOLDERS.get(name.lower())
        if split is None:
            continue
        if split in roots:
            problems.append(
                Problem(
                    f"two folders for the {split} split: {roots[split].name}/ and {name}/",
                    str(root),
                )
            )
        roots[split] = root / name
    if "train" not in roots:
        problems.append(Problem("layout 'split' needs a train/ folder", str(root)))
    if problems:
        raise UserError(problems)
    return {k: roots[k] for k in ("train", "validation", "test") if k in roots}


def scan(
    params: DirectoryParams, base: Path, on_bad_file: str = "error"
) -> tuple[list[str], dict[str, list[tuple[Path, str]]], list[str]]:
    """Without decoding: class names, ``split -> [(file, class name)]``, and what was skipped.

    Each image file is listed once, by real path (see ``FolderScan``): links neither loop
    nor put one file in two classes or splits; a link not followed is logged.
    """
    from zoo_builtins.data._common import FolderScan

    root = resolve_path(params.path, base)
    require(root, folder=True, key="data.params.path")
    walk = FolderScan(root, params.follow_links)
    roots = _split_roots(root, _layout(root, params), params.follow_links)
    problems: list[Problem] = [
        Problem(why, str(p)) for p in roots.values() if p != root and (why := walk.claim(p))
    ]
    folders_per_split = {split: walk.sub_folders(p) for split, p in roots.items()}
    all_folders = list(dict.fromkeys(f for fs in folders_per_split.values() for f in fs))
    skipped: list[str] = []

    def bad(path: Path, message: str) -> None:
        if on_bad_file == "skip":
            skipped.append(f"{path}: {message}")
        else:
            problems.append(Problem(message, str(path)))

    if params.classes is not None:
        for name in params.classes:
            if name in all_folders:
                continue
            if any((p / name).is_symlink() and (p / name).is_dir() for p in roots.values()):
                problems.append(
                    Problem(
                        f"class folder '{name}' (from data.params.classes) is a "
                        "link to a folder; set data.params.follow_links: true "
                        "to read it",
                        str(root / name),
                    )
                )
            else:
                problems.append(
                    Problem(
                        f"class folder '{name}' (from data.params.classes) does "
                        f"not exist in {root}",
                        str(root / name),
                    )
                )
        wanted = list(dict.fromkeys(params.classes))
    else:
        wanted = sorted(all_folders)
    if not wanted and not problems:
        where = " or ".join(f"{p}" for p in roots.values())
        raise UserError(
            [
                Problem(
                    f"no class sub-folders in {where}: expected "
                    "<folder>/<class name>/<image files>",
                    str(root),
                )
            ]
        )

    mapping = None
    if params.label_map is not None:
        map_path = resolve_path(params.label_map, base)
        mapping = read_label_map(map_path)
    try:
        names = apply_label_map(
            wanted,
            mapping,
            inverse=params.label_map_inverse,
            source=params.label_map and resolve_path(params.label_map, base),
        )
    except UserError as exc:
        if on_bad_file != "skip":
            raise UserError(problems + exc.problems) from None
        names = {}
        for folder in wanted:
            try:
                names.update(apply_label_map([folder], mapping, inverse=params.label_map_inverse))
            except UserError:
                skipped.append(f"{root / folder}: folder '{folder}' is not in the label map")

    readable: list[tuple[str, Path, str]] = []  # (split, class folder, its name)
    for split, split_root in roots.items():
        for folder in wanted:
            if folder not in names or folder not in folders_per_split[split]:
                continue
            why = walk.claim(split_root / folder)  # all first: links into them are not walked
            if why:
                bad(split_root / folder, why)
            else:
                readable.append((split, split_root / folder, folder))
    files: dict[str, list[tuple[Path, str]]] = {split: [] for split in roots}
    for split, path, folder in readable:
        found = list_images(path, params.follow_links, scan=walk, owner=str(path))
        if not found:
            bad(path, "class folder has no images (.png, .jpg, .jpeg, .bmp, .tif, .webp)")
        files[split].extend((p, names[folder]) for p in found)
    for path, first, _ in walk.repeats:
        bad(
            path,
            f"is the same file as {first} (through a link); one file can only be in "
            "one class and one split",
        )
    walk.warn()
    if problems:
        raise UserError(problems)
    used = {name for pairs in files.values() for _, name in pairs}
    class_names = [n for n in dict.fromkeys(names[f] for f in wanted if f in names) if n in used]
    if not class_names:
        raise UserError([Problem("no images found in any class folder", str(root))])
    return class_names, files, skipped


def load_directory(params: DirectoryParams, ctx: zoo.DataContext) -> SourceData:
    class_names, files, skipped = scan(params, ctx.spec_dir, ctx.on_bad_file)
    index = {name: i for i, name in enumerate(class_names)}
    splits = {
        split: ImageSet(
            np.asarray([index[name] for _, name in pairs], dtype=np.int64),
            paths=[p for p, _ in pairs],
        )
        for split, pairs in files.items()
        if pairs or split == "train"
    }
    return SourceData(class_names=class_names, splits=splits, skipped=skipped)


def directory_shape_hint(params: DirectoryParams, ctx: zoo.DataContext) -> ShapeHint:
    """Class folders are counted, no image is opened; None where the folder is not there."""
    num_classes = None
    try:
        base = ctx.spec_dir
        root = resolve_path(params.path, base)
        if params.classes is not None:
            folders = list(dict.fromkeys(params.classes))
        elif root.is_dir():
            roots = _split_roots(root, _layout(root, params))
            folders = sorted(
                {f for p in roots.values() for f in sub_folders(p, params.follow_links)}
            )
        else:
            folders = []
        if folders:
            if params.label_map is not None:
                mapping = read_label_map(resolve_path(params.label_map, base))
                folders = list(
                    apply_label_map(folders, mapping, inverse=params.label_map_inverse).values()
                )
            num_classes = len(set(folders))
    except (UserError, OSError):
        num_classes = None
    return file_shape_hint(ctx, num_classes)


@zoo.hookimpl
def zoo_register_data_sources(registry: plugin.PluginRegistrar) -> None:
    registry.add_data_source(
        "directory",
        params=DirectoryParams,
        factory=load_directory,
        description="A folder of class sub-folders (or train/ validation/ test/ of them), "
        "like Keras's flow_from_directory.",
        tags={"files", "builtin"},
        input_kind="image",
        shape_hint=directory_shape_hint,
        check_spec=lambda params, spec, *, spec_dir: paths_exist(
            spec_dir, (params.path, True, "path"), (params.label_map, False, "label_map")
        ),
    )
