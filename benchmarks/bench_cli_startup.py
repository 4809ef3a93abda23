"""Cold start of `zoo list` against `python -c "import tensorflow"`, measured in one run.

The lookup verbs must not import TensorFlow; this prints both medians and their ratio
(target: under 0.2). Usage: python benchmarks/bench_cli_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def time_command(argv: list[str], repeat: int) -> float:
    """Median wall time of a fresh interpreter running ``argv``."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py = sys.executable
    commands = {
        "zoo list": [py, "-m", "zoo", "list"],
        "zoo validate": [py, "-m", "zoo", "validate", "specs/digits_mlp.yaml"],
        "import tensorflow": [py, "-c", "import tensorflow"],
    }
    time_command(commands["import tensorflow"], 1)  # warm the OS file cache for both sides
    time_command(commands["zoo list"], 1)
    results = {name: time_command(argv, args.repeat) for name, argv in commands.items()}
    tf_time = results["import tensorflow"]
    for name, seconds in results.items():
        print(f"{name:18s} {seconds:7.3f} s (median of {args.repeat})")
    for name in ("zoo list", "zoo validate"):
        print(f"ratio {name} / import tensorflow: {results[name] / tf_time:.3f} (target < 0.2)")


if __name__ == "__main__":
    main()
