"""The runner: compile, train, evaluate, predict, and write every artifact of a run.

Everything here imports TensorFlow (lazily, inside functions) and is reached from
``zoo.train``, ``zoo.build_model`` and ``zoo.load_run``.
"""

from zoo.runner.build import build_model

__all__ = ["build_model"]
