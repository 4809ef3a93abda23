"""zoo info NAME: a plugin's description, provenance and every parameter."""

from __future__ import annotations

import argparse
import sys

from zoo.cli.output import print_json, print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from zoo.cli.main import add_format_option

    p = sub.add_parser("info", help="describe one plugin and its parameters",
                       description="Show a plugin's description, tags, provenance and parameters.")
    p.add_argument("name", help="registered name, e.g. resnet")
    add_format_option(p)
    return p


def _short(text: str, width: int = 40) -> str:
    """Long defaults (nested blocks) are cut here; --format json shows them whole."""
    return text if len(text) <= width else text[: width - 1] + "…"


def run(args: argparse.Namespace) -> int:
    import zoo

    info = zoo.describe(args.name)
    if args.format == "json":
        print_json(info)
        return 0
    out = sys.stdout
    out.write(f"{info['name']} ({info['recipe_type'] or info['kind']})\n  {info['description']}\n")
    out.write(f"  tags: {', '.join(info['tags']) or '-'}\n")
    if info.get("recipe_type") == "augmentation":
        if "graph" in info.get("capabilities", ()):
            out.write("  runs: in the tf.data graph (batched TF ops) on a GPU, per image in "
                      "Python on CPU (faster there); augmentation.path: graph|python forces one\n")
        else:
            out.write("  runs: per image in Python\n")
    for key in ("family", "input_kind", "param_count", "weights_license"):
        if info.get(key) is not None:
            out.write(f"  {key.replace('_', ' ')}: {info[key]}\n")
    out.write(f"  from: {info['distribution'] or '?'} {info['version'] or ''} (plugin '{info['plugin']}')\n\n")
    rows = []
    for prm in info["parameters"]:
        default = "(required)" if prm["required"] else _short(repr(prm["default"]))
        bounds = " ".join(f"{k}={v}" for k, v in prm["bounds"].items())
        rows.append((prm["name"], prm["type"], default, bounds, prm["description"]))
    if rows:
        print_table(rows, ("PARAMETER", "TYPE", "DEFAULT", "BOUNDS", "DESCRIPTION"))
    else:
        out.write("no parameters\n")
    return 0
