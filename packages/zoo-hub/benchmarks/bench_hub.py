"""Does a zoo-hub model cost more than the same KerasHub model, or a CNN of its size?

Three models at 224x224x3, 10 classes, random weights (no download), everything trainable:

- zoo: the hub architecture through zoo's registry (``zoo.get(NAME).factory`` with
  ``weights: none, unfreeze: all``): the nested KerasHub backbone, the class token
  (Cropping1D + Flatten), Dropout 0.2, Dense;
- KerasHub: the same backbone built by KerasHub directly from the same config, its class
  token sliced by hand, Dropout 0.2, Dense;
- CNN: keras.applications ResNet50 (23.6M parameters without top, near DINOv3-S's 21.6M),
  GAP, Dropout 0.2, Dense.

Each compiles with Adam and sparse categorical cross-entropy; a training step is
``train_on_batch`` on one random batch, prediction is ``predict_on_batch`` on a larger one
(per image). After warm-up, every timing is repeated and best and median are printed, with
the ratios to zoo's model (one run: the machine is shared, so a few percent is noise).

    python packages/zoo-hub/benchmarks/bench_hub.py [--name dinov3_vit_small] [--batch 8]
        [--predict-batch 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SIZE, CLASSES = 224, 10


def zoo_model(name: str) -> Any:
    import zoo

    entry = zoo.get(name, "architecture")
    params = entry.params(weights="none", unfreeze="all")
    return entry.factory(params, zoo.ModelContext((SIZE, SIZE, 3), CLASSES, name="zoo"))


def keras_hub_model(name: str) -> Any:
    import keras
    import keras_hub

    from zoo_hub.table import VARIANTS

    variant = VARIANTS[name]
    cls = getattr(keras_hub.models, variant.family.backbone)
    backbone = cls(**variant.config, image_shape=(SIZE, SIZE, 3))
    inputs = keras.Input((SIZE, SIZE, 3))
    key = next(iter(backbone.input)) if isinstance(backbone.input, dict) else None
    tokens = backbone({key: inputs} if key else inputs)
    x = keras.layers.Dropout(0.2)(tokens[:, 0])
    return keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))


def cnn_model() -> Any:
    import keras

    inputs = keras.Input((SIZE, SIZE, 3))
    base = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=inputs)
    x = keras.layers.GlobalAveragePooling2D()(base.output)
    x = keras.layers.Dropout(0.2)(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(x))


def timings(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def measure(model: Any, batch: int, predict_batch: int, repeats: int) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, SIZE, SIZE, 3)).astype("float32")
    y = rng.integers(0, CLASSES, batch)
    xp = rng.uniform(-1, 1, (predict_batch, SIZE, SIZE, 3)).astype("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    step = timings(lambda: model.train_on_batch(x, y), repeats)
    predict = [t / predict_batch for t in timings(lambda: model.predict_on_batch(xp), repeats)]
    return {"params": model.count_params(), "step": step, "predict": predict}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="dinov3_vit_small", help="a ViT/DeiT/DINO hub variant")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--predict-batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import keras

    results = {}
    for label, build in (
        ("zoo", lambda: zoo_model(args.name)),
        ("KerasHub", lambda: keras_hub_model(args.name)),
        ("ResNet50", cnn_model),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = build()
            results[label] = measure(model, args.batch, args.predict_batch, args.repeats)
        del model
        keras.backend.clear_session()

    print(
        f"{args.name} at {SIZE}x{SIZE}, train batch {args.batch}, predict batch "
        f"{args.predict_batch}, {args.repeats} timings after 2 warm-up (keras "
        f"{keras.__version__}, backend {keras.backend.backend()}, {os.cpu_count()} CPUs)"
    )
    print(
        f"{'model':10s} {'params':>12s} {'step best':>10s} {'step med':>10s} "
        f"{'img best':>10s} {'img med':>10s} {'step/zoo':>9s} {'img/zoo':>8s}"
    )
    zoo_step = statistics.median(results["zoo"]["step"])
    zoo_img = statistics.median(results["zoo"]["predict"])
    for label, r in results.items():
        step_med, img_med = statistics.median(r["step"]), statistics.median(r["predict"])
        print(
            f"{label:10s} {r['params']:>12,d} {min(r['step']):>9.3f}s {step_med:>9.3f}s "
            f"{min(r['predict']) * 1e3:>8.1f}ms {img_med * 1e3:>8.1f}ms "
            f"{step_med / zoo_step:>9.2f} {img_med / zoo_img:>8.2f}"
        )


if __name__ == "__main__":
    main()
