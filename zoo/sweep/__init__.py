"""Hyperparameter sweeps over a spec's key paths, on Optuna (``zoo sweep``)."""

from zoo.sweep.config import Sweep, check_sweep, load_sweep
from zoo.sweep.run import SweepResult, run_sweep

__all__ = ["Sweep", "SweepResult", "check_sweep", "load_sweep", "run_sweep"]
