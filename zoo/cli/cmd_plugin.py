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
    new.add_argument(
        "--venv",
        action="store_true",
        help="also make zoo-NAME/.venv: an environment of its own that uses this zoo "
        "(offline: nothing is downloaded), with the plugin installed editable in it",
    )
    return p


def run(args: argparse.Namespace) -> int:

    dest = new_plugin(args.name, args.out)
    n = names(args.name)
    sys.stdout.write(
        f"wrote {dest}: package {n['package']}, entry point '{n['name']}' registering "
        f"{n['name']}_net, {n['name']}_scaling, {n['name']}_jitter, {n['name']}_shapes\n"
    )
    if args.venv:
        from zoo.scaffold.venv import make_plugin_venv

        env = make_plugin_venv(dest)
        sys.stdout.write(
            f"made {env}: its own environment, using this zoo; the plugin is installed in it\n"
            f"next: cd {dest} && .venv/bin/python -m pytest\n"
        )
        return 0
    sys.stdout.write(
        f"next: zoo plugin new {args.name} --venv makes {dest}/.venv, an environment of its own "
        "that uses this zoo (offline); or, in this environment: pip install "
        f"--no-build-isolation --no-deps -e {dest} && (cd {dest} && python -m pytest)\n"
    )
    return 0
