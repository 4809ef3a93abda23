"""zoo export RUN --to savedmodel|tflite|onnx: a finished run as a model to serve."""

from __future__ import annotations

import argparse
import sys

import zoo
from zoo.backend import INSTALL_HINT, tensorflow_installed
from zoo.cli.output import print_json
from zoo.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export",
        help="export a trained run for serving (SavedModel, TFLite, ONNX)",
        description="Export a finished run as a model that takes raw pixels (float32 0..255, "
        "NHWC, any batch size) and returns class probabilities, with the run's scaling and "
        "its fitted state inside the graph: serving it needs nothing of zoo. A manifest.json "
        "beside it lists the classes, the input, the scaling, the run's test metrics and "
        "versions. The export is checked against the Keras model before it is kept. "
        "ONNX needs: pip install 'zoo[onnx]'. Exit 2 on an unfinished run, an unknown "
        "format, an existing output (without --force) or a missing dependency.",
    )
    p.add_argument("run_dir", metavar="RUN", help="run folder written by zoo train")
    p.add_argument(
        "--to",
        dest="export_format",
        default=None,
        metavar="FORMAT",
        help="savedmodel (default), tflite or onnx",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="export folder (default RUN/exports/FORMAT, or RUN/exports/tflite-QUANT)",
    )
    p.add_argument("--force", action="store_true", help="replace an earlier export there")
    p.add_argument(
        "--quantize",
        metavar="MODE",
        help="tflite only: float16, dynamic (int8 weights) or int8 (calibrated)",
    )
    p.add_argument(
        "--calibration-images",
        type=int,
        default=100,
        metavar="N",
        help="training images of the run's data to calibrate int8 on (100)",
    )
    p.add_argument(
        "--format",
        default="text",
        metavar="{text,json}",
        help="text for people (default), json for programs (as every verb); the export "
        "format is --to (--format savedmodel|tflite|onnx, its older spelling, still works)",
    )
    p.add_argument(  # the older spelling of --format json
        "--json", dest="format", action="store_const", const="json", help=argparse.SUPPRESS
    )
    return p


def run(args: argparse.Namespace) -> int:
    if args.format not in ("text", "json"):  # --format tflite: the older spelling of --to
        if args.export_format is not None:
            raise UserError(
                f"--format {args.format} and --to {args.export_format}: give the export "
                "format once, with --to (--format is text or json)"
            )
        args.export_format, args.format = args.format, "text"
    args.export_format = args.export_format or "savedmodel"

    if not tensorflow_installed():
        raise UserError(
            "zoo export writes SavedModel, TFLite and ONNX files with TensorFlow, "
            f"which is not installed: {INSTALL_HINT['tensorflow']}"
        )

    show = args.format != "json" and sys.stderr.isatty()

    def progress(message: str) -> None:
        if show:
            sys.stderr.write(f"zoo export: {message}...\n")
            sys.stderr.flush()

    result = zoo.export(
        args.run_dir,
        args.export_format,
        args.out,
        force=args.force,
        quantize=args.quantize,
        calibration_images=args.calibration_images,
        progress=progress,
    )
    if args.format == "json":
        print_json({"ok": True, "run_dir": args.run_dir, **result.to_dict()})
        return 0
    info = result.to_dict()
    label = result.format + (f" ({result.quantization})" if result.quantization else "")
    check = info["check"] or {}
    out = sys.stdout
    out.write(f"exported {label}: {result.artifact} ({info['bytes'] / 1024:.0f} KiB)\n")
    out.write(f"manifest: {result.manifest_path}\n")
    if check:
        out.write(
            f"check on {check['images']} {check['inputs']}: max |difference| from Keras "
            f"{check['max_abs_diff']:.2g}, same top class {check['same_top_class']:.0%}\n"
        )
    return 0
