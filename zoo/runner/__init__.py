"""The runner: compile, train, evaluate, predict, and write every artifact of a run.

Everything here imports TensorFlow (lazily, inside functions) and is reached from
``zoo.train``, ``zoo.build_model``, ``zoo.load_run`` and ``zoo.evaluate_run``::

    result = zoo.train("specs/digits_mlp.yaml", overrides=["training.epochs=5"])
    result.run_dir, result.metrics["test"]["accuracy"]
    run = zoo.load_run(result.run_dir)
    run.predict(["digit.png"], top_k=3)
    zoo.evaluate_run(result.run_dir).accuracy
"""

from zoo.runner.build import build_model
from zoo.runner.evaluate import evaluate_run
from zoo.runner.predict import Run, load_run
from zoo.runner.results import ClassScore, EvalResult, Prediction, TrainResult
from zoo.runner.train import train

__all__ = [
    "ClassScore",
    "EvalResult",
    "Prediction",
    "Run",
    "TrainResult",
    "build_model",
    "evaluate_run",
    "load_run",
    "train",
]
