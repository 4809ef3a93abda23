"""The runner: compile, train, evaluate, predict, and write every artifact of a run.

Importing it does not import Keras (``zoo.train`` picks the backend first); it is reached
from ``zoo.train``, ``zoo.build_model`` and ``zoo.load_run``; ``zoo.evaluate_run`` and
``zoo.predict`` (a run or an export) live in :mod:`zoo.serving`::

    result = zoo.train("specs/digits_mlp.yaml", overrides=["training.epochs=5"])
    result.run_dir, result.metrics["test"]["accuracy"]
    run = zoo.load_run(result.run_dir)
    run.predict(["digit.png"], top_k=3)
    zoo.evaluate_run(result.run_dir).accuracy
"""

from zoo.runner.build import build_model
from zoo.runner.predict import Run, load_run
from zoo.runner.results import EvalResult, TrainResult
from zoo.runner.train import train

__all__ = ["EvalResult", "Run", "TrainResult", "build_model", "load_run", "train"]
