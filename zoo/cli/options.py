"""Options several verbs share, declared once so each says the same thing."""

from __future__ import annotations

import argparse


def add_format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for people (default), json for programs",
    )


def add_override_option(
    parser: argparse.ArgumentParser, example: str = "training.epochs=3"
) -> None:
    """``--set KEY=VALUE`` (repeatable): spec overrides, validated like the file."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a spec key, e.g. {example} (repeatable)",
    )
