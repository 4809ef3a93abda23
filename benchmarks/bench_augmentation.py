"""Images per second of augmentation: in the tf.data graph vs albumentations per image.

For the ``light`` and ``keras_style`` recipes at 64x64 and 224x224 (RGB, batches of 32,
images already in memory so only augmentation, scaling and batching are timed), every case
the training split of zoo's own ``build_pipelines`` (same spec, images, batch size and seed;
only ``augmentation.path`` differs):

- graph: ``path: graph``, the recipe's ``graph`` capability: batched, seeded TF ops inside
  the tf.data map (XLA-compiled, ``num_parallel_calls=AUTOTUNE`` over both cores).
- python, threads: ``path: python`` with ``augment_workers=0``: the albumentations pipeline
  per image in a parallel ``numpy_function`` map (what zoo does for short runs).
- python, processes: ``path: python`` with one worker process per usable CPU (what zoo does
  from ``WORKER_MIN_IMAGES`` augmented images on).
- graph/python: the graph against the faster of the two python ways.
- the notebook baseline: ``ImageDataGenerator(preprocessing_function=..., rescale=1/255)``
  ``.flow(x, y, batch_size=32)`` with the same albumentations pipeline built once (as in
  ``bench_pipeline.py``, whose helpers this reuses); for ``keras_style`` also the generator's
  own arguments (rotation, shifts, flips, brightness), its native way of doing it.

Each zoo case reads the training split as ``zoo train`` does (one endless stream, from epoch
0 on); after warm-up epochs for ``WARM_UP_SECONDS`` (tracing, XLA compilation, thread and
worker process start, so the workers are measured running) it times whole epochs until
``--seconds`` have passed; cases are interleaved and the best of
``--repeat`` is kept (another process's busy moment hurts every case alike).

A second table (left out with ``--no-kernels``) times the work itself on one thread, in a
subprocess limited to one TensorFlow and one OpenCV thread, microseconds per image: the
albumentations pipeline called on one image, the in-graph recipe on a batch of 32, and the
affine warp alone both ways (``cv2.warpAffine`` on uint8 against the graph path's XLA bilinear
gathers, every image warped). It says where the pipeline ratios come from: per-image Python
overhead, which the graph removes, weighs most on small images; on large ones the pixels'
work dominates, and there OpenCV's warp is as fast as XLA's. Run:
``python benchmarks/bench_augmentation.py [--images 1024] [--seconds 1.5]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import legacy_generator  # noqa: E402

RECIPES = ("light", "keras_style")
# Warm-up of every zoo case: whole epochs for at least this long. Worker processes take about
# two seconds to start (importing albumentations); until then zoo augments in its own process.
WARM_UP_SECONDS = 4.0


def make_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random images (uint8 NHWC): like photos, unlike white noise, to the codecs."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 8, 8, 3)).astype(np.float32)
    import cv2

    return (
        np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC) for im in small])
        .clip(0, 255)
        .astype(np.uint8)
    )


def spec_for(recipe: str, path: str, size: int, batch: int) -> Any:
    import zoo

    aug = json.dumps({"recipe": recipe, "path": path})
    return zoo.load_spec_text(
        textwrap.dedent(f"""\
        name: bench
        seed: 0
        data: {{source: digits, image_size: [{size}, {size}], channels: 3}}
        model: {{architecture: mlp}}
        scaling: {{recipe: unit}}
        augmentation: {aug}
        training: {{batch_size: {batch}, epochs: 1}}
        """)
    )


def bench_zoo(
    recipe: str, path: str, images: np.ndarray, batch: int, seconds: float, workers: int = 0
) -> float:
    """Images/s of the training split of ``build_pipelines`` (warm-up epoch excluded)."""
    from zoo.data.pipeline import build_pipelines
    from zoo.data.prepared import PreparedData
    from zoo.plugin.source import ImageSet

    n, size = len(images), images.shape[1]
    labels = np.arange(n) % 10
    prepared = PreparedData(
        class_names=[f"c{i}" for i in range(10)],
        train=ImageSet(labels, images=images),
        validation=None,
        test=None,
        image_shape=images.shape[1:],
    )
    spec = spec_for(recipe, path, size, batch)
    # As zoo.train reads it: one endless stream from epoch 0 on, steps_per_epoch at a time.
    pipes = build_pipelines(prepared, spec, augment_workers=workers, first_epoch=0)
    stream = iter(pipes.train)
    steps = pipes.steps_per_epoch

    def epoch() -> int:
        return sum(int(next(stream)[0].shape[0]) for _ in range(steps))

    _timed(epoch, WARM_UP_SECONDS)  # tracing, XLA compilation, threads, worker processes
    return _timed(epoch, seconds)


def _timed(epoch: Any, seconds: float) -> float:
    """Images/s over whole epochs (``epoch()`` returns its image count) until ``seconds``."""
    start = time.perf_counter()
    seen = 0
    while True:
        seen += epoch()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            gc.collect()  # a finished pipeline's worker processes stop here, untimed
            return seen / elapsed


def bench_generator(
    recipe: str, images: np.ndarray, batch: int, seconds: float, native: bool
) -> float | None:
    generator_class, _where = legacy_generator()
    if generator_class is None:
        return None
    if native:  # keras_style's defaults as the generator's own arguments
        gen = generator_class(
            rotation_range=20,
            width_shift_range=0.2,
            height_shift_range=0.2,
            horizontal_flip=True,
            vertical_flip=True,
            brightness_range=(0.7, 1.3),
            fill_mode="nearest",
            rescale=1.0 / 255,
        )
    else:
        import zoo

        entry = zoo.registry().get(recipe, "recipe")
        ctx = zoo.AugmentContext(image_size=images.shape[1:3], channels=3, seed=0)
        pipeline = entry.factory(entry.params(), ctx).pipeline  # built once

        def transform(image: np.ndarray) -> np.ndarray:
            return pipeline(image=image.astype(np.uint8))["image"].astype(np.float32)

        gen = generator_class(preprocessing_function=transform, rescale=1.0 / 255)
    labels = np.arange(len(images)) % 10
    flow = gen.flow(images, labels, batch_size=batch, shuffle=True, seed=0)
    for _ in range(len(flow)):  # warm-up
        next(flow)
    return _timed(lambda: sum(len(next(flow)[0]) for _ in range(len(flow))), seconds)


def run_case(
    key: str, recipe: str, images: np.ndarray, batch: int, seconds: float, workers: int
) -> float | None:
    """Images/s of one column of the table."""
    if key == "threads":
        return bench_zoo(recipe, "python", images, batch, seconds)
    if key == "processes":
        return bench_zoo(recipe, "python", images, batch, seconds, workers)
    if key == "graph":
        return bench_zoo(recipe, "graph", images, batch, seconds)
    return bench_generator(recipe, images, batch, seconds, native=key == "native")


def _per_image_us(call: Any, images: int, seconds: float) -> float:
    """Microseconds per image of ``call()`` (which handles ``images`` images), best of 3."""
    call()  # warm-up: tracing, XLA compilation
    best = float("inf")
    for _ in range(3):
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < seconds / 3:
            call()
            calls += 1
        best = min(best, (time.perf_counter() - start) / calls / images * 1e6)
    return best


def kernels(sizes: list[int], seconds: float) -> None:
    """The one-thread table (run in its own process: thread limits must come first)."""
    import cv2
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cv2.setNumThreads(1)

    from zoo_builtins.recipes import _graph_ops

    import zoo

    header = (
        f"{'recipe':<12} {'size':>4} {'albu/image':>10} {'graph/image':>11} "
        f"{'ratio':>6} {'cv2 warp':>9} {'XLA warp':>9}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        batch = make_images(32, size)
        batch_f = tf.constant(batch, tf.float32)
        seed = tf.constant([1, 2], tf.int64)
        for recipe in RECIPES:
            entry = zoo.registry().get(recipe, "recipe")
            ctx = zoo.AugmentContext(image_size=(size, size), channels=3, seed=0)
            params = entry.params()
            pipeline = entry.factory(params, ctx).pipeline
            graph = entry.capabilities.graph(params, ctx)
            warp = graph.recipe.affine  # type: ignore[attr-defined]
            albu = _per_image_us(lambda: [pipeline(image=im) for im in batch], 32, seconds)
            in_graph = _per_image_us(lambda: graph(batch_f, seed).numpy(), 32, seconds)
            matrix = cv2.getRotationMatrix2D((size / 2, size / 2), 10, 1.05)
            border = getattr(cv2, f"BORDER_{warp.border_mode.upper()}")
            cv2_warp = _per_image_us(
                lambda: [
                    cv2.warpAffine(
                        im, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=border
                    )
                    for im in batch
                ],
                32,
                seconds,
            )
            maps = tf.constant(np.tile([[0.96, -0.17, 8.0, 0.17, 0.96, -3.0]], (32, 1)), tf.float32)

            def warp_all(
                x: Any, m: Any, mode: str = warp.border_mode, fill: float = warp.fill
            ) -> Any:
                if size * size < _graph_ops.LOOP_MIN_PIXELS:  # as the recipe does: batched
                    return _graph_ops._warp(tf, x, m, mode, fill)
                return tf.map_fn(  # or one image at a time
                    lambda a: _graph_ops._warp(tf, a[0][None], a[1][None], mode, fill)[0],
                    (x, m),
                    fn_output_signature=tf.float32,
                )

            xla = tf.function(warp_all, jit_compile=True, autograph=False)
            xla_warp = _per_image_us(lambda: xla(batch_f, maps).numpy(), 32, seconds)
            print(
                f"{recipe:<12} {size:>4} {albu:>8.0f}us {in_graph:>9.0f}us "
                f"{albu / in_graph:>5.1f}x {cv2_warp:>7.0f}us {xla_warp:>7.0f}us",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=1024, help="images at 64x64 (a quarter at 224)"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=1.5, help="timed per case and repeat")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-idg", action="store_true", help="skip ImageDataGenerator")
    parser.add_argument("--no-kernels", action="store_true", help="skip the one-thread table")
    parser.add_argument("--kernels-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.kernels_only:
        kernels(args.sizes, args.seconds)
        return 0

    import tensorflow  # noqa: F401 (imported by every case: timed by none)

    from zoo.data.workers import MAX_WORKERS, usable_cpus

    workers = min(MAX_WORKERS, usable_cpus())
    print(
        f"batch {args.batch}, >= {args.seconds} s timed after {WARM_UP_SECONDS:g} s of warm-up, "
        f"best of "
        f"{args.repeat}, {os.cpu_count()} CPUs, python processes: {workers}; "
        "images/s (higher is better)\n"
    )
    header = (
        f"{'recipe':<12} {'size':>4} {'images':>6} {'python thr':>10} {'python proc':>11} "
        f"{'graph':>7} {'graph/python':>12} {'IDG+albu':>9} {'IDG native':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n = args.images if size <= 64 else max(args.batch * 2, args.images // 4)
        images = make_images(n, size)
        for recipe in RECIPES:
            keys = ["threads", "processes", "graph"]
            if not args.no_idg:
                keys += ["idg", "native"] if recipe == "keras_style" else ["idg"]
            rates: dict[str, list[float]] = {k: [] for k in keys}
            for _ in range(args.repeat):  # interleaved: a busy moment hurts every case alike
                for key in keys:
                    rate = run_case(key, recipe, images, args.batch, args.seconds, workers)
                    if rate is not None:
                        rates[key].append(rate)
            best = {k: max(v) if v else None for k, v in rates.items()}
            python = max(best["threads"], best["processes"])

            def cell(value: float | None, width: int) -> str:
                return f"{value:>{width}.0f}" if value is not None else f"{'-':>{width}}"

            print(
                f"{recipe:<12} {size:>4} {n:>6} {cell(best['threads'], 10)} "
                f"{cell(best['processes'], 11)} {cell(best['graph'], 7)} "
                f"{best['graph'] / python:>11.1f}x {cell(best.get('idg'), 9)} "
                f"{cell(best.get('native'), 10)}",
                flush=True,
            )
    if not args.no_idg:
        _, where = legacy_generator()
        print(f"\n(ImageDataGenerator from {where})")
    if not args.no_kernels:
        import subprocess

        print(
            "\nOne thread, microseconds per image (lower is better); ratio = albu / graph; "
            "the warps alone warp every image:\n",
            flush=True,
        )
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--kernels-only",
                "--seconds",
                str(args.seconds),
                "--sizes",
                *map(str, args.sizes),
            ],
            check=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
