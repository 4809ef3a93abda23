"""Label maps: a file that renames folder names (or CSV labels) to class names.

Folders are often renamed from a translation table (the reference animals data set ships one
as a Python file, meant to be read with ``eval``); zoo reads such tables strictly as data, never
as code:

- ``.yaml``/``.yml``: a mapping ``folder: class name`` (``yaml.safe_load``);
- ``.json``: an object ``{"folder": "class name"}``;
- ``.csv``/``.tsv``: a header row, then two columns: folder name, class name;
- anything else (e.g. a ``translate.py``): the first ``{...}`` in the text, read as a
  YAML flow mapping, so ``translate = {"cane": "dog", ...}`` works without running it.

A name the map does not list is an error, never passed through: nothing is mislabelled
quietly. With ``inverse`` a name is also looked up among the map's values (some tables list
pairs backwards, so both directions are tried).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import yaml

from zoo.errors import Problem, UserError
from zoo.io import FileError, read_text

MAX_LABEL_MAP_BYTES = 16 << 20


def _bad(path: Path, message: str) -> UserError:
    return UserError([Problem(f"label map: {message}", str(path))])


def read_label_map(path: str | Path) -> dict[str, str]:
    """The mapping in ``path`` (see the module docstring for the formats)."""
    path = Path(path)
    try:
        text = read_text(path, MAX_LABEL_MAP_BYTES).removeprefix("\ufeff")
    except FileError as exc:
        why = exc.problems[0].message
        raise _bad(path, why if why == "no such file" else f"cannot read: {why}") from None
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".json":
            data = json.loads(text)
        elif suffix in (".csv", ".tsv"):
            return _read_csv(path, text, "\t" if suffix == ".tsv" else ",")
        else:
            start, end = text.find("{"), text.rfind("}")
            if start < 0 or end < start:
                raise _bad(path, "no {...} mapping found; use a .yaml, .json or .csv file")
            data = yaml.safe_load(text[start : end + 1])
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise _bad(path, f"not valid {suffix.lstrip('.') or 'mapping'} data: {exc}") from None
    if not isinstance(data, dict):
        raise _bad(
            path, f"must be a mapping of folder name to class name, got {type(data).__name__}"
        )
    out: dict[str, str] = {}
    problems = []
    for key, value in data.items():
        if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
            problems.append(
                Problem(
                    f"label map: the class name for {key!r} must be a non-empty "
                    f"string, got {value!r}",
                    str(path),
                )
            )
            continue
        out[str(key)] = str(value)
    if problems:
        raise UserError(problems)
    if not out:
        raise _bad(path, "is empty")
    return out


def _read_csv(path: Path, text: str, delimiter: str) -> dict[str, str]:
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise _bad(path, "needs a header row and at least one row: folder name, class name")
    out: dict[str, str] = {}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        cells = [c.strip() for c in row]
        if len(cells) < 2 or not cells[0] or not cells[1]:
            problems.append(
                Problem(
                    "label map: each row needs two cells: folder name, class name", str(path), line
                )
            )
            continue
        out[cells[0]] = cells[1]
    if problems:
        raise UserError(problems)
    return out


def apply_label_map(
    names: Iterable[str],
    mapping: dict[str, str] | None,
    *,
    inverse: bool = False,
    source: str | Path | None = None,
    what: str = "folder",
) -> dict[str, str]:
    """``{name: class name}`` for each of ``names``; one problem per name the map lacks.

    Without a mapping each name is its own class name.
    """
    names = list(dict.fromkeys(names))
    if mapping is None:
        return {n: n for n in names}
    backwards: dict[str, str] = {}
    if inverse:
        for key, value in mapping.items():
            backwards.setdefault(value, key)
    out: dict[str, str] = {}
    problems = []
    for name in names:
        if name in mapping:
            out[name] = mapping[name]
        elif name in backwards:
            out[name] = backwards[name]
        else:
            hint = ""
            if not inverse and name in mapping.values():
                hint = (
                    " as a key; it is a value there: set label_map_inverse: true to read "
                    "it backwards"
                )
            problems.append(
                Problem(
                    f"{what} '{name}' is not in the label map{hint}",
                    str(source) if source else None,
                )
            )
    if problems:
        raise UserError(problems)
    return out
