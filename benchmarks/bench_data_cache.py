"""Where decoded images live, measured: speed and peak memory of ``zoo train`` with
``data.cache: memory``, ``disk`` (the first run, which decodes into the cache, and a later
run, which reads it) and ``none``, on folders of 64x64 JPEGs resized to 32x32 (10 classes);
and a folder whose decoded size is larger than the memory the run may use.

Each configuration is one ``zoo.train`` in a fresh process (an MLP of 64 units, batch 64,
3 epochs; no augmentation), which prints the seconds of each epoch (training images per
second) and its peak resident memory (VmHWM) against the same process before the data was
prepared. ``MB/image`` is that growth per image: the pixels themselves are 3 KB (32x32x3);
for ``disk`` the growth is mostly the memory map's pages, which the kernel may drop.

Larger than memory: the run is put in a cgroup (v1 memory controller, as root) whose limit
is below the decoded size, so the page cache cannot hold the data; the disk cache's epochs
are compared with ``cache: memory`` on the same folder without a limit.

Run: ``python benchmarks/bench_data_cache.py [--sizes 4000,16000,64000] [--big 24000]``
(about 15 minutes on 2 cores); ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
CGROUP = Path("/sys/fs/cgroup/memory")


def status() -> dict[str, float]:
    """VmHWM, VmRSS, RssAnon and RssFile of this process, in MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024
    return out


def make_folder(root: Path, n: int, side: int, classes: int = 10) -> Path:
    """``n`` JPEGs of ``side`` pixels in class folders (made once, kept for later runs)."""
    import cv2

    done = root / ".complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
    for i in range(n):
        base = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = cv2.resize(base, (side, side), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(root / f"class{i % 10}" / f"{i}.jpg"), image)
    done.write_text("")
    return root


def child(args: argparse.Namespace) -> None:
    """One zoo.train; prints a JSON line with epoch times and memory."""
    import keras

    import zoo

    spec = {
        "name": "cache-bench",
        "data": {
            "source": "directory",
            "params": {"path": args.folder},
            "image_size": [args.side, args.side],
            "cache": args.cache,
            "split": {"validation": 0.1, "test": 0.1},
        },
        "model": {"architecture": "mlp", "params": {"hidden_units": [64]}},
        "scaling": {"recipe": "unit"},
        "training": {"epochs": args.epochs, "batch_size": 64, "verbose": 0},
    }
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            times.append(time.perf_counter() - self.t)

    before = status()
    started = time.perf_counter()
    result = zoo.train(spec, out=args.out, callbacks=[Clock()])
    total = time.perf_counter() - started
    after = status()
    train = result.record.sizes["train"]
    print(
        json.dumps(
            {
                "times": times,
                "train": train,
                "total": total,
                "before": before,
                "after": after,
                "cache": result.record.data.cache if result.record.data else None,
            }
        )
    )


