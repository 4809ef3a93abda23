"""How much slower is an epoch under the zoo runner than in a plain Keras script?

Both sides train the note's MLP (Flatten, Dense 64 relu, Dense 128 relu, Dense 10 softmax;
Adam 1e-3, batch 32) on the same images: a synthetic Fashion-MNIST-sized set of 28x28 gray
images written once to an ``.npz`` file, split 64/16/20 (train/validation/test) the same
way on both sides. The plain side is the note's style: NumPy arrays scaled by /255, one-hot
targets, ``model.fit(x, y, validation_data=...)``. The zoo side is ``zoo.train`` on a spec
reading the same file, with everything a run always does: the tf.data pipeline, per-epoch
history.csv, the best-checkpoint file and the resumable backup.

Each side runs in its own process (TensorFlow settings such as op determinism are
process-wide), alternating plain/zoo ``--repeats`` times. An epoch's time is measured from
one ``on_epoch_begin`` to the next, so validation and every end-of-epoch callback count;
the first epoch (tracing) is left out. The best (minimum) epoch time of each side is the
headline figure, as ``timeit`` advises: on a shared machine other processes only ever add
time; the medians are printed beside it.

    python benchmarks/bench_runner_overhead.py [--epochs 6] [--images 20000] [--repeats 3]
                                               [--no-determinism]

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
SEED = 124  # the note's random_state


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


def child_plain(data: Path, epochs: int) -> list[list[float]]:
    """The note's way: arrays, /255, one-hot, Sequential, compile, fit."""
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
            Dense(64, activation="relu"),
            Dense(128, activation="relu"),
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


def child_zoo(data: Path, epochs: int) -> list[list[float]]:
    import zoo

    spec = {
        "name": "bench",
        "seed": SEED,
        "data": {
            "source": "numpy",
            "params": {"path": str(data)},
            "split": {"validation": 0.2, "test": 0.2},
        },
        "scaling": {"recipe": "unit"},
        "model": {"architecture": "mlp", "params": {"hidden_units": [64, 128]}},
        "training": {
            "epochs": epochs,
            "batch_size": 32,
            "optimizer": {"name": "adam", "learning_rate": 0.001},
        },
    }
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as out:
        zoo.train(spec, out=out, verbose=0, callbacks=[timer])
    return timer.periods()


def run_child(side: str, data: Path, epochs: int, env: dict[str, str]) -> list[list[float]]:
    cmd = [sys.executable, __file__, "--child", side, "--data", str(data), "--epochs", str(epochs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"{side} run failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-determinism", action="store_true",
                        help="run the zoo side with ZOO_DETERMINISTIC=0 (TF op determinism off)")
    parser.add_argument("--child", choices=("plain", "zoo"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        periods = (child_plain if args.child == "plain" else child_zoo)(args.data, args.epochs)
        print(json.dumps(periods))
        return 0

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if args.no_determinism:
        env["ZOO_DETERMINISTIC"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "bench.npz"
        make_data(data, args.images)
        times: dict[str, list[list[float]]] = {"plain": [], "zoo": []}
        for _ in range(args.repeats):
            for side in ("plain", "zoo"):
                periods = run_child(side, data, args.epochs, env)
                times[side] += periods[1:]  # the first epoch traces the functions
    print(f"images: {args.images} (28x28x1), epochs: {args.epochs} x {args.repeats} runs a side, "
          f"batch 32, the note's MLP; CPUs: {os.cpu_count()}; zoo op determinism: "
          f"{'off' if args.no_determinism else 'on (the default)'}")
    for i, what in enumerate(("wall", "CPU")):
        for stat, fn in (("best", min), ("median", statistics.median)):
            plain = fn(t[i] for t in times["plain"])
            ours = fn(t[i] for t in times["zoo"])
            ratio = ours / plain
            print(f"{what:>4} time per epoch, {stat:>6}: plain Keras {plain * 1000:7.1f} ms, "
                  f"zoo runner {ours * 1000:7.1f} ms, ratio {ratio:.3f} "
                  f"(overhead {100 * (ratio - 1):+.1f}%)")
    print("target: overhead under 5% (best epoch: the least disturbed by other processes, "
          "as timeit takes the minimum)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
