"""zoo data SPEC: load and split a spec's data; show split sizes, class counts, sample images.

Prints how many images each split holds and how many of each class, then saves a grid of
sample training images titled with their class names (an image grid) as a PNG.
No TensorFlow is imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from zoo.cli.options import add_format_option, add_override_option
from zoo.cli.output import print_json, print_problems, print_table
from zoo.data.prepare import prepare_data
from zoo.data.prepared import PreparedData
from zoo.data.split import class_counts
from zoo.images import ResizeMode, read_image
from zoo.io import atomic_path
from zoo.spec import load_spec

DEFAULT_SAMPLES = 16


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "data",
        help="load and split a spec's data; print split sizes, save sample images",
        description="Load the spec's data source, split it as the spec says, print the size of "
        "each split and its class counts, and save a grid of sample images.",
    )
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    add_override_option(p, "data.split.test=0.1")
    p.add_argument(
        "--out",
        metavar="PNG",
        default=None,
        help="where to save the sample grid (default: <spec name>-samples.png)",
    )
    p.add_argument("--no-grid", action="store_true", help="do not save a sample grid")
    p.add_argument(
        "--samples",
        type=count,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"images in the grid (default {DEFAULT_SAMPLES}; 0: no grid)",
    )
    p.add_argument("-n", type=count, dest="samples", help=argparse.SUPPRESS)  # preview's old name
    p.add_argument(
        "--split",
        choices=("train", "validation", "test"),
        default="train",
        help="split the samples come from (default train)",
    )
    add_format_option(p)
    return p


def count(text: str) -> int:
    """argparse type for a number of images: 0 or more (a negative count is a usage error)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more (got {text!r})")
    return int(text)


def summarize(prepared: PreparedData) -> dict[str, Any]:
    """Split sizes and class counts, JSON-able."""

    splits = {}
    for name, image_set in prepared.splits().items():
        counts = class_counts(image_set.labels, prepared.num_classes)
        splits[name] = {
            "size": len(image_set),
            "class_counts": dict(zip(prepared.class_names, counts, strict=True)),
        }
    return {
        "class_names": prepared.class_names,
        "num_classes": prepared.num_classes,
        "image_shape": list(prepared.image_shape),
        "cached": any(s.images is not None for s in prepared.splits().values()),
        "cache": prepared.cache,
        "cache_entry": str(prepared.cache_entry) if prepared.cache_entry else None,
        "cache_built": prepared.cache_built,
        "fingerprints": prepared.fingerprints,
        "splits": splits,
        "skipped": list(prepared.skipped),
    }


def _where(report: dict[str, Any]) -> str:
    """Where the decoded images are, as the report's first line says it."""
    cache = report["cache"]
    if cache == "disk":
        how = "decoded into" if report["cache_built"] else "read from"
        return f" ({how} the cache on disk: {report['cache_entry']})"
    if cache == "memory" or (cache == "source" and report["cached"]):
        return " (decoded and held in memory)"
    return " (decoded as read)"


def pick_samples(labels: Any, n: int) -> list[int]:
    """Up to ``n`` rows, taking classes in turn so every class shows (first rows first)."""
    import numpy as np

    labels = np.asarray(labels)
    queues = [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    out: list[int] = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(int(q.pop(0)))
    return out


def save_grid(
    prepared: PreparedData,
    target: str | Path,
    *,
    split: str = "train",
    samples: int = 16,
    resize: ResizeMode = "stretch",
) -> int:
    """Save sample images of ``split`` with their class names as titles; returns how many."""
    import math

    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    image_set = prepared.splits().get(split)
    if image_set is None or len(image_set) == 0:
        return 0
    rows_idx = pick_samples(image_set.labels, samples)
    if not rows_idx:
        return 0
    h, w, c = prepared.image_shape
    images = []
    for i in rows_idx:
        if image_set.images is not None:
            images.append(image_set.images[i])
        else:
            images.append(read_image((image_set.paths or [])[i], (h, w), c, resize))
    cols = min(len(images), 8)
    rows = math.ceil(len(images) / cols)
    fig = Figure(figsize=(cols * 1.6, rows * 1.8), dpi=100)
    FigureCanvasAgg(fig)
    for k, (i, image) in enumerate(zip(rows_idx, images, strict=True)):
        ax = fig.add_subplot(rows, cols, k + 1)
        if image.shape[2] == 1:
            ax.imshow(
                np.asarray(image)[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest"
            )
        else:
            ax.imshow(np.asarray(image), interpolation="nearest")
        ax.set_title(prepared.class_names[int(image_set.labels[i])], fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(target) as tmp:
        fig.savefig(tmp, format="png")
    return len(images)


def run(args: argparse.Namespace) -> int:

    loaded = load_spec(args.spec, args.overrides)
    print_problems(loaded.warnings)
    spec = loaded.spec
    prepared = prepare_data(loaded)
    report = {"spec": args.spec, "source": spec.data.source, **summarize(prepared), "grid": None}
    if not args.no_grid and args.samples > 0:
        target = Path(args.out) if args.out else Path(f"{spec.name}-samples.png")
        shown = save_grid(
            prepared, target, split=args.split, samples=args.samples, resize=spec.data.resize
        )
        report["grid"] = str(target) if shown else None

    if args.format == "json":
        print_json(report)
        return 0
    out = sys.stdout
    h, w, c = prepared.image_shape
    total = sum(s["size"] for s in report["splits"].values())
    out.write(
        f"{args.spec}: source '{spec.data.source}', {total} images of {h}x{w}x{c}, "
        f"{prepared.num_classes} classes" + _where(report) + "\n\n"
    )
    names = [n for n in ("train", "validation", "test") if n in report["splits"]]
    rows = [
        (
            name,
            report["splits"][name]["size"],
            f"{100 * report['splits'][name]['size'] / max(total, 1):.1f}%",
        )
        for name in names
    ]
    print_table(rows, ("SPLIT", "IMAGES", "SHARE"))
    out.write("\n")
    class_rows = [
        (cls, *(report["splits"][n]["class_counts"][cls] for n in names))
        for cls in prepared.class_names
    ]
    print_table(class_rows, ("CLASS", *(n.upper() for n in names)))
    if prepared.skipped:
        out.write(f"\nskipped {len(prepared.skipped)} bad file(s) (data.on_bad_file: skip):\n")
        for line in prepared.skipped[:20]:
            out.write(f"  {line}\n")
        if len(prepared.skipped) > 20:
            out.write(f"  ... and {len(prepared.skipped) - 20} more (--format json lists all)\n")
    if report["grid"]:
        out.write(f"\nsample grid: {report['grid']}\n")
    return 0
