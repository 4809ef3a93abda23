"""``metrics.json``: what a finished run produced, and which weights it kept.

:class:`Results` holds the evaluation of the kept weights on the test split (the validation
split when there is no test split) and :class:`WeightsRecord`, the one definition of the
weights contract:

- ``checkpoints/last.weights.h5`` holds the last trained epoch's weights, and the best
  checkpoint the best epoch's by its monitor, whatever early stopping restores;
- ``kept`` says which of the two ``model.keras`` holds (``evaluation.weights``), and the
  record gives, for each, its epoch, its file and every metric logged at that epoch.

A sweep scores a trial by this record, ``zoo evaluate --weights best|last`` loads the file
it names, ``zoo runs`` shows its numbers: no verb recomputes them from history files.
Format 1 files (older zoo) are migrated on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from zoo.record.files import load_record
from zoo.record.run import Record, _inside_run
from zoo.record.writing import write_json
from zoo.run_files import METRICS_FILE

RESULTS_FORMAT = 2
Which = Literal["best", "last"]


class EpochWeights(Record):
    """One epoch's weights: the epoch (1-based), the file that holds them, its logs."""

    epoch: int = Field(ge=0)
    file: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)

    @field_validator("file")
    @classmethod
    def _file_inside(cls, value: str | None) -> str | None:
        return None if value is None else _inside_run(value)


class WeightsRecord(Record):
    """Which weights the run keeps (``kept``) and, for the best and the last epoch, where
    they are and what was logged then (see the module docstring)."""

    setting: Literal["auto", "best", "last"] = "auto"
    kept: Which = "last"
    monitor: str | None = None  # the best checkpoint's monitor
    best: EpochWeights | None = None
    last: EpochWeights
    note: str | None = None

    @property
    def kept_weights(self) -> EpochWeights:
        return self.best if self.kept == "best" and self.best is not None else self.last

    def of(self, which: Which | Literal["kept"]) -> EpochWeights | None:
        """The best, last or kept epoch's weights (None: no best was kept)."""
        if which == "kept":
            return self.kept_weights
        return self.best if which == "best" else self.last

    def value(self, which: Which | Literal["kept"], metric: str) -> float | None:
        """A metric logged at the best, last or kept epoch (``val_accuracy``...)."""
        epoch = self.of(which)
        return None if epoch is None else epoch.metrics.get(metric)


class ClassScores(Record):
    precision: float
    recall: float
    f1: float
    support: int


class Summary(Record):
    """What the numbers mean on the evaluated split (scikit-learn, from the predictions):
    the scores that stay honest on imbalanced data, the majority-class ``baseline`` (the
    accuracy of always answering ``majority_class``), the worst class's recall, the share
    of predictions per class, and ``warning`` when the model answers one class or does no
    better than the baseline. ``threshold``: the two-class decision threshold used."""

    split: str
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    worst_class: str
    worst_recall: float
    majority_class: str
    baseline: float
    roc_auc: float | None = None
    pr_auc: float | None = None
    predicted_share: dict[str, float] = Field(default_factory=dict)
    threshold: float | None = Field(None, gt=0, lt=1)
    warning: str | None = None


class Results(Record):
    """Everything ``metrics.json`` says; see the module docstring.

    On disk the evaluated split's metrics sit under the split's name
    (``{"split": "test", "test": {"accuracy": ...}}``), as people read them.
    """

    format: int = RESULTS_FORMAT
    split: str | None = None  # the evaluated split; None when there was none to evaluate
    count: int = Field(0, ge=0)
    scores: dict[str, float] = Field(default_factory=dict)
    per_class: dict[str, ClassScores] = Field(default_factory=dict)
    confusion_matrix: list[list[int]] = Field(default_factory=list)
    class_names: list[str] = Field(default_factory=list)
    weights: WeightsRecord
    epochs: int = Field(0, ge=0)
    summary: Summary | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_disk(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"holds a JSON {type(data).__name__}, not an object")
        fmt = data.get("format", _unversioned(data))
        if isinstance(fmt, int) and fmt > RESULTS_FORMAT:
            raise ValueError(
                f"was written by a newer zoo (format {fmt}; this zoo reads up "
                f"to {RESULTS_FORMAT}): upgrade zoo"
            )
        data = dict(data)
        split = data.get("split")
        if "scores" not in data and isinstance(split, str) and isinstance(data.get(split), dict):
            data["scores"] = data.pop(split)
        if fmt == 1:
            data = _migrate_1(data)
        return data

    @model_serializer(mode="wrap")
    def _to_disk(self, handler: Any) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        scores = out.pop("scores", {})
        if self.split:
            out[self.split] = scores
        return out

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _unversioned(data: dict[str, Any]) -> int:
    """Format 1 files carry no ``format`` key; neither does a record built in memory."""
    weights = data.get("weights")
    return (
        1
        if not isinstance(weights, (dict, WeightsRecord))
        or (isinstance(weights, dict) and "used" in weights)
        else RESULTS_FORMAT
    )


def _migrate_1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1: ``weights`` was ``{used, epoch, monitor, value, checkpoint, last_epoch,
    last_weights, setting}`` and ``final_epoch`` held the last epoch's logs."""
    found = data.get("weights")
    old: dict[str, Any] = found if isinstance(found, dict) else {}
    final = data.pop("final_epoch", None)
    last_logs = final if isinstance(final, dict) else {}
    used = old.get("used", "last")
    epochs = data.get("epochs") or 0
    last_epoch = old.get("last_epoch") or (old.get("epoch") if used == "last" else epochs) or epochs
    weights: dict[str, Any] = {
        "setting": old.get("setting", "auto"),
        "kept": used if used in ("best", "last") else "last",
        "monitor": old.get("monitor"),
        "last": {
            "epoch": last_epoch or 0,
            "file": old.get("last_weights"),
            "metrics": {k: v for k, v in last_logs.items() if isinstance(v, (int, float))},
        },
        "note": old.get("note"),
    }
    if used == "best":
        value = old.get("value")
        weights["best"] = {
            "epoch": old.get("epoch") or 0,
            "file": old.get("checkpoint"),
            "metrics": {old["monitor"]: value}
            if old.get("monitor") and isinstance(value, (int, float))
            else {},
        }
    data["weights"] = weights
    data["format"] = RESULTS_FORMAT
    return data


def read_results(run_dir: Path) -> Results:
    """``metrics.json`` of a finished run; damaged: a located RecordError."""
    return load_record(Results, Path(run_dir) / METRICS_FILE, "run results")


def write_results(run_dir: Path, results: Results, step: str | None = "metrics") -> None:
    write_json(run_dir, METRICS_FILE, results.to_json(), step)
