"""What one host of a two-host run reads and how long its epoch takes: reading only its rows
of every global batch (now) against gathering every global batch and keeping its half of
it (before), on both input pipelines.

A host's pipeline is built here in one process exactly as a run on host 0 of 2 (two
devices) builds it, and one training epoch of it is iterated (no model: the input side is
what changed). ``before`` is the whole-batch pipeline with the runner's old slicing
(:func:`zoo.runner.even_batches.even_batches` with two processes), ``now`` the pipeline
built with a :class:`zoo.data.hosts.HostShare`. Rows read counts every image decoded (files,
``data.cache: none``) or gathered from the decoded cache's memory map (``disk``, warm in the
page cache). The two sides give the same batches (``tests/test_host_shares.py``).

Run: ``python benchmarks/bench_hosts.py [--images 6000] [--repeat 3]`` (about two minutes on
2 cores); ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_data_cache import make_folder  # noqa: E402 (the same JPEG folders)

import zoo.data.py_pipeline  # noqa: E402
import zoo.data.tf_pipeline  # noqa: E402
from zoo.data.hosts import HostShare  # noqa: E402
from zoo.data.pipeline import build_pipelines  # noqa: E402
from zoo.data.prepare import prepare_data  # noqa: E402
from zoo.plugin.source import ImageSet, Rows  # noqa: E402
from zoo.runner.even_batches import even_batches  # noqa: E402
from zoo.spec import load_spec_text  # noqa: E402

READ = [0]
_LOCK = threading.Lock()


def count(rows: int) -> None:
    with _LOCK:
        READ[0] += rows


class CountedRows(Rows):
    def __getitem__(self, key: Any) -> np.ndarray:
        out = super().__getitem__(key)
        count(len(out) if isinstance(key, np.ndarray) else 1)
        return out


def count_decodes() -> None:
    for module in (zoo.data.tf_pipeline, zoo.data.py_pipeline):
        real = module.read_image

        def counting(*args: Any, _real: Any = real, **kwargs: Any) -> np.ndarray:
            count(1)
            return _real(*args, **kwargs)

        module.read_image = counting  # type: ignore[attr-defined]


def spec(folder: Path, cache: str, path: str, side: int, batch: int) -> Any:
    text = yaml.safe_dump(
        {
            "name": "hosts-bench",
            "data": {
                "source": "directory",
                "params": {"path": str(folder)},
                "image_size": [side, side],
                "cache": cache,
                "split": {"validation": 0.05, "test": 0.05},
            },
            "model": {"architecture": "mlp"},
            "scaling": {"recipe": "unit"},
            "training": {"batch_size": batch},
            "runtime": {"input": path},
        }
    )
    return load_spec_text(text, "bench.yaml")


def host_epoch(prepared: Any, loaded: Any, share: HostShare | None) -> tuple[float, int, int]:
    """Seconds of one training epoch of host 0 of 2, rows it read, images it fed."""
    pipes = build_pipelines(prepared, loaded, first_epoch=0, share=share)
    if share is None:  # before: every global batch read whole, host 0 keeps its half
        train = even_batches(pipes.train, 2, None, processes=2, process_id=0)
    else:
        train = even_batches(pipes.train, 2)
    steps = pipes.steps_per_epoch
    READ[0] = 0
    fed = 0
    started = time.perf_counter()
    if hasattr(train, "as_numpy_iterator"):
        it = train.as_numpy_iterator()
        for _ in range(steps):
            fed += len(next(it)[0])
    else:
        for i in range(steps):
            fed += len(train[i][0])
    return time.perf_counter() - started, READ[0], fed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=6000)
    parser.add_argument("--side", type=int, default=64, help="decoded size (from 96 px JPEGs)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.repeat = 600, 1
    root = Path(tempfile.gettempdir()) / f"zoo-bench-hosts-{args.images}"
    folder = make_folder(root, args.images, 96)
    os.environ.setdefault("ZOO_CACHE_DIR", str(root.parent / "zoo-bench-hosts-cache"))
    count_decodes()
    print(f"{args.images} JPEGs at 96 px -> {args.side} px, batch {args.batch}, host 0 of 2")
    print(
        f"{'pipeline':10} {'cache':6} {'side':7} {'rows read':>10} {'fed':>6} "
        f"{'best s':>7} {'median s':>9} {'best img/s':>10}"
    )
    ratios = []
    for path in ("tf_data", "py_dataset"):
        for cache in ("none", "disk"):
            loaded = spec(folder, cache, path, args.side, args.batch)
            prepared = prepare_data(loaded)
            if isinstance(prepared.train.images, Rows):
                rows = prepared.train.images
                prepared.train = ImageSet(
                    prepared.train.labels, images=CountedRows(rows.base, rows.index)
                )
            best = {}
            for side, share in (("before", None), ("now", HostShare(2, 0, 2))):
                host_epoch(prepared, loaded, share)  # warm: page cache, tf.data functions
                runs = [host_epoch(prepared, loaded, share) for _ in range(args.repeat)]
                times = [t for t, _, _ in runs]
                _, read, fed = runs[0]
                best[side] = min(times)
                print(
                    f"{path:10} {cache:6} {side:7} {read:>10,} {fed:>6,} {min(times):7.2f} "
                    f"{statistics.median(times):9.2f} {fed / min(times):10,.0f}"
                )
            ratios.append((path, cache, best["before"] / best["now"]))
    print()
    for path, cache, ratio in ratios:
        print(f"{path} cache {cache}: a host's epoch {ratio:.2f}x faster reading only its rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
