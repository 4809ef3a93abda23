"""Inference latency of a run's Keras model against its exports, on this CPU.

Two models: the reference gray CNN on the bundled digits (specs/digits_cnn.yaml, 16x16x1,
trained for one epoch) and a ResNet-18 at 64x64x3 (ImageNet stem, trained for one epoch
on 200 digits upscaled to 64x64 RGB: its weights are as good as random, which does not
change latency). Each run is exported with ``zoo.export`` and each artifact is timed with
the runtime ``zoo predict`` uses for it:

- Keras: ``model.keras`` called eagerly after NumPy scaling (what ``zoo predict RUN`` does);
- SavedModel: its ``serving_default`` signature (a traced tf.function);
- TFLite float32 and int8 (calibrated on 100 training images): the LiteRT interpreter;
- ONNX Runtime (CPU provider), when ``zoo[onnx]`` is installed.

Every engine gets float32 raw pixels (uint8 values: 32 of the run's test images) and
includes its scaling. Latency is per call, for one image and for a batch of 32: each is
measured in ``--rounds`` rounds of about ``--seconds`` each after a warm-up, engines taking
turns, and the fastest round's mean is reported (other processes on a shared machine only
ever add time). Ratios are Keras time / engine time (above 1: faster than Keras).
``max diff`` is the largest difference from Keras' probabilities on the batch, ``same top``
the share of images with the same top class.

    python benchmarks/bench_export.py [--rounds 5] [--seconds 0.6] [--json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "digits CNN 16x16x1": (
        str(ROOT / "specs" / "digits_cnn.yaml"),
        ["training.epochs=1", "training.verbose=0", "callbacks=[]"],
    ),
    "ResNet-18 64x64x3": (
        {
            "name": "bench-resnet18",
            "seed": 1,
            "data": {
                "source": "digits",
                "params": {"limit": 200},
                "image_size": [64, 64],
                "channels": 3,
            },
            "scaling": {"recipe": "torch"},
            "model": {"architecture": "resnet18"},
            "training": {"epochs": 1, "batch_size": 32, "verbose": 0},
        },
        [],
    ),
}
EXPORTS = [
    ("SavedModel", "savedmodel", None),
    ("TFLite float32", "tflite", None),
    ("TFLite int8", "tflite", "int8"),
    ("ONNX Runtime", "onnx", None),
]


def calls_per_round(call: Callable[[], Any], seconds: float) -> int:
    """How many calls fill about ``seconds``, after a warm-up (tracing, allocation)."""
    for _ in range(3):
        call()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 4 or n < 2:
        call()
        n += 1
    return max(2, n * 4)


def best_rounds(calls: list[Callable[[], Any]], rounds: int, seconds: float) -> list[float]:
    """Seconds per call of each callable: the fastest of ``rounds`` rounds, each a mean over
    about ``seconds``. Rounds go round-robin, so a burst of load elsewhere on a shared
    machine hits every engine alike instead of one."""
    counts = [calls_per_round(call, seconds) for call in calls]
    best = [float("inf")] * len(calls)
    for _ in range(rounds):
        for i, (call, n) in enumerate(zip(calls, counts, strict=True)):
            t0 = time.perf_counter()
            for _ in range(n):
                call()
            best[i] = min(best[i], (time.perf_counter() - t0) / n)
    return best


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


def test_images(run: Any) -> np.ndarray:
    """The run's own test images (uint8 at its size): realistic inputs for int8."""
    from zoo.data.prepare import prepare_data
    from zoo.runner.evaluate import split_images

    images, _, _ = split_images(prepare_data(run.loaded_spec), run, str(run.path))
    return images


def bench_model(
    label: str, spec: Any, overrides: list[str], out: Path, rounds: int, seconds: float
) -> list[dict[str, Any]]:
    import zoo
    from zoo.serving.artifact import ExportedModel

    print(f"{label}: training one epoch...", flush=True)
    run_dir = zoo.train(spec, out=out, overrides=overrides, verbose=0).run_dir
    run = zoo.load_run(run_dir)
    batch = test_images(run)[:32]
    engines: list[tuple[str, Callable[[np.ndarray], np.ndarray], int]] = [
        ("Keras (model.keras)", lambda x: run._probs(x, 32), size_of(run_dir / "model.keras"))
    ]
    for name, fmt, quantize in EXPORTS:
        if fmt == "onnx" and importlib.util.find_spec("tf2onnx") is None:
            print(f"  {name}: skipped (pip install 'zoo[onnx]')")
            continue
        print(f"  exporting {name}...", flush=True)
        result = zoo.export(run, fmt, quantize=quantize, force=True)
        exported = ExportedModel(result.path)
        engines.append(
            (
                f"{name} ({exported.runtime.engine})",
                lambda x, e=exported: e.runtime(x.astype(np.float32)),
                size_of(result.artifact),
            )
        )
    reference = np.asarray(run._probs(batch, 32))
    print("  timing...", flush=True)
    single = batch[:1]
    ones = best_rounds([lambda c=call: c(single) for _, call, _ in engines], rounds, seconds)
    manys = best_rounds([lambda c=call: c(batch) for _, call, _ in engines], rounds, seconds)
    rows = []
    for (name, call, size), one, many in zip(engines, ones, manys, strict=True):
        probs = np.asarray(call(batch))
        rows.append(
            {
                "model": label,
                "engine": name,
                "bytes": size,
                "ms_1": one * 1e3,
                "ms_32": many * 1e3,
                "max_diff": float(np.max(np.abs(probs - reference))),
                "same_top": float(np.mean(probs.argmax(1) == reference.argmax(1))),
            }
        )
    keras_1, keras_32 = rows[0]["ms_1"], rows[0]["ms_32"]
    for row in rows:
        row["ratio_1"], row["ratio_32"] = keras_1 / row["ms_1"], keras_32 / row["ms_32"]
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = (
        "model",
        "engine",
        "size",
        "1 image ms",
        "vs Keras",
        "batch 32 ms",
        "vs Keras",
        "max diff",
        "same top",
    )
    cells = [headers] + [
        (
            r["model"],
            r["engine"],
            f"{r['bytes'] / 1e6:.2f} MB",
            f"{r['ms_1']:.2f}",
            f"{r['ratio_1']:.1f}x",
            f"{r['ms_32']:.2f}",
            f"{r['ratio_32']:.1f}x",
            f"{r['max_diff']:.1e}",
            f"{r['same_top']:.0%}",
        )
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.6, help="length of one round")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    args = parser.parse_args()
    from zoo.serving.runtimes import usable_cpus

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, (spec, overrides) in MODELS.items():
            rows += bench_model(label, spec, overrides, Path(tmp), args.rounds, args.seconds)
    print(
        f"\nlatency per call on {usable_cpus()} CPUs (best of {args.rounds} rounds); "
        "vs Keras = Keras time / engine time"
    )
    print_table(rows)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
