"""Images per second: zoo's training pipeline against Keras' legacy ImageDataGenerator approach.

Both sides read the same folder of PNGs (generated here: 2,000 images of 64x64 in 10 class
folders), apply the same albumentations transform (the reference ``transform()``: flips and a
OneOf of ColorJitter / RandomBrightnessContrast in a Compose with p=0.5), scale by 1/255,
and deliver batches of 32 at 64x64 for two epochs, in one run:

- the notebook recipe: ``ImageDataGenerator(preprocessing_function=transform, rescale=1/255)
  .flow_from_directory(target_size=(64, 64), batch_size=32)`` (the legacy Keras generator;
  Keras 3 only keeps it under ``keras.src.legacy``, or ``tf_keras`` when installed). Its
  ``preprocessing_function`` gets float32 pixels, so the transform is wrapped to run on
  uint8 as albumentations expects.
- zoo: the ``directory`` data source and ``prepare_data`` (decodes every file once, in
  parallel), then ``build_pipelines`` (tf.data: batched gather, augmentation in a parallel
  ``numpy_function`` map, vectorised scaling, prefetch). Its time includes the decoding.

Run: ``python benchmarks/bench_pipeline.py [--images 2000] [--size 64] [--epochs 2]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NOTE_TRANSFORM = [
    {
        "Compose": {
            "p": 0.5,
            "transforms": [
                {"HorizontalFlip": {"p": 0.5}},
                {"VerticalFlip": {"p": 0.5}},
                {
                    "OneOf": {
                        "p": 1.0,
                        "transforms": [
                            {"ColorJitter": {"p": 0.5}},
                            {
                                "RandomBrightnessContrast": {
                                    "brightness_limit": 0.2,
                                    "contrast_limit": 0.2,
                                    "p": 0.5,
                                }
                            },
                        ],
                    }
                },
            ],
        }
    }
]


def make_folder(root: Path, n_images: int, size: int, n_classes: int = 10, seed: int = 0) -> Path:
    """``n_images`` PNGs (smooth gradients with a shape) in ``n_classes`` class folders."""
    import cv2

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(n_images):
        label = i % n_classes
        folder = root / f"class_{label:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        a, b, c = rng.uniform(0, 255, 3)
        image = np.stack([a * xx + 40 * label % 255, b * yy, c * (1 - xx) * yy], axis=-1)
        image = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
        centre = tuple(int(v) for v in rng.integers(size // 4, 3 * size // 4, 2))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.circle(image, centre, int(rng.integers(4, size // 4)), color, -1)
        cv2.imwrite(str(folder / f"img_{i:05d}.png"), image)
    return root


def legacy_generator() -> tuple[Any, str] | tuple[None, str]:
    """Keras' ImageDataGenerator class and where it came from, or None and why not."""
    tried = []
    for module in (
        "tf_keras.preprocessing.image",
        "keras.src.legacy.preprocessing.image",
        "tensorflow.keras.preprocessing.image",
    ):
        try:
            mod = __import__(module, fromlist=["ImageDataGenerator"])
            return mod.ImageDataGenerator, module
        except (ImportError, AttributeError) as exc:
            tried.append(f"{module}: {type(exc).__name__}")
    return None, "; ".join(tried)


def note_transform(image: np.ndarray) -> np.ndarray:
    """The notebook recipe's ``transform()`` as written: the Compose is built anew for every "
    "image."""
    import albumentations as A

    aug = A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.VerticalFlip(p=0.5),
            A.OneOf(
                [
                    A.ColorJitter(p=0.5),
                    A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
                ],
                p=1,
            ),
        ],
        p=0.5,
    )
    return aug(image=image)["image"]


def bench_keras(
    folder: Path, size: int, batch: int, epochs: int, build_once: bool
) -> dict[str, Any] | None:
    generator_class, where = legacy_generator()
    if generator_class is None:
        print(
            "the reference generator's side is skipped: no legacy ImageDataGenerator in "
            "this environment "
            f"({where}); `pip install tf_keras` provides one"
        )
        return None
    from zoo_builtins.recipes._albu_schema import build

    once = build(canonical(NOTE_TRANSFORM), seed=0)

    def transform(
        image: np.ndarray,
    ) -> np.ndarray:  # the reference generator's preprocessing_function
        # Keras hands it float32 pixels in 0..255; albumentations wants uint8 for that range.
        pixels = image.astype(np.uint8)
        out = once(image=pixels)["image"] if build_once else note_transform(pixels)
        return out.astype(np.float32)

    start, cpu0 = time.perf_counter(), time.process_time()
    gen = generator_class(preprocessing_function=transform, rescale=1.0 / 255)
    flow = gen.flow_from_directory(
        str(folder),
        target_size=(size, size),
        batch_size=batch,
        class_mode="categorical",
        shuffle=True,
        seed=0,
    )
    seen = 0
    for _ in range(epochs):
        for _ in range(len(flow)):
            x, _y = next(flow)
            seen += len(x)
    wall = time.perf_counter() - start
    return {
        "images": seen,
        "seconds": wall,
        "cpu": (time.process_time() - cpu0) / wall,
        "source": where,
    }


