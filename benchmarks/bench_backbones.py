"""Is a zoo backbone slower per training step than the same backbone written by hand?

For three keras.applications backbones at their native size, the zoo side builds the model
through the registry (``zoo.get(name).factory``: the base's layers directly in the model,
frozen with ``unfreeze: none``, the shared head GAP, Dropout 0.2, Dense); the plain side is
the Keras transfer-learning guide's script (``base.trainable = False``,
``base(x, training=False)``, GAP, Dropout 0.2, Dense). Both start from random weights (no
download here), compile with Adam and sparse categorical cross-entropy, and train on the
same random batch with ``train_on_batch``; after warm-up steps the median and best step
times are printed with the zoo/plain ratio. Then both sides again with the top 20 layers
unfrozen (zoo: ``set_trainable(model, 20)``; plain: the last 20 non-BN weighted layers).

    python benchmarks/bench_backbones.py [--batch 8] [--steps 10] [--names mobilenetv3small ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DEFAULT = ["mobilenetv3small", "efficientnetv2b0", "resnet50v2"]


def step_times(model, x, y, steps: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        model.train_on_batch(x, y)
    out = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        out.append(time.perf_counter() - start)
    return out


def plain_model(row, classes: int, unfreeze: int):
    import keras

    size = row.default_size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = getattr(keras.applications, row.constructor)(
            include_top=False, weights=None, input_shape=(size, size, 3)
        )
    base.trainable = unfreeze > 0
    if unfreeze:
        weighted = [
            layer
            for layer in base.layers
            if layer.weights and type(layer).__name__ not in ("BatchNormalization", "Normalization")
        ]
        keep = {id(layer) for layer in weighted[-unfreeze:]}
        for layer in base.layers:
            layer.trainable = id(layer) in keep
    inputs = keras.Input((size, size, 3))
    x = base(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def zoo_model(name: str, classes: int, unfreeze: int):
    import zoo

    entry = zoo.get(name, "architecture")
    size = entry_row(name).default_size
    model = entry.factory(
        entry.params(weights="none", unfreeze=unfreeze), zoo.ModelContext((size, size, 3), classes)
    )
    return model


def entry_row(name: str):
    from zoo_builtins.architectures._applications_table import BACKBONES

    return next(row for row in BACKBONES if row.name == name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--names", nargs="+", default=DEFAULT)
    args = parser.parse_args()

    import keras
    import numpy as np

    classes = 10
    print(f"{'backbone':<18} {'unfreeze':>8} {'plain ms':>9} {'zoo ms':>9} {'ratio':>6}")
    for name in args.names:
        row = entry_row(name)
        rng = np.random.default_rng(0)
        size = row.default_size
        x = rng.uniform(0, 255, (args.batch, size, size, 3)).astype("float32")
        y = rng.integers(0, classes, args.batch)
        for unfreeze in (0, 20):
            results = {}
            for side, make in (("plain", plain_model), ("zoo", None)):
                model = (
                    plain_model(row, classes, unfreeze)
                    if make
                    else zoo_model(name, classes, unfreeze)
                )
                model.compile(
                    optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy"
                )
                results[side] = step_times(model, x, y, args.steps)
                keras.backend.clear_session()
            plain, ours = (statistics.median(results[s]) * 1000 for s in ("plain", "zoo"))
            best = f"{min(results['plain']) * 1000:.1f} / {min(results['zoo']) * 1000:.1f}"
            print(
                f"{name:<18} {unfreeze:>8} {plain:>9.1f} {ours:>9.1f} {ours / plain:>6.2f}"
                f"   (best {best})",
                flush=True,
            )


if __name__ == "__main__":
    main()
