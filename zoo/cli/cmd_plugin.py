"""zoo plugin new NAME [--out DIR]: a pip-installable plugin package to start from."""

from __future__ import annotations

import argparse
import sys

from zoo.scaffold import names, new_plugin


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "plugin",
        help="start a plugin package (zoo plugin new NAME)",
        description="Tools for plugin authors; the guide is docs/plugins.md.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = actions.add_parser(
        "new",
        help="write a plugin package skeleton",
        description="Write zoo-NAME/: a pip-installable package with the zoo.plugins entry "
        "point, one architecture, scaling recipe, augmentation recipe and data source, and a "
        "test using zoo.testing. Never overwrites an existing folder.",
    )
    new.add_argument("name", help="the plugin's name: lowercase letters, digits, '_'")
    new.add_argument("--out", default=".", help="folder to create zoo-NAME/ in (default: .)")
    return p


def run(args: argparse.Namespace) -> int:

    dest = new_plugin(args.name, args.out)
    n = names(args.name)
    sys.stdout.write(
        f"wrote {dest}: package {n['package']}, entry point '{n['name']}' registering "
        f"{n['name']}_net, {n['name']}_scaling, {n['name']}_jitter, {n['name']}_shapes\n"
        f"next: pip install -e {dest} && (cd {dest} && python -m pytest)\n"
    )
    return 0
