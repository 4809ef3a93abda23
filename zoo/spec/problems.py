"""Turns Pydantic's validation errors into one located, readable line per mistake."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from zoo.errors import Problem
from zoo.keypath import MAX_MESSAGE, brief, format_path, one_line, parse_path  # noqa: F401
from zoo.plugin.registry import Registry
from zoo.spec.dynamic import DISCRIMINATOR_KEYS, PLUGIN_SECTIONS
from zoo.spec.yaml_source import YamlDocument, locate
from zoo.suggest import close_matches, did_you_mean

MAX_PROBLEMS = 50  # reported; a file with thousands of mistakes is shown in part
MAX_ERRORS = 500  # validation errors looked at (the work per error is not tiny)
BARE_NAME_TYPES = frozenset({"model_attributes_type", "model_type", "dict_type"})


def normalize_loc(
    loc: Sequence[str | int], data: Any, error_type: str
) -> tuple[list[str | int], bool]:
    """Drop what Pydantic adds to a location that is not in the file: union tags and labels.

    Also says whether a union member's label was dropped (the error is one alternative).
    """
    out: list[str | int] = []
    alternative = False
    cur = data
    for i, step in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and step in cur:
            out.append(step)
            cur = cur[step]
        elif isinstance(cur, list) and isinstance(step, int) and 0 <= step < len(cur):
            out.append(step)
            cur = cur[step]
        elif isinstance(cur, dict) and any(cur.get(k) == step for k in DISCRIMINATOR_KEYS):
            continue  # the union member Pydantic chose by its tag
        elif last and error_type in ("missing", "extra_forbidden"):
            out.append(step)
        elif (
            isinstance(cur, dict)
            and isinstance(step, str)
            and step.isidentifier()
            and not _is_label(step)
        ):
            out.append(step)  # a key that is missing deeper in the structure
            cur = None
        else:
            alternative = True  # a union member label such as 'int' or 'literal[0]'
    return out, alternative


def _is_label(step: str) -> bool:
    return step in {"int", "float", "str", "bool", "list", "dict", "none"} or step[:1].isupper()


def _unwrap(t: Any, value: Any) -> Any:
    """The model class a value is validated against, through Annotated/Optional/unions."""
    while typing.get_origin(t) is typing.Annotated:
        t = typing.get_args(t)[0]
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        members = [_unwrap(a, value) for a in typing.get_args(t) if a is not type(None)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        if isinstance(value, dict):
            for m in models:
                for key in DISCRIMINATOR_KEYS & set(m.model_fields):
                    args = typing.get_args(m.model_fields[key].annotation)
                    if value.get(key) in args:
                        return m
        return models[0] if len(models) == 1 else (members[0] if len(members) == 1 else None)
    return t


def allowed_keys(model: type[BaseModel], path: Sequence[str | int], data: Any) -> list[str]:
    """Field names of the model that validates the mapping at ``path``."""
    t: Any = model
    cur = data
    for step in path:
        t = _unwrap(t, cur)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(step, str):
            field = t.model_fields.get(step)
            if field is None:
                return []
            t, cur = field.annotation, cur.get(step) if isinstance(cur, dict) else None
        elif typing.get_origin(t) in (list, tuple) and isinstance(step, int):
            t, cur = (
                typing.get_args(t)[0],
                cur[step] if isinstance(cur, list) and step < len(cur) else None,
            )
        elif typing.get_origin(t) is dict:
            t, cur = typing.get_args(t)[1], cur.get(step) if isinstance(cur, dict) else None
        else:
            return []
    t = _unwrap(t, cur)
    if isinstance(t, type) and issubclass(t, BaseModel):
        return list(t.model_fields)
    return []


def _message(
    err: ErrorDetails,
    path: list[str | int],
    doc: YamlDocument,
    model: type[BaseModel],
    registry: Registry,
) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        keys = allowed_keys(model, path[:-1], doc.data)
        hint = did_you_mean(str(path[-1]), keys)
        expected = f" (expected one of: {', '.join(keys)})" if keys else ""
        return f"unknown key {brief(str(path[-1]))}" + (f"; {hint}" if hint else "") + expected
    if kind == "missing":
        return f"missing required key {brief(str(path[-1]))}" if path else "missing value"
    if (
        kind in BARE_NAME_TYPES
        and len(path) == 1
        and path[0] in PLUGIN_SECTIONS
        and isinstance(err.get("input"), str)
    ):
        return _bare_name_message(str(path[0]), err["input"], registry)
    if kind in ("union_tag_invalid", "union_tag_not_found") and path and path[0] in PLUGIN_SECTIONS:
        key, _, filters = PLUGIN_SECTIONS[str(path[0])]
        label = filters.get("recipe_type") or (
            "data source" if filters["kind"] == "data" else filters["kind"]
        )
        names = registry.names(filters["kind"], filters.get("recipe_type"))  # type: ignore[arg-type]
        if kind == "union_tag_not_found":
            return f"missing required key '{key}' (known {label}s: {', '.join(names)})"
        return Registry.unknown_message(str(ctx.get("tag")), label, names)
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "")
        hint = did_you_mean(str(ctx.get("tag")), [t.strip(" '") for t in str(tags).split(",")])
        return (
            f"unknown {ctx.get('discriminator', 'tag').strip(chr(39))} '{ctx.get('tag')}'"
            + (f"; {hint}" if hint else "")
            + f" (expected one of: {tags})"
        )
    msg = err["msg"]
    if kind == "literal_error" and isinstance(err.get("input"), str):
        options = [
            o.strip(" '") for o in str(ctx.get("expected", "")).replace(" or ", ",").split(",")
        ]
        hint = did_you_mean(err["input"], [o for o in options if o])
        if hint:
            msg += f"; {hint}"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    shown = err.get("input")
    if "input" in err and not isinstance(shown, (dict, list)):
        text = brief(shown)
        if text not in msg:
            msg += f" (got {text})"
    return msg


def _bare_name_message(section: str, value: str, registry: Registry) -> str:
    """``scaling: unit`` -> say to write ``scaling: {recipe: unit}``."""
    key, _, filters = PLUGIN_SECTIONS[section]
    names = registry.names(filters["kind"], filters.get("recipe_type"))  # type: ignore[arg-type]
    name = value if value in names else next(iter(close_matches(value, names, n=1)), value)
    return (
        f"expected a mapping, not the bare name {brief(value)}; "
        f"write {section}: {{{key}: {brief(name, quote=False)}}}"
    )


def _value_at(data: Any, path: Sequence[str | int], key: str) -> Any:
    for step in path:
        try:
            data = data[step]
        except (KeyError, IndexError, TypeError):
            return None
    return data.get(key) if isinstance(data, dict) else None


def problems_from_validation(
    exc: ValidationError,
    doc: YamlDocument,
    model: type[BaseModel],
    registry: Registry,
    prefix: Sequence[str | int] = (),
) -> list[Problem]:
    """One Problem per mistake; errors from several union members at one key are merged."""
    merged: dict[tuple, list[str]] = {}
    keys_at: dict[tuple, bool] = {}
    found = []
    errors = exc.errors()
    for err in errors[:MAX_ERRORS]:
        loc = [*prefix, *err["loc"], *((err.get("ctx") or {}).get("zoo_loc") or ())]
        path, alternative = normalize_loc(loc, doc.data, err["type"])
        found.append((err, path, alternative))
    # every proper prefix of a located error: a union member's error there is less precise
    above = {tuple(p[:i]) for _, p, _ in found for i in range(len(p))}
    for err, path, alternative in found:
        if alternative and tuple(path) in above:
            continue  # another member of the same union explains the mistake more precisely
        msg = _message(err, path, doc, model, registry)
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            tag_key = str((err.get("ctx") or {}).get("discriminator", "")).strip("'")
            if (
                err["type"] == "union_tag_not_found"
                or _value_at(doc.data, path, tag_key) is not None
            ):
                path = [*path, tag_key]
        key = tuple(path)
        bucket = merged.setdefault(key, [])
        if msg not in bucket:
            bucket.append(msg)
        keys_at[key] = keys_at.get(key, False) or err["type"] == "extra_forbidden"
    problems = []
    for key, messages in merged.items():
        pos = locate(doc.root, list(key), key=keys_at[key])
        line, col = pos if pos else (None, None)
        problems.append(
            Problem(one_line(" or ".join(messages)), doc.file, line, col, format_path(key) or None)
        )
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return _at_most(problems, len(errors), doc.file)


def _at_most(problems: list[Problem], errors: int, file: str) -> list[Problem]:
    """The first :data:`MAX_PROBLEMS` problems, and a line saying how many were left out."""
    if len(problems) <= MAX_PROBLEMS and errors <= MAX_ERRORS:
        return problems
    hidden = max(errors - MAX_PROBLEMS, len(problems) - MAX_PROBLEMS, 1)
    return [
        *problems[:MAX_PROBLEMS],
        Problem(f"... and about {hidden} more problems not shown", file),
    ]
