"""``run.json``: what a run is (status, seed, versions, plugins, classes, input, scaling).

:class:`RunRecord` is the only way the file is written and read. It is versioned like a
spec (``format``): a record written by an older zoo is migrated on load, one written by a
newer zoo is refused with a clear line. Every value a reader relies on is bounded (an image
side of at most 4096 pixels, a known status...), so a hand-edited record is one located
error, never a 30 GB allocation or a traceback.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from zoo.errors import Problem
from zoo.record.files import RecordError, load_record
from zoo.record.writing import write_json
from zoo.run_files import DEFAULT_BACKUP_DIR, INFO_FILE
from zoo.spec.sections import MAX_CLASSES, MAX_SIDE

RUN_FORMAT = 2  # 2: typed record; the kept weights moved to metrics.json

RUNNING, INTERRUPTED, FAILED, FINISHED = "running", "interrupted", "failed", "finished"
Status = Literal["running", "interrupted", "failed", "finished"]
STATUSES: tuple[str, ...] = (RUNNING, INTERRUPTED, FAILED, FINISHED)

Side = Annotated[int, Field(strict=True, ge=1, le=MAX_SIDE)]
ClassName = Annotated[str, Field(max_length=500)]


class Record(BaseModel):
    """Base of the record models: unknown keys are kept out (a newer zoo's additions are
    ignored, never written back), values are validated on assignment too."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class PluginUse(Record):
    """Which plugin, package and version built one spec section."""

    name: str
    plugin: str | None = None
    distribution: str | None = None
    version: str | None = None
    module: str | None = None


class ScalingRecord(Record):
    """The scaling recipe and the state it was fitted to (prediction scales with it)."""

    recipe: str = Field(min_length=1)
    state: dict[str, Any] | None = None


class ObjectiveRecord(Record):
    """The loss the model trained with and the form of its targets."""

    loss: str
    targets: Literal["sparse", "one_hot", "binary"]
    label_smoothing: float = Field(ge=0, lt=1)


class DataRecord(Record):
    """What the run trained and was tested on: a fingerprint of the whole data and of each
    split (files by path, size and modification time, or pixels; labels; the split), and
    where the decoded images came from (``cache``: disk, memory, none, source)."""

    fingerprint: str
    splits: dict[str, str] = Field(default_factory=dict)
    cache: str = "source"
    cache_entry: str | None = None


class ThresholdRecord(Record):
    """A two-class run's decision threshold: given in the spec, or chosen on the validation
    split to maximize ``maximize`` (reaching ``score`` there)."""

    value: float = Field(gt=0, lt=1)
    maximize: str | None = None
    score: float | None = None


class StrategyRecord(Record):
    """Where the run trained."""

    name: str | None = None
    replicas: int = Field(1, ge=1)
    hosts: int = Field(1, ge=1)
    mixed_precision: bool = False


def _inside_run(value: str) -> str:
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ValueError(f"must be a path inside the run folder (got {value!r})")
    return value


RunPath = Annotated[str, Field(max_length=4096)]


class RunRecord(Record):
    """Everything ``run.json`` says; see the module docstring."""

    format: int = RUN_FORMAT
    name: str = Field(min_length=1, max_length=500)
    status: Status
    created: str
    resumed: list[str] = Field(default_factory=list)
    ended: str | None = None
    reason: str | None = None
    finished: str | None = None
    spec_version: int = 1
    seed: int = 0
    deterministic: bool = False
    spec_dir: str | None = None
    spec_sha256: str | None = None
    versions: dict[str, str | None] = Field(default_factory=dict)
    plugins: dict[str, PluginUse] = Field(default_factory=dict)
    class_names: list[ClassName] = Field(min_length=1, max_length=MAX_CLASSES)
    image_shape: tuple[Side, Side, Annotated[int, Field(strict=True, ge=1, le=4)]]
    resize: Literal["stretch", "keep_aspect"] = "stretch"
    sizes: dict[str, int] = Field(default_factory=dict)
    skipped_files: list[str] = Field(default_factory=list)
    scaling: ScalingRecord
    objective: ObjectiveRecord
    backend: str = "tensorflow"
    input: str = "tf_data"
    strategy: StrategyRecord = Field(default_factory=StrategyRecord)
    class_weight: dict[str, float] | None = None
    threshold: ThresholdRecord | None = None
    data: DataRecord | None = None
    epochs_done: int = Field(0, ge=0)
    backup_dir: RunPath = DEFAULT_BACKUP_DIR
    train_seconds: float = Field(0.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """Older formats in, this one out; a newer format is refused."""
        if not isinstance(data, dict):
            raise ValueError(f"holds a JSON {type(data).__name__}, not an object")
        fmt = data.get("format", 1 if "best_checkpoint" in data else RUN_FORMAT)
        if isinstance(fmt, int) and fmt > RUN_FORMAT:
            raise ValueError(
                f"was written by a newer zoo (run format {fmt}; this zoo reads "
                f"up to {RUN_FORMAT}): upgrade zoo"
            )
        if fmt == 1:
            data = {k: v for k, v in data.items() if k != "best_checkpoint"}
            data["format"] = RUN_FORMAT
        return data

    @field_validator("backup_dir")
    @classmethod
    def _backup_inside(cls, value: str) -> str:
        return _inside_run(value)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def ended_as(self, status: Status, reason: str | None = None) -> RunRecord:
        """This record with a new status (and why), stamped with the time it ended."""
        update: dict[str, Any] = {
            "status": status,
            "reason": reason or None,
            "ended": None if status == RUNNING else now(),
        }
        return self.model_copy(update=update)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def now() -> str:
    """The time, as records write it."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def read_run_record(run_dir: Path) -> RunRecord:
    """``run.json`` of a run folder; a missing, damaged or incomplete one is a located
    :class:`~zoo.record.files.RecordError`."""
    path = Path(run_dir) / INFO_FILE
    if not (path.exists() or path.is_symlink()):
        raise RecordError([Problem(f"not a zoo run folder (no {INFO_FILE})", str(run_dir))])
    return load_record(RunRecord, path, "run")


def try_run_record(run_dir: Path) -> tuple[RunRecord | None, str | None]:
    """``(record, None)`` or ``(None, why it cannot be used)``; never raises."""
    try:
        return read_run_record(run_dir), None
    except RecordError as exc:
        first = exc.problems[0]
        if first.message.startswith("not a zoo run folder"):
            return None, f"no {INFO_FILE}"
        where = first.key_path + ": " if first.key_path else ""
        message = first.message.removeprefix("unreadable run: ")
        return (
            None,
            f"{INFO_FILE} {where}{message}" if not where else f"{INFO_FILE}: {where}{message}",
        )


def write_run_record(run_dir: Path, record: RunRecord, step: str | None = None) -> None:
    """``run.json``, replaced atomically (``step`` names the fault hooks around it)."""
    write_json(run_dir, INFO_FILE, record.to_json(), step)
