"""Images per second of augmentation: in the tf.data graph vs albumentations per image.

For the ``light`` and ``keras_style`` recipes at 64x64 and 224x224 (RGB, batches of 32,
images already in memory so only augmentation, scaling and batching are timed):

- zoo, graph: ``build_pipelines`` with the recipe's ``graph`` capability (the default,
  ``augmentation.path: auto``): batched, seeded TF ops inside the tf.data map.
- zoo, python: the same spec with ``augmentation.path: python``: the recipe's albumentations
  pipeline per image, in a ``numpy_function`` map (threads; what zoo does for short runs).
- the note's fair baseline: ``ImageDataGenerator(preprocessing_function=..., rescale=1/255)``
  ``.flow(x, y, batch_size=32)`` with the same albumentations pipeline built once (as in
  ``bench_pipeline.py``, whose helpers this reuses); for ``keras_style`` also the generator's
  own arguments (rotation, shifts, flips, brightness), its native way of doing it.

Each case runs one warm-up epoch (tracing, thread start), then times ``--epochs`` epochs;
best of ``--repeat``. Run: ``python benchmarks/bench_augmentation.py [--images 512]``.
"""

from __future__ import annotations

import argparse
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


def make_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random images (uint8 NHWC): like photos, unlike white noise, to the codecs."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 8, 8, 3)).astype(np.float32)
    import cv2

    return np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_CUBIC)
                     for im in small]).clip(0, 255).astype(np.uint8)


def spec_for(recipe: str, path: str, size: int, batch: int) -> Any:
    import zoo

    aug = json.dumps({"recipe": recipe, "path": path})
    return zoo.load_spec_text(textwrap.dedent(f"""\
        name: bench
        seed: 0
        data: {{source: digits, image_size: [{size}, {size}], channels: 3}}
        model: {{architecture: mlp}}
        scaling: {{recipe: unit}}
        augmentation: {aug}
        training: {{batch_size: {batch}, epochs: 1}}
        """))


def bench_zoo(recipe: str, path: str, images: np.ndarray, batch: int, epochs: int) -> float:
    from zoo.data.pipeline import build_pipelines
    from zoo.data.prepared import PreparedData
    from zoo.data.source import ImageSet

    n, size = len(images), images.shape[1]
    labels = np.arange(n) % 10
    prepared = PreparedData(
        class_names=[f"c{i}" for i in range(10)],
        train=ImageSet(labels, images=images),
        validation=None,
        test=None,
        image_shape=images.shape[1:],
    )
    train = build_pipelines(prepared, spec_for(recipe, path, size, batch), augment_workers=0).train
    for _ in train:  # warm-up: tracing, thread pools
        pass
    start = time.perf_counter()
    seen = 0
    for _ in range(epochs):
        for x, _y in train:
            seen += int(x.shape[0])
    return seen / (time.perf_counter() - start)


def bench_generator(
    recipe: str, images: np.ndarray, batch: int, epochs: int, native: bool
) -> float | None:
    generator_class, _where = legacy_generator()
    if generator_class is None:
        return None
    if native:  # keras_style's defaults as the generator's own arguments
        gen = generator_class(
            rotation_range=20, width_shift_range=0.2, height_shift_range=0.2,
            horizontal_flip=True, vertical_flip=True, brightness_range=(0.7, 1.3),
            fill_mode="nearest", rescale=1.0 / 255,
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
    start = time.perf_counter()
    seen = 0
    for _ in range(epochs * len(flow)):
        x, _y = next(flow)
        seen += len(x)
    return seen / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512, help="images at 64x64 (a quarter at 224)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    import tensorflow  # noqa: F401 (imported by every case: timed by none)

    print(f"batch {args.batch}, {args.epochs} timed epochs after a warm-up, best of "
          f"{args.repeat}, {os.cpu_count()} CPUs; images/s (higher is better)\n")
    header = (f"{'recipe':<12} {'size':>4} {'images':>6} {'zoo graph':>10} {'zoo python':>11} "
              f"{'IDG+albu':>9} {'IDG native':>10} {'graph/python':>12} {'graph/IDG+albu':>14}")
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n = args.images if size <= 64 else max(args.batch * 2, args.images // 4)
        images = make_images(n, size)
        for recipe in RECIPES:
            rates: dict[str, list[float]] = {"graph": [], "python": [], "idg": [], "native": []}
            for _ in range(args.repeat):  # interleaved: a busy moment hurts every case alike
                rates["graph"].append(bench_zoo(recipe, "graph", images, args.batch, args.epochs))
                rates["python"].append(bench_zoo(recipe, "python", images, args.batch, args.epochs))
                idg = bench_generator(recipe, images, args.batch, args.epochs, native=False)
                if idg is not None:
                    rates["idg"].append(idg)
                if recipe == "keras_style":
                    native = bench_generator(recipe, images, args.batch, args.epochs, native=True)
                    if native is not None:
                        rates["native"].append(native)
            best = {k: max(v) if v else None for k, v in rates.items()}

            def cell(value: float | None, width: int) -> str:
                return f"{value:>{width}.0f}" if value is not None else f"{'-':>{width}}"

            ratio_idg = (f"{best['graph'] / best['idg']:>13.1f}x" if best["idg"]
                         else f"{'-':>14}")
            print(f"{recipe:<12} {size:>4} {n:>6} {cell(best['graph'], 10)} "
                  f"{cell(best['python'], 11)} {cell(best['idg'], 9)} {cell(best['native'], 10)} "
                  f"{best['graph'] / best['python']:>11.1f}x {ratio_idg}", flush=True)
    _, where = legacy_generator()
    print(f"\n(ImageDataGenerator from {where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
