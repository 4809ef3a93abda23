"""zoo predict RUN|EXPORT IMAGE...: the top classes of each image, in percent."""

from __future__ import annotations

import argparse
import sys

from zoo.cli.options import add_format_option
from zoo.cli.output import print_json


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "predict",
        help="classify images with a trained run or an exported model",
        description="Classify image files with a finished run, or with a model exported by "
        "zoo export (its folder, a SavedModel folder, a .tflite or .onnx file), run by its "
        "own runtime (TensorFlow, the TFLite interpreter, ONNX Runtime). Each image is read, "
        "resized and scaled exactly as in training, and its top classes are printed with "
        "their probabilities in percent (like keras' decode_predictions). A run folder needs "
        "only its model and run.json, not the plugin that loaded its data. Exit 2 on a "
        "missing run or an unreadable image (nothing is printed for the others then).",
    )
    p.add_argument(
        "run_dir",
        metavar="RUN",
        help="run folder written by zoo train, or an export written by zoo export",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="classes shown per image (3)")
    add_format_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from zoo.serving.open import open_predictor

    predictions = open_predictor(args.run_dir).predict(args.images, top_k=args.top_k)
    if args.format == "json":
        print_json(
            {"ok": True, "run_dir": args.run_dir, "predictions": [p.to_dict() for p in predictions]}
        )
        return 0
    for p in predictions:
        sys.stdout.write(f"{p}\n")
    return 0
