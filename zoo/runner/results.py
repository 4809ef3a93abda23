"""What the runner hands back: typed, JSON-able results of training and evaluation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zoo.record.results import Results, Summary
from zoo.record.run import RunRecord


@dataclass
class EvalResult:
    """Loss and metrics on one split, per-class precision/recall, and the confusion matrix."""

    split: str
    count: int
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    class_names: list[str]
    weights: dict[str, Any] | None = None  # a run's: which weights (best/last) and epoch
    summary: Summary | None = None  # what the numbers mean (baseline, balanced scores...)

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")

    @property
    def loss(self) -> float | None:
        return self.metrics.get("loss")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["summary"] = self.summary.model_dump(mode="json") if self.summary else None
        return out


@dataclass
class TrainResult:
    """A finished run: its folder, the per-epoch history and the final evaluation."""

    run_dir: Path
    history: dict[str, list[float]]
    metrics: dict[str, Any]  # metrics.json as data
    record: RunRecord = field(repr=False)  # run.json
    results: Results = field(repr=False)  # metrics.json
    evaluation: EvalResult | None = None
    epochs: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)
    model: Any = field(default=None, repr=False, compare=False)  # the trained keras.Model

    @property
    def test_accuracy(self) -> float | None:
        return self.evaluation.accuracy if self.evaluation else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "epochs": self.epochs,
            "seconds": self.seconds,
            "metrics": self.metrics,
            "history": self.history,
            "files": self.files,
        }