def canonical(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from zoo_builtins.recipes._albu_schema import canonical_items

    return canonical_items(items)


def tree_cpu_seconds() -> float:
    """CPU seconds of this process and its children alive now (augmentation workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    total = time.process_time()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def bench_zoo(folder: Path, size: int, batch: int, epochs: int, workers: str) -> dict[str, Any]:
    """zoo's pipeline with ``ZOO_AUGMENT_WORKERS=workers`` (0: threads of this process)."""
    import yaml

    import zoo
    from zoo.data.pipeline import build_pipelines
    from zoo.data.prepare import prepare_data

    spec = zoo.load_spec_text(
        textwrap.dedent(f"""\
        name: bench
        seed: 0
        data:
          source: directory
          params: {{path: {folder}}}
          image_size: [{size}, {size}]
          channels: 3
          split: {{validation: 0, test: 0}}
        model: {{architecture: mlp}}
        scaling: {{recipe: unit}}
        augmentation:
          recipe: albumentations
          params:
            transforms: {yaml.safe_dump(NOTE_TRANSFORM, default_flow_style=True).strip()}
        training: {{batch_size: {batch}, epochs: {epochs}}}
        """)
    )
    os.environ["ZOO_AUGMENT_WORKERS"] = workers
    start, cpu0 = time.perf_counter(), tree_cpu_seconds()
    prepared = prepare_data(spec)
    decoded = time.perf_counter()
    pipelines = build_pipelines(prepared, spec)
    seen, epoch_times = 0, []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for x, _y in pipelines.train:
            seen += int(x.shape[0])
        epoch_times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    cpu = (tree_cpu_seconds() - cpu0) / wall  # before the workers exit with the pipeline
    del pipelines
    return {
        "images": seen,
        "seconds": wall,
        "decode_seconds": decoded - start,
        "epoch_seconds": epoch_times,
        "cpu": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side; the best counts")
    args = parser.parse_args(argv)

    import tensorflow  # noqa: F401 (both sides use it: its import is timed by neither)

    with tempfile.TemporaryDirectory(prefix="zoo-bench-") as tmp:
        os.environ["ZOO_CACHE_DIR"] = str(Path(tmp) / "cache")  # not the user's cache
        folder = make_folder(Path(tmp) / "images", args.images, args.size)
        print(
            f"{args.images} PNGs of {args.size}x{args.size} in 10 class folders; batch "
            f"{args.batch}, {args.epochs} epochs, {os.cpu_count()} CPUs; best of {args.repeat}"
        )
        zoo_runs, thread_runs, note_runs, once_runs = [], [], [], []
        cpus = str(os.cpu_count() or 1)
        for _ in range(args.repeat):  # interleaved, so a busy moment hurts every side alike
            zoo_runs.append(bench_zoo(folder, args.size, args.batch, args.epochs, cpus))
            thread_runs.append(bench_zoo(folder, args.size, args.batch, args.epochs, "0"))
            note_runs.append(bench_keras(folder, args.size, args.batch, args.epochs, False))
            once_runs.append(bench_keras(folder, args.size, args.batch, args.epochs, True))
    zoo_result = min(zoo_runs, key=lambda r: r["seconds"])
    zoo_rate = zoo_result["images"] / zoo_result["seconds"]
    for label, runs in (
        (f"zoo, {cpus} worker processes:", zoo_runs),
        ("zoo, threads (workers=0):   ", thread_runs),
    ):
        best = min(runs, key=lambda r: r["seconds"])
        rate = best["images"] / best["seconds"]
        epochs = ", ".join(f"{t:.2f}s" for t in best["epoch_seconds"])
        print(
            f"{label} {rate:7.0f} images/s  ({best['images']} images in "
            f"{best['seconds']:.2f}s: decoding {best['decode_seconds']:.2f}s, epochs {epochs}; "
            f"{best['cpu']:.2f} CPUs busy, workers included)"
        )
    if note_runs[0] is None:
        return 0
    for label, runs in (
        ("the notebook recipe, as written:       ", note_runs),
        ("the notebook recipe, Compose built once:", once_runs),
    ):
        best = min(runs, key=lambda r: r["seconds"])
        rate = best["images"] / best["seconds"]
        print(
            f"{label} {rate:7.0f} images/s  ({best['images']} images in "
            f"{best['seconds']:.2f}s; {best['cpu']:.2f} CPUs busy)  zoo is "
            f"{zoo_rate / rate:.2f}x"
        )
    print(f"(ImageDataGenerator from {note_runs[0]['source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
