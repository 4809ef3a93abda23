"""``manifest.json`` beside an export: what a server needs to know without zoo.

:class:`ExportManifest` is the only way the file is written and read: class names in output
order, the input (shape, dtype, range, layout, resize and its interpolation), the scaling
inside the graph with its fitted state, the source run's test metrics, the check against
Keras, versions and where the model came from. The artifact it names must lie inside the
export folder (no absolute path, no ``..``, no link out); sizes are bounded like a run's.
Format 1 manifests (older zoo) are read too.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from zoo.errors import Problem
from zoo.record.files import RecordError, load_record
from zoo.record.run import Record
from zoo.spec.sections import MAX_CLASSES, MAX_SIDE

MANIFEST_FILE = "manifest.json"
MANIFEST_KIND = "zoo-export"
MANIFEST_VERSION = 2  # 2: the resize interpolation is named
# How zoo resizes (cv2.resize): area averaging to shrink, bilinear to enlarge.
INTERPOLATION = "cv2.INTER_AREA when shrinking, cv2.INTER_LINEAR when enlarging"

Side = Annotated[int, Field(strict=True, ge=1, le=MAX_SIDE)]


class InputSpec(Record):
    name: str = "pixels"
    shape: tuple[None, Side, Side, Annotated[int, Field(strict=True, ge=1, le=4)]]
    dtype: Literal["float32"] = "float32"
    layout: Literal["NHWC"] = "NHWC"
    range: tuple[float, float] = (0, 255)
    resize: Literal["stretch", "keep_aspect"] = "stretch"
    interpolation: str = INTERPOLATION
    note: str = "raw pixel values (cast uint8 images to float32); the scaling is inside"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return int(self.shape[1]), int(self.shape[2]), int(self.shape[3])


class OutputSpec(Record):
    name: str = "probabilities"
    shape: tuple[None, Annotated[int, Field(ge=1, le=MAX_CLASSES)]]
    dtype: Literal["float32"] = "float32"
    note: str = "class probabilities in class_names order"


class SourceRun(Record):
    path: str | None = None
    name: str | None = None
    created: str | None = None
    seed: int | None = None
    epochs: int | None = None
    architecture: str | None = None


class ExportManifest(Record):
    """Everything ``manifest.json`` says; see the module docstring."""

    kind: Literal["zoo-export"] = "zoo-export"
    manifest_version: int = MANIFEST_VERSION
    format: Literal["savedmodel", "tflite", "onnx"]
    quantization: Literal["float16", "dynamic", "int8"] | None = None
    artifact: str
    runtime: str
    class_names: list[Annotated[str, Field(max_length=500)]] = Field(
        min_length=1, max_length=MAX_CLASSES
    )
    input: InputSpec
    output: OutputSpec
    scaling: dict[str, Any] = Field(default_factory=dict)
    calibration: dict[str, Any] | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = Field(
        None, gt=0, lt=1, description="two classes: class 1 from this probability on"
    )
    check: dict[str, Any] = Field(default_factory=dict)
    source_run: SourceRun = Field(default_factory=SourceRun)
    versions: dict[str, str | None] = Field(default_factory=dict)
    created: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"holds a JSON {type(data).__name__}, not an object")
        version = data.get("manifest_version", 1)
        if isinstance(version, int) and version > MANIFEST_VERSION:
            raise ValueError(
                f"was written by a newer zoo (manifest version {version}; this "
                f"zoo reads up to {MANIFEST_VERSION}): upgrade zoo"
            )
        return data

    @field_validator("artifact")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(value)
        if (
            not value
            or path.is_absolute()
            or ".." in path.parts
            or "\\" in value
            or value.startswith("~")
        ):
            raise ValueError(
                "must name a file or folder inside the export folder, relative to "
                f"it (got {value!r})"
            )
        return value

    def artifact_path(self, folder: Path, manifest_path: Path | None = None) -> Path:
        """The artifact inside ``folder``; a link that leads out of it is refused."""
        path = folder / self.artifact
        real, root = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
        if real != root and root not in real.parents:
            where = str(manifest_path or folder / MANIFEST_FILE)
            raise RecordError(
                [
                    Problem(
                        f"the artifact {self.artifact!r} leads outside the export "
                        "folder (a link?); refusing to load it",
                        where,
                        key_path="artifact",
                    )
                ]
            )
        return path

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def read_manifest(path: Path) -> ExportManifest:
    """A manifest file; damaged or not zoo's: a located RecordError."""
    return load_record(ExportManifest, path, "export manifest")


def is_manifest(path: Path) -> bool:
    """Whether ``path`` is a zoo export manifest (readable and of zoo's kind)."""
    try:
        read_manifest(path)
    except RecordError:
        return False
    return True
