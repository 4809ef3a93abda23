"""zoo cache ls | clear: the decoded-image cache on disk (data.cache: disk or auto)."""

from __future__ import annotations

import argparse
import sys

from zoo.cli.options import add_format_option
from zoo.cli.output import print_json, print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "cache",
        help="list or clear the decoded-image cache on disk",
        description="Folders of images are decoded and resized once into a cache on disk "
        "(ZOO_CACHE_DIR, default ~/.cache/zoo/data) and read back by every later run over the "
        "same files with the same size, channels and resize mode. 'ls' lists the entries, "
        "most recently used first; 'clear' removes them (all, or the KEYs given); an entry "
        "being built is left alone. A changed file never reuses an entry: its key changes.",
    )
    p.add_argument("action", choices=("ls", "clear"), help="ls: list entries; clear: remove")
    p.add_argument("keys", nargs="*", metavar="KEY", help="with clear: only these entries")
    add_format_option(p)
    return p


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def run(args: argparse.Namespace) -> int:
    from zoo.data.disk_cache import cache_root, clear, entries

    root = cache_root()
    if args.action == "clear":
        removed = clear(args.keys or None)
        if args.format == "json":
            print_json({"ok": True, "root": str(root), "removed": removed})
        else:
            sys.stdout.write(
                f"removed {len(removed)} entr{'y' if len(removed) == 1 else 'ies'} from {root}\n"
            )
        return 0
    if args.keys:
        sys.stderr.write("zoo: KEYs go with 'clear'; 'ls' lists every entry\n")
        return 2
    rows = entries()
    if args.format == "json":
        print_json({"root": str(root), "entries": rows})
        return 0
    sys.stdout.write(f"{root}\n")
    print_table(
        [
            (
                r["key"][:16],
                "" if r["images"] is None else str(r["images"]),
                "x".join(map(str, r["shape"] or [])),
                _size(r["bytes"]),
                r["used"],
                r["source"] or ("(incomplete)" if not r["whole"] else ""),
            )
            for r in rows
        ],
        ("KEY", "IMAGES", "SHAPE", "SIZE", "USED", "SOURCE"),
    )
    total = sum(r["bytes"] for r in rows)
    sys.stdout.write(f"{len(rows)} entries, {_size(total)}\n")
    return 0
