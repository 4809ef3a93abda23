"""zoo build SPEC: build the spec's model (no data loaded, no training) and describe it."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from typing import Any

from zoo import backend
from zoo.cli.options import add_format_option, add_override_option
from zoo.cli.output import print_json, print_problems
from zoo.errors import UserError
from zoo.spec import load_spec


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "build",
        help="build a spec's model and print its summary and parameter counts",
        description="Build the model a spec describes, without loading data or training, and "
        "print its layers and parameter counts. The input shape and class count come from "
        "model.input_shape/num_classes, data.image_size/channels, or the data source. "
        "Exit 0 when it builds, 2 on a mistake in the spec.",
    )
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    add_override_option(p, "model.params.head.dropout=0.3")
    add_format_option(p)
    return p


def _shape(tensor: Any) -> Any:
    if isinstance(tensor, (list, tuple)):
        return [_shape(t) for t in tensor]
    shape = getattr(tensor, "shape", None)
    return None if shape is None else [None if d is None else int(d) for d in shape]


def _text(shape: Any) -> str:
    """(None, 8, 8, 1) for one shape, a comma-separated list of them for several."""
    if shape and isinstance(shape[0], list):
        return ", ".join(_text(s) for s in shape)
    return str(tuple(shape)) if shape is not None else "?"


def _count(weights: Any) -> int:
    total = 0
    for w in weights:
        size = 1
        for d in w.shape:
            size *= int(d)
        total += size
    return total


def describe_model(model: Any) -> dict[str, Any]:
    """Layers, shapes and parameter counts of a built Keras model, JSON-able."""
    layers = []
    for layer in model.layers:
        try:
            out = _shape(layer.output)
        except (AttributeError, ValueError):  # a layer used several times has no single output
            out = None
        layers.append(
            {
                "name": layer.name,
                "class": type(layer).__name__,
                "output_shape": out,
                "params": _count(layer.weights),
                "trainable": bool(layer.trainable),
            }
        )
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    outputs = model.outputs
    return {
        "model": model.name,
        "input_shape": _shape(model.inputs[0] if len(model.inputs) == 1 else model.inputs),
        "output_shape": _shape(outputs[0] if len(outputs) == 1 else outputs),
        "params": {
            "total": trainable + non_trainable,
            "trainable": trainable,
            "non_trainable": non_trainable,
        },
        "layers": layers,
    }


def run(args: argparse.Namespace) -> int:

    loaded = load_spec(args.spec, args.overrides)  # no TensorFlow yet: spec mistakes fail fast
    if args.format == "text":
        print_problems(loaded.warnings)

    from zoo.runner.build import build_model, import_keras

    try:  # the spec's backend (runtime.backend, else $KERAS_BACKEND, else tensorflow)
        backend.select(backend.requested(loaded.spec.runtime.backend))
    except UserError as exc:
        raise UserError([replace(p, file=p.file or args.spec) for p in exc.problems]) from None
    import_seconds = import_keras()  # the backend loads here, timed apart from the build
    start = time.perf_counter()
    model = build_model(loaded)
    seconds = time.perf_counter() - start
    info = describe_model(model)
    info["architecture"] = loaded.spec.model.architecture
    info["backend"] = backend.active()
    info["import_seconds"] = round(import_seconds, 3)
    info["build_seconds"] = round(seconds, 3)
    if args.format == "json":
        print_json(
            {
                "ok": True,
                "spec": args.spec,
                **info,
                "warnings": [w.to_dict() for w in loaded.warnings],
            }
        )
        return 0
    out = sys.stdout
    model.summary(print_fn=lambda line, *a, **k: out.write(line + "\n"))
    p = info["params"]
    out.write(
        f"architecture: {info['architecture']}\n"
        f"input: {_text(info['input_shape'])}  output: {_text(info['output_shape'])}\n"
        f"parameters: {p['total']:,} total, {p['trainable']:,} trainable, "
        f"{p['non_trainable']:,} non-trainable\n"
        f"built in {seconds:.2f} s on {info['backend']} (after {import_seconds:.1f} s "
        "importing it)\n"
    )
    return 0
