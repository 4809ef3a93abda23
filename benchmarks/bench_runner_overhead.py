"""How much slower is an epoch under the zoo runner than in a plain Keras script?

Both sides train the reference MLP (Flatten, Dense 64 relu, Dense 128 relu, Dense 10 softmax;
Adam 1e-3, batch 32) on the same images: a synthetic Fashion-MNIST-sized set of 28x28 gray
images written once to an ``.npz`` file, split 64/16/20 (train/validation/test) the same
way on both sides. The plain side is the notebook style: NumPy arrays scaled by /255, one-hot
targets, ``model.fit(x, y, validation_data=...)``. The zoo side is ``zoo.train`` on a spec
reading the same file, with everything a run always does: the tf.data pipeline, per-epoch
history.csv, the best-checkpoint file and the resumable backup.

Two cases: ``mlp`` (the reference MLP above, many images) and ``big`` (the same MLP with two
4096-unit layers, about 20M parameters, and few images: epochs of about a second and a
240 MB backup, the worst case for per-epoch backups). For each, four sides: ``plain``
Keras; ``zoo/epoch``, the zoo runner backing up after every epoch
(``training.backup.every_epochs: 1``, the old behaviour); ``zoo``, the default cadence
(``every_seconds: 60``); these three with op determinism off (``ZOO_DETERMINISTIC=0``); and
``zoo/det``, the default cadence with op determinism on (zoo's default), whose ratio to
``zoo`` is the cost of determinism. Then that cost alone on two conv nets at 32x32 (the
digits upscaled 4x): the reference CNN (``simple_cnn`` preset ``performance``) and
ResNet-18 (CIFAR stem).

Each side runs in its own process (TensorFlow settings such as op determinism are
process-wide), in turn, ``--repeats`` times. An epoch's time is measured from
one ``on_epoch_begin`` to the next, so validation and every end-of-epoch callback count;
the first epoch (tracing) is left out. The best (minimum) epoch time of each side is the
headline figure, as ``timeit`` advises: on a shared machine other processes only ever add
time; the medians are printed beside it.

    python benchmarks/bench_runner_overhead.py [--epochs 6] [--images 20000]
        [--big-images 200] [--repeats 2] [--conv-images 192] [--conv-epochs 4]
        [--conv-repeats 1] [--cases mlp,big,conv]

Wall time is what a user waits; CPU time (all threads of the process) is the work done,
and is the steadier figure on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 124  # the reference random_state


def make_data(path: Path, n: int) -> None:
    """Ten classes of 28x28 gray images: a class-specific blurred pattern plus noise."""
    import numpy as np

    rng = np.random.default_rng(0)
    prototypes = rng.uniform(0, 255, size=(10, 7, 7)).repeat(4, axis=1).repeat(4, axis=2)
    y = rng.integers(0, 10, size=n)
    x = prototypes[y] * 0.6 + rng.uniform(0, 255, size=(n, 28, 28)) * 0.4
    np.savez(path, x=np.clip(x, 0, 255).astype(np.uint8), y=y.astype(np.int64))


class EpochTimer:
    """Keras callback: seconds from each epoch's start to the next one's (or to the end)."""

    def __new__(cls):  # built lazily so importing this file never imports Keras
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.marks: list[tuple[float, float]] = []

            def on_epoch_begin(self, epoch, logs=None):
                self.marks.append((time.perf_counter(), time.process_time()))

            def on_train_end(self, logs=None):
                self.marks.append((time.perf_counter(), time.process_time()))

            def periods(self) -> list[list[float]]:
                """[wall seconds, CPU seconds of the whole process] per epoch."""
                m = self.marks
                return [[b[0] - a[0], b[1] - a[1]] for a, b in zip(m, m[1:], strict=False)]

        return _Timer()


HIDDEN = {"mlp": [64, 128], "big": [4096, 4096]}


def child_plain(data: Path, epochs: int, case: str = "mlp") -> list[list[float]]:
    """The notebook way: arrays, /255, one-hot, Sequential, compile, fit."""
    import numpy as np
    from keras.layers import Dense, Flatten, Input
    from keras.losses import CategoricalCrossentropy
    from keras.models import Sequential
    from keras.optimizers import Adam
    from keras.utils import to_categorical
    from sklearn.model_selection import train_test_split

    with np.load(data) as f:
        x, y = f["x"], f["y"]
    x = (x / 255.0).astype(np.float32)[..., None]
    x_pool, _x_test, y_pool, _y_test = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=SEED
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_pool, y_pool, test_size=0.2, stratify=y_pool, random_state=SEED
    )
    model = Sequential(
        [
            Input((28, 28, 1)),
            Flatten(),
            *[Dense(units, activation="relu") for units in HIDDEN[case]],
            Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=Adam(0.001), loss=CategoricalCrossentropy(), metrics=["acc"])
    timer = EpochTimer()
    model.fit(
        x_train,
        to_categorical(y_train, 10),
        validation_data=(x_val, to_categorical(y_val, 10)),
        batch_size=32,
        epochs=epochs,
        callbacks=[timer],
        verbose=0,
    )
    return timer.periods()


WRITES: list[float] = []  # seconds of each backup write in the child


def child_zoo(
    data: Path, epochs: int, case: str = "mlp", cadence: str = "default"
) -> list[list[float]]:
    import zoo
    from zoo.runner import callbacks

    write = callbacks.Backup.write

    def timed(self, *args, **kw):
        t = time.perf_counter()
        write(self, *args, **kw)
        WRITES.append(time.perf_counter() - t)

    callbacks.Backup.write = timed

    spec = {
        "name": "bench",
        "seed": SEED,
        "data": {
            "source": "numpy",
            "params": {"path": str(data)},
            "split": {"validation": 0.2, "test": 0.2},
        },
        "scaling": {"recipe": "unit"},
        "model": {"architecture": "mlp", "params": {"hidden_units": HIDDEN.get(case, [64])}},
        "training": {
            "epochs": epochs,
            "batch_size": 32,
            "optimizer": {"name": "adam", "learning_rate": 0.001},
        },
    }
    if cadence == "epoch":
        spec["training"]["backup"] = {"every_epochs": 1}
    if case == "cnn":
        spec["data"] = {"source": "digits", "params": {"upscale": 4, "limit": int(data.name)}}
        spec["model"] = {"architecture": "simple_cnn", "params": {"preset": "performance"}}
    elif case == "resnet18":
        spec["data"] = {"source": "digits", "params": {"upscale": 4, "limit": int(data.name)}}
        spec["model"] = {
            "architecture": "resnet18",
            "params": {
                "stem": "cifar",
                "conv_bias": False,
                "head": {"pooling": "gap", "dense_units": [], "dropout": 0.0},
            },
        }
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as out:
        zoo.train(spec, out=out, verbose=0, callbacks=[timer])
    return timer.periods()


SIDES = {  # name: (child, backup cadence, op determinism)
    "plain": ("plain", "default", False),
    "zoo/epoch": ("zoo", "epoch", False),
    "zoo": ("zoo", "default", False),
    "zoo/det": ("zoo", "default", True),
}


def run_child(side: str, data: Path, epochs: int, case: str) -> dict:
    child, cadence, deterministic = SIDES[side]
    env = dict(
        os.environ, TF_CPP_MIN_LOG_LEVEL="3", ZOO_DETERMINISTIC="1" if deterministic else "0"
    )
    cmd = [
        sys.executable,
        __file__,
        "--child",
        child,
        "--data",
        str(data),
        "--epochs",
        str(epochs),
        "--case",
        case,
        "--cadence",
        cadence,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{side} run failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(periods: list[list[float]], i: int) -> tuple[float, float]:
    return min(t[i] for t in periods), statistics.median(t[i] for t in periods)


def overhead_case(case: str, data: Path, args: argparse.Namespace) -> None:
    times: dict[str, list[list[float]]] = {side: [] for side in SIDES}
    writes: dict[str, list[float]] = {side: [] for side in SIDES}
    for _ in range(args.repeats):
        for side in SIDES:
            result = run_child(side, data, args.epochs, case)
            times[side] += result["periods"][1:]  # the first epoch traces the functions
            writes[side] += result["writes"]
    params = "about 20M parameters" if case == "big" else "the reference MLP"
    print(
        f"\ncase {case}: {args.big_images if case == 'big' else args.images} images "
        f"(28x28x1), {params}, batch 32, {args.epochs} epochs x {args.repeats} runs a side"
    )
    print(
        f"  {'':18}"
        + "".join(f"{side:>11}" for side in SIDES)
        + "   zoo/epoch  zoo   zoo/det vs zoo"
    )
    for i, what in enumerate(("wall", "CPU")):
        for j, stat in enumerate(("best", "median")):
            ms = {side: summary(times[side], i)[j] for side in SIDES}
            plain = ms["plain"]
            line = f"  {what:>4} {stat:>6} ms/epoch" + "".join(
                f"{ms[side] * 1000:11.1f}" for side in SIDES
            )
            line += (
                f"   {100 * (ms['zoo/epoch'] / plain - 1):+6.1f}% "
                f"{100 * (ms['zoo'] / plain - 1):+5.1f}%   "
                f"{100 * (ms['zoo/det'] / ms['zoo'] - 1):+5.1f}%"
            )
            print(line)
    per_epoch = writes["zoo/epoch"]
    if per_epoch:
        print(
            f"  backup writes: zoo/epoch {len(per_epoch)} "
            f"(median {statistics.median(per_epoch) * 1000:.0f} ms each, on the background "
            f"thread), zoo {len(writes['zoo'])} (the end-of-phase ones, after the timed "
            "epochs)"
        )


def determinism_case(case: str, images: int, args: argparse.Namespace) -> None:
    data = Path(str(images))  # the digits source: the "path" carries the image limit
    times: dict[str, list[list[float]]] = {"zoo": [], "zoo/det": []}
    for _ in range(args.conv_repeats):
        for side in times:
            times[side] += run_child(side, data, args.conv_epochs, case)["periods"][1:]
    name = {"cnn": "simple_cnn performance", "resnet18": "ResNet-18 (CIFAR stem)"}[case]
    for i, what in enumerate(("wall", "CPU")):
        off, on = summary(times["zoo"], i), summary(times["zoo/det"], i)
        print(
            f"  {name:28} {what:>4}: determinism off {off[0] * 1000:8.1f} ms/epoch, on "
            f"{on[0] * 1000:8.1f}; ratio best {on[0] / off[0]:.3f}, median "
            f"{on[1] / off[1]:.3f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--big-images", type=int, default=200)
    parser.add_argument("--conv-images", type=int, default=192)
    parser.add_argument("--conv-epochs", type=int, default=4)
    parser.add_argument("--conv-repeats", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cases", default="mlp,big,conv")
    parser.add_argument("--child", choices=("plain", "zoo"), help=argparse.SUPPRESS)
    parser.add_argument("--case", default="mlp", help=argparse.SUPPRESS)
    parser.add_argument("--cadence", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "plain":
        print(json.dumps({"periods": child_plain(args.data, args.epochs, args.case), "writes": []}))
        return 0
    if args.child == "zoo":
        periods = child_zoo(args.data, args.epochs, args.case, args.cadence)
        print(json.dumps({"periods": periods, "writes": WRITES}))
        return 0

    cases = args.cases.split(",")
    print(
        f"CPUs: {os.cpu_count()}; sides: plain Keras, zoo backing up every epoch, zoo at "
        "the default cadence (all three with op determinism off), zoo/det (default cadence, "
        "op determinism on)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for case, n in (("mlp", args.images), ("big", args.big_images)):
            if case in cases:
                data = Path(tmp) / f"{case}.npz"
                make_data(data, n)
                overhead_case(case, data, args)
    if "conv" in cases:
        print(
            f"\ndeterminism cost alone, digits upscaled to 32x32, {args.conv_images} images, "
            f"{args.conv_epochs} epochs x {args.conv_repeats} runs a side (first epoch left out)"
        )
        determinism_case("cnn", args.conv_images, args)
        determinism_case("resnet18", args.conv_images, args)
    print(
        "\ntarget: zoo (default cadence, determinism off) at most 2% over plain Keras, "
        "best and median"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
