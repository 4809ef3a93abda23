"""Sweep overhead: a trial inside ``zoo sweep`` vs. the same training alone, and the wall time
of 8 short trials on 1 vs 2 worker processes sharing one study (journal storage).

    python benchmarks/bench_sweep.py            # about two minutes on two CPU cores
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "digits_mlp.yaml"
FIXED = ["training.epochs=2", "data.params.limit=300", "training.verbose=0"]
SWEEP = f"""\
spec: {SPEC}
overrides: [{", ".join(FIXED)}]
space:
  model.params.dropout: {{type: float, low: 0.0, high: 0.5}}
  training.optimizer.learning_rate: {{type: float, low: 1.0e-3, high: 1.0e-2, log: true}}
trials: {{trials}}
sampler: {{name: tpe, seed: 0}}
"""


def overhead(tmp: Path, n: int = 4) -> tuple[float, float, float]:
    import zoo
    from zoo.sweep import load_sweep, run_sweep

    zoo.train(SPEC, out=tmp / "warm", overrides=FIXED)  # graph building, caches
    alone = []
    for i in range(n):
        t = time.perf_counter()
        zoo.train(SPEC, out=tmp / "alone", overrides=[*FIXED, f"model.params.dropout={0.1 * i}"])
        alone.append(time.perf_counter() - t)
    path = tmp / "sweep.yaml"
    path.write_text(SWEEP.replace("{trials}", str(n)))
    sweep = load_sweep(path)
    t = time.perf_counter()
    run_sweep(sweep, tmp / "sweep")
    total = time.perf_counter() - t
    import csv

    with open(tmp / "sweep" / "trials.csv") as f:
        in_sweep = [float(r["seconds"]) for r in csv.DictReader(f)]
    return statistics.median(alone), statistics.median(in_sweep), total / n


def workers(tmp: Path, count: int, trials: int = 8) -> float:
    path = tmp / f"sweep{count}.yaml"
    path.write_text(SWEEP.replace("{trials}", str(trials)))
    out = tmp / f"w{count}"
    cmd = [sys.executable, "-m", "zoo", "sweep", str(path), "--out", str(out), "--join"]
    t = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(count)
    ]
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err.decode()[-2000:]
    wall = time.perf_counter() - t
    rows = (out / "trials.csv").read_text().strip().splitlines()[1:]
    assert len(rows) == trials, rows
    return wall


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        alone, trial, per_trial = overhead(tmp)
        print(f"trial alone (zoo.train, median of 4):      {alone:6.2f} s")
        print(
            f"trial inside the sweep (Optuna's duration): {trial:6.2f} s  "
            f"overhead {trial - alone:+.2f} s ({(trial / alone - 1) * 100:+.0f}%)"
        )
        print(
            f"sweep wall time per trial (4 trials, with trials.csv, best_spec, plots): "
            f"{per_trial:6.2f} s  overhead {per_trial - alone:+.2f} s"
        )
        one = workers(tmp, 1)
        two = workers(tmp, 2)
        print(f"8 trials, 1 worker process:  {one:6.1f} s wall")
        print(
            f"8 trials, 2 worker processes: {two:6.1f} s wall  (speed-up x{one / two:.2f}, "
            f"{os.cpu_count()} CPUs)"
        )


if __name__ == "__main__":
    main()
