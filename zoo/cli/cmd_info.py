"""zoo info NAME: a plugin's description, provenance and every parameter."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pydantic import BaseModel

import zoo
from zoo.cli.options import add_format_option
from zoo.cli.output import print_json, print_table, terminal_width
from zoo.plugin.registry import describe_params
from zoo.spec.components import Component
from zoo.spec.sections import GRAPH_MAX_CPU_SIDE as side


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "info",
        help="describe one plugin and its parameters",
        description="Show a plugin's description, tags, provenance and parameters; "
        "parameters that are groups of their own (a head, conv blocks) are listed "
        "with their inner keys (head.pooling, blocks[].convs).",
    )
    p.add_argument("name", help="registered name, e.g. resnet")
    add_format_option(p)
    return p


def _short(text: str, width: int = 40) -> str:
    """Long defaults (nested blocks) are cut here; --format json shows them whole."""
    return text if len(text) <= width else text[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    from zoo.spec.components import find

    component = find(args.name)
    if component is not None and (":" in args.name or args.name not in zoo.registry()):
        return _component(component, args)
    if args.name not in zoo.registry():
        _unknown(args.name)
    info = zoo.describe(args.name)
    if args.format == "json":
        print_json(info)
        return 0
    import textwrap

    out = sys.stdout
    width = terminal_width()
    out.write(f"{info['name']} ({info['recipe_type'] or info['kind']})\n")
    description = info["description"]
    out.write(
        (
            textwrap.fill(description, width, initial_indent="  ", subsequent_indent="  ")
            if width
            else "  " + description
        )
        + "\n"
    )
    out.write(f"  tags: {', '.join(info['tags']) or '-'}\n")
    if info.get("recipe_type") == "augmentation":
        if "graph" in info.get("capabilities", ()):
            out.write(
                "  runs: in the tf.data graph (batched TF ops) on a GPU, and on CPU for "
                f"images up to {side}x{side}; per image in Python for larger ones on CPU "
                "(faster there); augmentation.path: graph|python forces one\n"
            )
        else:
            out.write("  runs: per image in Python\n")
    for key in ("family", "input_kind", "param_count", "weights_license"):
        if info.get(key) is not None:
            out.write(f"  {key.replace('_', ' ')}: {info[key]}\n")
    out.write(
        f"  from: {info['distribution'] or '?'} {info['version'] or ''} (plugin "
        f"'{info['plugin']}')\n\n"
    )
    rows: list[tuple[str, ...]] = []
    for prm in _expanded(zoo.registry().get(args.name).params):
        default = "(required)" if prm["required"] else _short(repr(prm["default"]), 24)
        bounds = " ".join(_bound(k, v) for k, v in prm["bounds"].items())
        rows.append(
            (prm["name"], _short(prm["type"], 24), default, _short(bounds, 24), prm["description"])
        )
    headers: tuple[str, ...] = ("PARAMETER", "TYPE", "DEFAULT", "BOUNDS", "DESCRIPTION")
    fixed = [max([len(h), *(len(str(r[i])) for r in rows)]) + 2 for i, h in enumerate(headers)]
    if rows and width and sum(fixed[:4]) > width - 30:  # narrow: bounds go with the text
        rows = [(n, t, d, f"{desc} [{b}]" if b else desc) for n, t, d, b, desc in rows]
        headers = ("PARAMETER", "TYPE", "DEFAULT", "DESCRIPTION")
    if rows:
        print_table(rows, headers, width=width)
    else:
        out.write("no parameters\n")
    if component is not None:  # a plugin and a built-in of one name (tensorboard)
        kind = component.kind[:-1]
        out.write(f"\n'{args.name}' is also a {kind}: zoo info {kind}:{args.name}\n")
    return 0


def _unknown(name: str) -> None:
    """A name that is neither a plugin nor a built-in component: a did-you-mean over both
    (a broken or clashing plugin of that name says so instead)."""
    from zoo.errors import UserError
    from zoo.spec.components import components
    from zoo.suggest import did_you_mean

    registry = zoo.registry()
    if name in registry.conflicts or registry.broken_plugin(name) is not None:
        registry.get(name)  # raises the clash, or why the plugin of that name did not load
    known = [e.name for e in registry] + [c.name for c in components()]
    hint = did_you_mean(name, known)
    raise UserError(
        f"no plugin or built-in component named '{name}'"
        + (f"; {hint}" if hint else "")
        + " (zoo list shows the plugins; zoo list callbacks|optimizers|losses|metrics|"
        "schedules the spec's built-ins)"
    )


def _component(component: Component, args: argparse.Namespace) -> int:
    """A callback, optimizer, loss, metric or schedule: what it is, how a spec names it,
    its parameters (from the spec model that checks them)."""
    rows = []
    if component.params is not None:
        rows = [r for r in _expanded(component.params) if r["name"] not in component.skip]
    if args.format == "json":
        print_json({**component.summary(), "parameters": rows})
        return 0
    out = sys.stdout
    out.write(f"{component.name} ({component.kind[:-1]})\n  {component.description}\n")
    out.write(f"  in a spec: {component.usage}\n\n")
    if not rows:
        out.write("no parameters\n")
        return 0
    table = [
        (
            r["name"],
            _short(r["type"], 24),
            "(required)" if r["required"] else _short(repr(r["default"]), 24),
            " ".join(_bound(k, v) for k, v in r["bounds"].items()),
            r["description"],
        )
        for r in rows
    ]
    print_table(
        table, ("PARAMETER", "TYPE", "DEFAULT", "BOUNDS", "DESCRIPTION"), width=terminal_width()
    )
    return 0


def _bound(key: str, value: object) -> str:
    if key == "enum" and isinstance(value, list):
        return "|".join(str(v) for v in value)
    short = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    return f"{short.get(key, key + '=')}{value}"


def _nested_models(annotation: object) -> list[type]:
    """Pydantic models inside a parameter's type (Head, list[Block], Regularizer | None)."""
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type] = []
    for arg in typing.get_args(annotation):
        found += [m for m in _nested_models(arg) if m not in found]
    return found


def _expanded(
    model: type[BaseModel],
    prefix: str = "",
    depth: int = 0,
    parent_default: object = None,
) -> list[dict[str, Any]]:
    """Parameter rows of ``model`` with each nested parameter model's rows after its own,
    named by path (``head.pooling``, ``blocks[].convs``). A nested key's default is the one
    its parent's default holds (``head`` defaults to a flatten head: ``head.pooling`` to
    ``flatten``), so the two rows never disagree; keys of list items (``blocks[]``) show
    the item model's own defaults, those of an item added to the list."""
    import typing

    rows = []
    for prm in describe_params(model):
        field = model.model_fields[prm["name"]]
        if isinstance(parent_default, dict) and prm["name"] in parent_default:
            prm = {**prm, "default": parent_default[prm["name"]], "required": False}
        rows.append({**prm, "name": prefix + prm["name"]})
        if depth >= 3:
            continue
        for inner in _nested_models(field.annotation):
            origin = typing.get_origin(_strip_optional(field.annotation))
            listed = origin in (list, tuple)
            step = "[]." if listed else "."
            inherited = None if listed else prm["default"]
            rows += _expanded(inner, f"{prefix}{prm['name']}{step}", depth + 1, inherited)
    return rows


def _strip_optional(annotation: object) -> object:
    import types
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation
