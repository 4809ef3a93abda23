"""csv: a table of image files and their labels, as Keras' ``flow_from_dataframe`` loads them.

By default the table has ``file_paths`` and ``target_names`` columns (``x_col``/``y_col``,
as in ``flow_from_dataframe(x_col='file_paths', y_col='target_names')``); zoo reads them
from a CSV file. Relative file paths are taken from the CSV's folder (or ``root``). An
optional ``split_col`` (values train, validation, test) keeps a split made elsewhere (one
table standing for separate train, validation and test DataFrames); otherwise zoo splits
the rows by ``data.split``.

Class names are the distinct labels (sorted; numerically when all are integers), or the
``classes`` list, or what a label map turns them into. A missing file, an empty label or a
label outside ``classes``/the label map is an error naming the row, or with
``data.on_bad_file: skip``, left out and counted.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from pydantic import Field
from zoo_builtins.data._common import (
    SPLIT_FOLDERS,
    file_shape_hint,
    label_order,
    paths_exist,
    require,
    resolve_path,
)

import zoo
from zoo import plugin
from zoo.plugin import ImageSet, Problem, ShapeHint, SourceData, UserError, read_label_map


class CsvParams(zoo.PluginParams):
    path: str = Field(description="The CSV file; relative to the spec file.")
    x_col: str = Field("file_paths", description="Column with the image file paths.")
    y_col: str = Field("target_names", description="Column with the labels (class names).")
    split_col: str | None = Field(
        None,
        description="Optional column naming each row's split: train, validation or test.",
    )
    root: str | None = Field(
        None,
        description="Folder that relative file paths start from; null: the CSV's folder. "
        "Relative to the spec file.",
    )
    classes: list[str] | None = Field(
        None,
        min_length=1,
        description="The class names in order; a label not listed is an error. Null: the "
        "distinct labels, sorted.",
    )
    label_map: str | None = Field(
        None,
        description="File mapping labels to class names (YAML, JSON, CSV); relative to "
        "the spec file.",
    )
    label_map_inverse: bool = Field(
        False,
        description="Also look labels up among the label map's values.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field separator.")


def read_rows(params: CsvParams, base: Path) -> tuple[Path, list[tuple[int, dict[str, str]]]]:
    """The CSV's path and its rows with their line numbers; checks the columns exist."""
    path = resolve_path(params.path, base)
    require(path, folder=False, key="data.params.path")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f, delimiter=params.delimiter)
            columns = reader.fieldnames or []
            rows = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError([Problem(f"cannot read CSV: {exc}", str(path))]) from None
    wanted = [("x_col", params.x_col), ("y_col", params.y_col)]
    if params.split_col:
        wanted.append(("split_col", params.split_col))
    missing = [
        Problem(
            f"no column '{col}' (data.params.{key}); the columns are: "
            f"{', '.join(columns) or 'none'}",
            str(path),
            1,
        )
        for key, col in wanted
        if col not in columns
    ]
    if missing:
        raise UserError(missing)
    return path, rows


def load_csv(params: CsvParams, ctx: zoo.DataContext) -> SourceData:
    path, rows = read_rows(params, ctx.spec_dir)
    root = resolve_path(params.root, ctx.spec_dir) if params.root else path.parent
    problems: list[Problem] = []
    skipped: list[str] = []
    skip = ctx.on_bad_file == "skip"

    def bad(line: int, message: str) -> None:
        if skip:
            skipped.append(f"{path}:{line}: {message}")
        else:
            problems.append(Problem(message, str(path), line))

    mapping = None
    if params.label_map:
        mapping = read_label_map(resolve_path(params.label_map, ctx.spec_dir))
    backwards = {v: k for k, v in (mapping or {}).items()} if params.label_map_inverse else {}
    allowed = set(params.classes) if params.classes is not None else None

    good: list[tuple[str, Path, str]] = []  # (split, file, class name)
    for line, row in rows:
        file_text = (row.get(params.x_col) or "").strip()
        label = (row.get(params.y_col) or "").strip()
        split = "all"
        if params.split_col:
            split_text = (row.get(params.split_col) or "").strip()
            split = SPLIT_FOLDERS.get(split_text.lower(), "")
            if not split:
                bad(
                    line,
                    f"split '{split_text}' in column '{params.split_col}' is not one of "
                    "train, validation, test",
                )
                continue
        if not file_text:
            bad(line, f"empty file path in column '{params.x_col}'")
            continue
        if not label:
            bad(line, f"empty label in column '{params.y_col}' for {file_text}")
            continue
        if mapping is not None:
            name = mapping.get(label, backwards.get(label))
            if name is None:
                bad(line, f"label '{label}' is not in the label map")
                continue
        else:
            name = label
        if allowed is not None and name not in allowed:
            bad(line, f"label '{name}' is not one of data.params.classes")
            continue
        file = resolve_path(file_text, root)
        if not file.is_file():
            bad(line, f"no such image file: {file}" if not file.exists() else f"not a file: {file}")
            continue
        good.append((split, file, name))
    if problems:
        raise UserError(problems)
    if not good:
        note = f" ({len(skipped)} skipped)" if skipped else ""
        raise UserError([Problem(f"no usable rows{note}", str(path))])
    class_names = list(params.classes) if params.classes else label_order(n for _, _, n in good)
    index = {n: i for i, n in enumerate(class_names)}
    grouped: dict[str, tuple[list[int], list[Path]]] = {}
    for split, file, name in good:
        labels, paths = grouped.setdefault(split, ([], []))
        labels.append(index[name])
        paths.append(file)
    if params.split_col and "train" not in grouped:
        raise UserError(
            [Problem(f"no row has split 'train' in column '{params.split_col}'", str(path))]
        )
    splits = {
        s: ImageSet(np.asarray(labels, dtype=np.int64), paths=paths)
        for s, (labels, paths) in grouped.items()
    }
    return SourceData(class_names=class_names, splits=splits, skipped=skipped)


def csv_shape_hint(params: CsvParams, ctx: zoo.DataContext) -> ShapeHint:
    """Counts the distinct labels (no image is opened); None where the CSV is not there."""
    num_classes = None
    if params.classes is not None:
        num_classes = len(set(params.classes))
    else:
        try:
            _, rows = read_rows(params, ctx.spec_dir)
            labels = {(r.get(params.y_col) or "").strip() for _, r in rows} - {""}
            if params.label_map:
                mapping = read_label_map(resolve_path(params.label_map, ctx.spec_dir))
                labels = {mapping.get(label, label) for label in labels}
            num_classes = len(labels) or None
        except (UserError, OSError):
            num_classes = None
    return file_shape_hint(ctx, num_classes)


@zoo.hookimpl
def zoo_register_data_sources(registry: plugin.PluginRegistrar) -> None:
    registry.add_data_source(
        "csv",
        params=CsvParams,
        factory=load_csv,
        description="A CSV table of image file paths and labels, like Keras's flow_from_dataframe.",
        tags={"files", "builtin"},
        input_kind="image",
        shape_hint=csv_shape_hint,
        check_spec=lambda params, spec, *, spec_dir: paths_exist(
            spec_dir,
            (params.path, False, "path"),
            (params.root, True, "root"),
            (params.label_map, False, "label_map"),
        ),
    )