def run_child(
    folder: Path, cache: str, side: int, epochs: int, cache_dir: Path, cgroup: Path | None = None
) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="zoo-bench-runs-"))
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--folder",
        str(folder),
        "--cache",
        cache,
        "--side",
        str(side),
        "--epochs",
        str(epochs),
        "--out",
        str(out),
    ]
    env = dict(os.environ, ZOO_CACHE_DIR=str(cache_dir))

    def enter_cgroup() -> None:
        if cgroup is not None:
            (cgroup / "cgroup.procs").write_text(str(os.getpid()))

    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, preexec_fn=enter_cgroup, timeout=7200
    )
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:
        raise RuntimeError(f"{cache} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(label: str, n: int, r: dict[str, Any]) -> str:
    times = r["times"]
    first = r["train"] / times[0]
    later = r["train"] / min(times[1:]) if len(times) > 1 else float("nan")
    grown = r["after"]["VmHWM"] - r["before"]["VmHWM"]
    anon = r["after"]["RssAnon"] - r["before"]["RssAnon"]
    return (
        f"| {n:,} | {label} | {first:,.0f} | {later:,.0f} | {r['total']:.1f} | "
        f"{r['after']['VmHWM']:,.0f} | {grown / n * 1024:.1f} | {anon / n * 1024:.1f} |"
    )


def drop_page_cache(path: Path) -> None:
    """Evict a folder's files from the page cache (a cold start), where the OS allows."""
    for f in path.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def memory_limited(limit_mb: int) -> Path | None:
    """A cgroup (v1) limiting memory and page cache to ``limit_mb``; None when not possible."""
    group = CGROUP / f"zoo-bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(limit_mb << 20))
    except OSError:
        return None
    return group


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--child", action="store_true")
    p.add_argument("--folder")
    p.add_argument("--cache", default="memory")
    p.add_argument("--side", type=int, default=32)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--out")
    p.add_argument("--sizes", default="4000,16000,64000")
    p.add_argument("--big", type=int, default=24000, help="images of the larger-than-memory run")
    p.add_argument("--big-side", type=int, default=160)
    p.add_argument(
        "--limit",
        type=int,
        default=2400,
        help="MB the larger-than-memory run gets: its own ~1.3 GB and room for about half "
        "the decoded data in the page cache",
    )
    p.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "zoo-bench-cache-data"))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.child:
        child(args)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]  # --sizes '': only the big run
    if args.quick:
        sizes, args.big, args.limit = [2000], 3000, 1200
    data = Path(args.data)
    peaks: dict[str, dict[int, float]] = {}
    print(f"# zoo data cache benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs")
    if sizes:
        print(
            "| images | cache | img/s epoch 1 | img/s later | run s | peak MB | KB/image peak | "
            "KB/image anon |"
        )
        print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        folder = make_folder(data / f"jpeg64-{n}", n, 64)
        for cache in ("memory", "disk-first", "disk-later", "none"):
            cache_dir = data / f"cache-{n}"
            if cache == "disk-first":
                shutil.rmtree(cache_dir, ignore_errors=True)
            mode = cache.split("-")[0]
            drop_page_cache(folder)
            r = run_child(folder, mode, 32, args.epochs, cache_dir)
            peaks.setdefault(cache, {})[n] = r["after"]["VmHWM"]
            print(row(cache, n, r), flush=True)
    if len(sizes) > 1:
        lo, hi = min(sizes), max(sizes)
        print(f"\n# memory per extra image, from {lo:,} to {hi:,} images (pixels: 3.0 KB)")
        for cache, by_n in peaks.items():
            slope = (by_n[hi] - by_n[lo]) / (hi - lo) * 1024
            print(f"- {cache}: {slope:.1f} KB/image ({slope / 3.0:.2f}x the pixels)")
    # larger than memory
    side = args.big_side
    folder = make_folder(data / f"jpeg{side}-{args.big}", args.big, side)
    decoded_mb = args.big * side * side * 3 / 2**20
    print(
        f"\n# larger than memory: {args.big:,} images of {side}x{side}x3, {decoded_mb:,.0f} MB "
        f"decoded; the disk-cache run limited to {args.limit} MB (cgroup)"
    )
    print("| run | img/s epoch 1 | img/s epoch 2 | img/s epoch 3 | peak MB |")
    print("|---|---|---|---|---|")
    cache_dir = data / f"cache-big-{args.big}"
    shutil.rmtree(cache_dir, ignore_errors=True)
    results = {}
    results["memory (no limit)"] = run_child(folder, "memory", side, 3, cache_dir)
    group = memory_limited(args.limit)
    if group is not None:  # what the limit leaves without a cache: decoding every epoch
        try:
            drop_page_cache(folder)
            results[f"none, limited to {args.limit} MB"] = run_child(
                folder, "none", side, 3, cache_dir, group
            )
        finally:
            group.rmdir()
    run_child(folder, "disk", side, 1, cache_dir)  # builds the entry
    group = memory_limited(args.limit)
    label = f"disk, limited to {args.limit} MB" if group else "disk (no cgroup: not limited)"
    try:
        drop_page_cache(cache_dir)
        results[label] = run_child(folder, "disk", side, 3, cache_dir, group)
    finally:
        if group is not None:
            group.rmdir()
    for name, r in results.items():
        speeds = " | ".join(f"{r['train'] / t:,.0f}" for t in r["times"])
        print(f"| {name} | {speeds} | {r['after']['VmHWM']:,.0f} |")
    mem, disk = results["memory (no limit)"], results[label]
    ratio = min(mem["times"][1:]) / min(disk["times"][1:])
    print(f"\ndisk cache / in-memory speed from epoch 2: {ratio:.2f}x")


if __name__ == "__main__":
    main()
