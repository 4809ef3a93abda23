"""Reading the files of a run folder or an export as data that may be hostile.

A run folder can be edited by hand, copied from someone else, or damaged: every reader goes
through :func:`zoo.io.read_bytes`, which opens regular files only (a FIFO would hang,
``/dev/zero`` never ends) and reads at most a bounded size. JSON records are parsed by
:func:`read_json` and validated against their Pydantic model by :func:`validate`, whose
problems are located
(``run.json:12:5: image_shape[0]: ...``) exactly as a spec's are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from zoo.errors import Problem
from zoo.io import FileError, read_bytes, read_text  # noqa: F401 (re-exported)
from zoo.keypath import brief, format_path, one_line

MAX_RECORD_BYTES = 16 << 20  # run.json, metrics.json, manifest.json: kilobytes in practice
MAX_TABLE_BYTES = 64 << 20  # history.csv: a row per epoch
MAX_LOCATED_BYTES = 2 << 20  # beyond this, a problem names the key path but no line

Model = TypeVar("Model", bound=BaseModel)


RecordError = FileError  # a record file that is missing, not regular, too large or not valid


def read_json(path: Path, limit: int = MAX_RECORD_BYTES) -> tuple[Any, str]:
    """``(parsed JSON, its text)``; a damaged file is one located RecordError."""
    text = read_text(path, limit)
    try:
        return json.loads(text), text
    except ValueError as exc:
        line, column = getattr(exc, "lineno", None), getattr(exc, "colno", None)
        why = getattr(exc, "msg", str(exc))
        raise RecordError(
            [Problem(f"is truncated or not JSON ({why})", str(path), line, column)]
        ) from None


def validate(
    model: type[Model], data: Any, path: Path, text: str | None = None, what: str = "record"
) -> Model:
    """``model`` validated from ``data``; a damaged file is one located problem (the first
    mistake, with how many more there are, or every key it lacks)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RecordError([_problem(exc.errors(), path, text, what)]) from None
    except (ValueError, TypeError) as exc:
        raise RecordError(
            [Problem(f"unreadable {what}: {one_line(str(exc), 300)}", str(path))]
        ) from None


def _problem(errors: list[Any], path: Path, text: str | None, what: str) -> Problem:
    def loc(error: Any) -> list[str | int]:
        return [s for s in error.get("loc", ()) if isinstance(s, (str, int))]

    missing = [e for e in errors if e.get("type") == "missing"]
    if missing and len(missing) == len(errors):
        first = loc(missing[0])
        names = ", ".join(format_path(loc(e)) for e in missing[:10])
        where = locate_json(text, first[:-1]) if text is not None else None
        line, column = where if where else (None, None)
        return Problem(
            f"unreadable {what}: lacks {names}",
            str(path),
            line,
            column,
            format_path(first[:-1]) or None,
        )
    error = next(e for e in errors if e.get("type") != "missing")
    steps = loc(error)
    where = locate_json(text, steps) if text is not None else None
    line, column = where if where else (None, None)
    received = f" (received: {brief(error['input'])})" if "input" in error else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    message = one_line(str(error.get("msg", "invalid")).removeprefix("Value error, "), 300)
    message += received + more
    return Problem(
        f"unreadable {what}: {message}", str(path), line, column, format_path(steps) or None
    )


def locate_json(text: str, key_path: list[str | int]) -> tuple[int, int] | None:
    """Line and column (1-based) of the value at ``key_path`` in a JSON text, or None.

    JSON is YAML, so the YAML composer gives each node's position; only on the error path,
    and only for files small enough to compose quickly.
    """
    if len(text) > MAX_LOCATED_BYTES:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    found = None
    for step in key_path:
        if isinstance(node, yaml.MappingNode):
            match = [
                (k, v)
                for k, v in node.value
                if isinstance(k, yaml.ScalarNode) and k.value == str(step)
            ]
            if not match:
                break
            node = match[0][1]
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and 0 <= step < len(node.value)
        ):
            node = node.value[step]
        else:
            break
    if node is not None:
        found = (node.start_mark.line + 1, node.start_mark.column + 1)
    return found


def load_record(
    model: type[Model], path: Path, what: str = "record", limit: int = MAX_RECORD_BYTES
) -> Model:
    """Read, parse and validate one JSON record file (bounded, regular files only); every
    failure is one located :class:`RecordError` that says what the file is."""
    try:
        data, text = read_json(path, limit)
    except RecordError as exc:
        first = exc.problems[0]
        if first.message == "no such file":
            raise
        raise RecordError(
            [Problem(f"unreadable {what}: {first.message}", first.file, first.line, first.column)]
        ) from None
    return validate(model, data, path, text, what)
