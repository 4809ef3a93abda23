"""zoo preview SPEC --image PATH --out grid.png: see what a spec's augmentation does.

The original image beside N augmented versions, made by the very augmenter training uses
(same recipe, same seed). ``--histogram`` adds per-channel pixel histograms before and after
the spec's scaling.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from zoo.cli.cmd_data import count
from zoo.cli.options import add_format_option, add_override_option
from zoo.cli.output import print_json
from zoo.data.recipes import make_augmenter, make_scaling
from zoo.data.shape import shape_hint
from zoo.errors import Problem, UserError
from zoo.images import decode_image, read_image
from zoo.io import atomic_path
from zoo.spec import load_spec
from zoo.spec.loader import LoadedSpec

MAX_COLUMNS = 6
CHANNEL_NAMES = {1: ("Gray",), 3: ("Red", "Green", "Blue")}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "preview",
        help="draw an image beside augmented versions of it (and pixel histograms)",
        description="Read one image, resize it like the spec's data, and draw it beside N "
        "versions augmented by the spec's augmentation recipe (seeded by the spec's seed) into "
        "a PNG grid. --histogram adds per-channel pixel histograms before and after scaling. "
        "Exit 0 on success, 2 on a mistake in the spec or an unreadable image.",
    )
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    p.add_argument("--image", required=True, metavar="PATH", help="the image to augment")
    p.add_argument(
        "--out", metavar="PNG", help="where to write the grid (default: <spec name>-preview.png)"
    )
    p.add_argument(
        "--samples",
        type=count,
        default=8,
        dest="n",
        metavar="N",
        help="augmented versions (default 8; 0: the original alone)",
    )
    p.add_argument("-n", type=count, dest="n", help=argparse.SUPPRESS)  # the old name
    p.add_argument(
        "--histogram",
        action="store_true",
        help="add R/G/B pixel histograms before and after the spec's scaling",
    )
    add_override_option(p, "augmentation.params.p=1")
    add_format_option(p)
    return p


def _image_size(loaded: LoadedSpec, image: np.ndarray) -> tuple[int, int]:

    size = loaded.spec.data.image_size or shape_hint(loaded).image_size
    return (int(size[0]), int(size[1])) if size else (int(image.shape[0]), int(image.shape[1]))


def preview_images(
    loaded: LoadedSpec, image_path: str | Path, n: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The image as training sees it (size, channels) and ``n`` augmented versions."""

    spec = loaded.spec
    channels = spec.data.channels or shape_hint(loaded).channels
    raw = decode_image(image_path)
    image = read_image(image_path, _image_size(loaded, raw), channels, spec.data.resize)
    augmenter = make_augmenter(loaded, image.shape)
    if augmenter is None:
        return image, []
    return image, [np.asarray(augmenter(image), dtype=np.uint8) for _ in range(n)]


def _scaled(loaded: LoadedSpec, image: np.ndarray) -> tuple[np.ndarray, str]:

    scaling = make_scaling(loaded)
    label = f"after scaling '{loaded.spec.scaling.recipe}'"
    try:
        return np.asarray(scaling(image.astype(np.float32)), dtype=np.float32), label
    except RuntimeError:  # a fitted recipe ('dataset'): fit it on this one image
        scaling.fit(image[None])
        return (
            np.asarray(scaling(image.astype(np.float32)), dtype=np.float32),
            label + " (fitted on this image)",
        )


def draw(
    path: str | Path,
    image: np.ndarray,
    augmented: list[np.ndarray],
    title: str,
    histograms: tuple[np.ndarray, str] | None = None,
) -> None:
    """Write the grid (and histograms) to ``path`` as a PNG, atomically."""
    from matplotlib.figure import Figure

    tiles = [("Original", image)] + [(f"#{i}", a) for i, a in enumerate(augmented, start=1)]
    cols = min(MAX_COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    hist_rows = 2 if histograms is not None else 0
    fig = Figure(figsize=(2.4 * max(cols, 3), 2.6 * rows + 2.4 * hist_rows), layout="constrained")
    parts: list[Any] = (
        list(fig.subfigures(2, 1, height_ratios=[2.6 * rows, 2.4 * hist_rows]).flat)  # type: ignore[union-attr]  # an array for 2 rows
        if hist_rows
        else [fig]
    )
    parts[0].suptitle(title)
    axes = np.atleast_1d(parts[0].subplots(rows, cols, squeeze=False)).ravel()
    gray = image.shape[-1] == 1
    for ax, (label, tile) in zip(axes, tiles, strict=False):
        ax.imshow(tile[..., 0] if gray else tile, cmap="gray" if gray else None, vmin=0, vmax=255)
        ax.set_title(label, fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    if histograms is not None:
        scaled, label = histograms
        names = CHANNEL_NAMES.get(
            image.shape[-1], tuple(f"channel {c}" for c in range(image.shape[-1]))
        )
        hist_axes = parts[1].subplots(2, len(names), squeeze=False)
        for row, (pixels, what) in enumerate(
            ((image.astype(np.float32), "before scaling"), (scaled, label))
        ):
            for c, name in enumerate(names):
                ax = hist_axes[row][c]
                ax.hist(
                    pixels[..., c].ravel(),
                    bins=100,
                    alpha=0.6,
                    color={"Red": "tab:red", "Green": "tab:green", "Blue": "tab:blue"}.get(
                        name, "gray"
                    ),
                )
                ax.set_title(f"{name}, {what}", fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def run(args: argparse.Namespace) -> int:

    if args.n < 0:
        raise UserError([Problem(f"-n must be 0 or more (got {args.n})", "-n")])
    loaded = load_spec(args.spec, args.overrides)
    spec = loaded.spec
    image, augmented = preview_images(loaded, args.image, args.n)
    args.out = args.out or f"{spec.name}-preview.png"
    recipe = spec.augmentation.recipe if spec.augmentation is not None else None
    title = (
        f"{Path(args.image).name}: augmentation '{recipe}' (seed {spec.seed})"
        if recipe
        else f"{Path(args.image).name}: the spec has no augmentation"
    )
    histograms = _scaled(loaded, image) if args.histogram else None
    draw(args.out, image, augmented, title, histograms)
    if args.format == "json":
        print_json(
            {
                "ok": True,
                "out": str(args.out),
                "augmented": len(augmented),
                "recipe": recipe,
                "image_shape": list(image.shape),
                "histogram": bool(args.histogram),
            }
        )
    else:
        sys.stdout.write(
            f"wrote {args.out}: the original and {len(augmented)} augmented "
            f"version{'s' if len(augmented) != 1 else ''}"
            + (" with pixel histograms" if args.histogram else "")
            + "\n"
        )
        for w in loaded.warnings:
            sys.stderr.write(f"{w}\n")
    return 0
