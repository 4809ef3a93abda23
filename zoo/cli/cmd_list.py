"""zoo list: the registered architectures, recipes and data sources, filterable."""

from __future__ import annotations

import argparse
import sys

import zoo
from zoo.cli.options import add_format_option
from zoo.cli.output import print_json, print_table, terminal_width
from zoo.spec.components import KINDS as COMPONENT_KINDS

HUB_HINT = (
    "KerasHub's backbones (ViT, DeiT, DINOv2, DINOv3, Swin, ...) come with the zoo-hub "
    "package: pip install ./packages/zoo-hub"
)
# Tags (and families) that a package of this repository adds when it is installed: what
# `zoo list` says instead of an empty table when nothing has one. Only words: the core never
# imports these packages, their entry points register them like any third party's.
OPTIONAL_TAGS = {
    tag: HUB_HINT
    for tag in ("hub", "transformer", "vit", "deit", "dinov2", "dinov3", "swin", "mit")
}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "list",
        help="list plugins (architectures, recipes, data sources)",
        description="List what the zoo can build. Broken plugins are listed with the reason.",
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=("architectures", "recipes", "data", *COMPONENT_KINDS),
        help="only this kind: a kind of plugin, or of the spec's built-in components "
        "(callbacks, optimizers, losses, metrics, schedules)",
    )
    p.add_argument("--pattern", help="glob on the name, e.g. 'res*'")
    p.add_argument("--tag", action="append", help="only entries with this tag (repeatable)")
    p.add_argument("--family", help="architecture family, e.g. resnet")
    p.add_argument("--input-kind", help="gray, rgb, any ...")
    p.add_argument("--license", dest="weights_license", help="licence of the weights")
    p.add_argument("--min-params", type=int, help="at least this many parameters")
    p.add_argument("--max-params", type=int, help="at most this many parameters")
    add_format_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    if args.kind in COMPONENT_KINDS:
        return _components(args)
    reg = zoo.registry()
    entries = reg.list(
        args.kind,
        pattern=args.pattern,
        tag=args.tag,
        family=args.family,
        input_kind=args.input_kind,
        weights_license=args.weights_license,
        min_params=args.min_params,
        max_params=args.max_params,
    )
    broken = [
        {
            "plugin": b.plugin,
            "distribution": b.distribution,
            "version": b.version,
            "reason": b.reason,
        }
        for b in reg.broken
    ]
    conflicts = {name: reg.conflict_message(name) for name in sorted(reg.conflicts)}
    hint = None if entries else _optional_hint(reg, args)
    if args.format == "json":
        print_json(
            {"plugins": [e.summary() for e in entries], "broken": broken, "conflicts": conflicts}
        )
        if hint:
            sys.stderr.write(hint + "\n")
        return 0
    rows = [
        (
            e.name,
            e.recipe_type or e.kind,
            ",".join(sorted(e.tags)),
            f"{e.param_count:,}" if e.param_count else "",
            e.description,
        )
        for e in entries
    ]
    if hint:
        sys.stdout.write(hint + "\n")
    else:
        headers = ("NAME", "KIND", "TAGS", "PARAMS", "DESCRIPTION")
        print_table(rows, headers, width=terminal_width(), fold=(headers.index("TAGS"),))
    for name, message in conflicts.items():
        sys.stdout.write(f"\nCONFLICT {name}: {message}\n")
    if broken:
        sys.stdout.write("\nBROKEN plugins (not loaded):\n")
        for b in reg.broken:
            sys.stdout.write(
                f"  {b.plugin} ({b.distribution or '?'} {b.version or ''}): {b.reason}\n"
            )
    return 0


def _optional_hint(reg: zoo.Registry, args: argparse.Namespace) -> str | None:
    """The line naming the package to install when a tag or family asked for belongs to an
    optional package and nothing registered has it (None otherwise)."""
    asked = [("tag", tag) for tag in args.tag or ()]
    if args.family:
        asked.append(("family", args.family))
    for what, word in asked:
        hint = OPTIONAL_TAGS.get(word)
        if hint is None:
            continue
        if what == "tag" and not any(word in e.tags for e in reg):
            return f"zoo: nothing has the tag '{word}'; {hint}"
        if what == "family" and not any(e.family == word for e in reg):
            return f"zoo: no architecture is of the family '{word}'; {hint}"
    return None


def _components(args: argparse.Namespace) -> int:
    """``zoo list callbacks`` (optimizers, losses, metrics, schedules): what a spec may name."""
    from fnmatch import fnmatch

    from zoo.spec.components import of_kind

    found = [c for c in of_kind(args.kind) if not args.pattern or fnmatch(c.name, args.pattern)]
    if args.format == "json":
        print_json({"components": [c.summary() for c in found]})
        return 0
    rows = [(c.name, c.usage, c.description) for c in found]
    print_table(rows, ("NAME", "IN A SPEC", "DESCRIPTION"), width=terminal_width())
    sys.stdout.write("zoo info NAME shows one's parameters\n")
    return 0
