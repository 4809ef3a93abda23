"""Images per second of each Keras backend and each input pipeline, measured in one run.

1. Input only: one epoch of training batches (640 JPEGs decoded from class folders each
   time, light augmentation per image, scaled), tf.data against the TensorFlow-free
   PyDataset.
2. Training: ``specs/digits_cnn.yaml`` (the reference CNN on scikit-learn's digits) for
   ``--epochs`` epochs on every installed backend with each input pipeline; images/s of
   the epochs after the first (which compiles), median.

Each case runs in its own process (Keras picks its backend once per process). Ratios are
against tensorflow + tf_data, measured in the same run.

    python benchmarks/bench_backends.py [--epochs 6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zoo.backend import installed  # noqa: E402

INPUT = """
import json, time, zoo
from zoo.data.pipeline import build_pipelines
from zoo.data.prepare import prepare_data
loaded = zoo.load_spec("specs/folder_efficientnetv2b0.yaml", [
    "data.params.path={folder}",
    "runtime.input={path}", "data.cache=false", "data.image_size=[{size},{size}]",
    "augmentation.path=python", "training.batch_size=32", "data.split.test=0.0",
    "data.split.validation=0.0"])
prepared = prepare_data(loaded)
best = 0.0
for repeat in range({repeat}):
    pipes = build_pipelines(prepared, loaded, first_epoch=repeat)
    steps = pipes.steps_per_epoch
    batches = (pipes.train.as_numpy_iterator() if "{path}" == "tf_data"
               else (pipes.train[i] for i in range(10**9)))
    next(batches)  # warm-up: start threads, first decode
    start, images = time.perf_counter(), 0
    for _, (x, y) in zip(range(steps), batches):
        images += len(x)
    best = max(best, images / (time.perf_counter() - start))
    del batches, pipes  # a live tf.data iterator running Python code aborts the exit
import gc; gc.collect()
print(json.dumps({{"images_per_second": best}}), flush=True)
"""

TRAIN = """
import json, statistics, time, keras, zoo
class Clock(keras.callbacks.Callback):
    def __init__(self):
        super().__init__(); self.times = []
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)
clock = Clock()
r = zoo.train("specs/digits_cnn.yaml", out="{out}", verbose=0, callbacks=[clock],
              overrides=["training.epochs={epochs}", "runtime.backend={backend}",
                         "runtime.input={path}", "callbacks=[]"])
n = json.load(open(r.run_dir / "run.json"))["sizes"]["train"]
print(json.dumps({{"images_per_second": n / statistics.median(clock.times[1:]),
                  "accuracy": r.metrics["test"]["accuracy"]}}))
"""


def make_folder(root: Path, copies: int) -> Path:
    """The shipped animals sample (80 photos, 2 classes) repeated ``copies`` times as JPEGs
    of 256x256: enough files for an epoch to take a while."""
    import cv2

    folder = root / "animals"
    if folder.is_dir():
        return folder
    for source in sorted((ROOT / "specs/data/animals").glob("*/*")):
        image = cv2.resize(cv2.imread(str(source)), (256, 256))
        (folder / source.parent.name).mkdir(parents=True, exist_ok=True)
        for k in range(copies):
            cv2.imwrite(str(folder / source.parent.name / f"{source.stem}-{k}.jpg"), image)
    return folder


def run(code: str, backend: str = "tensorflow") -> dict:
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default="/tmp/zoo-bench-backends")
    args = parser.parse_args()
    paths = ("tf_data", "py_dataset")

    folder = make_folder(Path(args.out), 8)
    print(
        f"1. input only: {sum(1 for _ in folder.glob('*/*'))} JPEGs (256x256) decoded every "
        f"epoch, resized, light augmentation per image (best of {args.repeat} epochs)"
    )
    print(f"{'size':>6} {'tf_data img/s':>14} {'py_dataset img/s':>17} {'py/tf':>7}")
    for size in (64, 224):
        got = {
            p: run(INPUT.format(path=p, size=size, repeat=args.repeat, folder=folder))[
                "images_per_second"
            ]
            for p in paths
        }
        print(
            f"{size:>6} {got['tf_data']:>14.0f} {got['py_dataset']:>17.0f} "
            f"{got['py_dataset'] / got['tf_data']:>7.2f}"
        )

    print(f"\n2. training specs/digits_cnn.yaml ({args.epochs} epochs; median of epochs 2..)")
    print(f"{'backend':>10} {'input':>11} {'img/s':>8} {'ratio':>7} {'test acc':>9}")
    base = None
    for backend in ("tensorflow", "jax", "torch"):
        if not installed(backend):
            print(f"{backend:>10} {'-':>11}  not installed")
            continue
        for path in paths:
            got = run(
                TRAIN.format(out=args.out, epochs=args.epochs, backend=backend, path=path), backend
            )
            speed = got["images_per_second"]
            base = base or speed
            print(
                f"{backend:>10} {path:>11} {speed:>8.0f} {speed / base:>7.2f} "
                f"{got['accuracy']:>9.3f}"
            )


if __name__ == "__main__":
    main()
