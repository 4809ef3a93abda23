"""``zoo export`` / ``zoo.export``: a finished run as a self-contained serving artifact.

Checks come first (format, options, optional dependencies, run status, output path), so a
mistake costs nothing. The export is written into a hidden folder beside the target, run
once with its own runtime against the Keras model, and moved into place only when
complete: a failed or interrupted export never leaves a half-written folder, and
``--force`` replaces an earlier export (never a folder zoo did not write).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.io import atomic_write_json
from zoo.plugin.registry import Registry
from zoo.record.manifest import MANIFEST_FILE, ExportManifest, is_manifest
from zoo.record.writing import fault, is_disk_full
from zoo.runner.predict import Run
from zoo.serving.convert import calibration_images as read_calibration
from zoo.serving.convert import write_artifact
from zoo.serving.formats import (
    DEFAULT_CALIBRATION_IMAGES,
    QUANTIZATIONS,
    ExportFormat,
    check_export_deps,
    default_dir,
    get_format,
)
from zoo.serving.manifest import build_manifest
from zoo.serving.runtimes import open_runtime

CHECK_IMAGES = 16
FILE_SUFFIXES = (".tflite", ".onnx", ".pb", ".json")

Progress = Callable[[str], None]


@dataclass
class ExportResult:
    """Where the export went, and its manifest."""

    path: Path
    artifact: Path
    manifest_path: Path
    format: str
    quantization: str | None
    manifest: ExportManifest

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "artifact": str(self.artifact),
            "manifest": str(self.manifest_path),
            "format": self.format,
            "quantization": self.quantization,
            "bytes": artifact_bytes(self.artifact),
            "check": self.manifest.check,
        }


def artifact_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size if path.exists() else 0


def _check_options(fmt: ExportFormat, quantize: str | None, calibration_images: int) -> None:
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise UserError(f"unknown quantization '{quantize}' (known: {', '.join(QUANTIZATIONS)})")
    if quantize is not None and fmt.name != "tflite":
        raise UserError(f"quantization applies to the tflite format only, not {fmt.name}")
    if calibration_images < 1:
        raise UserError("the number of calibration images must be at least 1")


def check_finished(run: Run) -> None:
    status = run.status
    if status == "finished":
        return
    hint = {
        "running": "it is still training, or was killed (resume it with: "
        f"zoo train --resume {run.path})",
        "interrupted": f"resume it with: zoo train --resume {run.path}",
        "failed": "train it again",
    }.get(status, "only a finished run can be exported")
    raise UserError([Problem(f"the run is {status}, not finished; {hint}", str(run.path))])


def _is_export(path: Path) -> bool:
    return path.is_dir() and is_manifest(path / MANIFEST_FILE)


def _check_target(dest: Path, force: bool) -> None:
    if dest.suffix.lower() in FILE_SUFFIXES:
        raise UserError(
            [
                Problem(
                    "the output is a folder for the model and its manifest, not a file name",
                    str(dest),
                )
            ]
        )
    if not (dest.exists() or dest.is_symlink()):
        return
    if dest.is_dir() and not any(dest.iterdir()):
        return
    if not force:
        raise UserError([Problem("already exists; pass --force to replace it", str(dest))])
    if not _is_export(dest):
        raise UserError(
            [
                Problem(
                    "exists and is not a zoo export; not replacing it, even with --force", str(dest)
                )
            ]
        )


@contextlib.contextmanager
def disk_full_is_one_line(dest: Path) -> Iterator[None]:
    """A full disk while writing an export (TensorFlow's ResourceExhaustedError, ONNX's
    OSError 28...) is one line; the temporary folder is removed by the caller."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise UserError(
                [
                    Problem(
                        "disk full while writing the export; free space and run "
                        "zoo export again (nothing was left behind)",
                        str(dest),
                    )
                ]
            ) from None
        raise


def _move_into_place(tmp: Path, dest: Path) -> None:
    old = None
    if dest.exists() or dest.is_symlink():
        old = dest.parent / f".{dest.name}.old-{os.getpid()}"
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _self_check(
    serving: Any, runtime: Any, image_shape: tuple[int, int, int], calibration: np.ndarray | None
) -> dict[str, Any]:
    """The export against the Keras model it came from, on a few images."""
    if calibration is not None:
        pixels, source = calibration[:CHECK_IMAGES].astype(np.float32), "training images"
    else:
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (CHECK_IMAGES, *image_shape)).astype(np.float32)
        source = "random pixels"
    expected = np.asarray(serving(pixels, training=False), dtype=np.float32)
    got = np.asarray(runtime(pixels), dtype=np.float32)
    if got.shape != expected.shape:
        raise RuntimeError(f"the export gives shape {got.shape}, Keras {expected.shape}")
    return {
        "images": int(len(pixels)),
        "inputs": source,
        "max_abs_diff": float(np.max(np.abs(got - expected))),
        "same_top_class": float(np.mean(got.argmax(1) == expected.argmax(1))),
    }


def export(
    run: str | Path | Run,
    format: str = "savedmodel",
    out: str | Path | None = None,
    *,
    force: bool = False,
    quantize: str | None = None,
    calibration_images: int = DEFAULT_CALIBRATION_IMAGES,
    registry: Registry | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Export a finished run for serving: raw pixels in, class probabilities out.

    :param run: a run folder or a :class:`zoo.runner.Run`.
    :param format: ``savedmodel``, ``tflite`` or ``onnx``.
    :param out: the export folder (default ``RUN/exports/<format>[-<quantize>]``).
    :param force: replace an earlier export at ``out``.
    :param quantize: TFLite only: ``float16``, ``dynamic`` or ``int8`` (calibrated on
        ``calibration_images`` of the run's training images).
    :param progress: called with a short message before each long step.
    """
    say = progress or (lambda message: None)
    fmt = get_format(format)
    _check_options(fmt, quantize, calibration_images)
    check_export_deps(fmt)
    run = run if isinstance(run, Run) else Run(run, registry)
    check_finished(run)
    dest = Path(out) if out is not None else default_dir(run.path, fmt, quantize)
    _check_target(dest, force)

    say(f"loading {run.path}")
    from zoo.serving.graph import input_signature, serving_model  # imports TensorFlow

    name = run.record.name
    serving = serving_model(run.model, run.scaling, run.image_shape, name)
    calibration = None
    if quantize == "int8":
        say(f"reading {calibration_images} training images to calibrate int8")
        calibration = read_calibration(run, calibration_images)

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        label = fmt.name + (f" ({quantize})" if quantize else "")
        say(f"converting to {label}")
        signature = input_signature(run.image_shape)
        with disk_full_is_one_line(dest):
            write_artifact(serving, fmt, tmp / fmt.artifact, signature, quantize, calibration)
            fault("during_export")
        say("checking the export against the Keras model")
        runtime = open_runtime(fmt, tmp / fmt.artifact)
        check = _self_check(serving, runtime, run.image_shape, calibration)
        num_classes = int(serving.outputs[0].shape[-1])
        manifest = build_manifest(
            run,
            fmt,
            quantize,
            runtime,
            num_classes,
            check,
            None if calibration is None else int(len(calibration)),
        )
        with disk_full_is_one_line(dest):
            atomic_write_json(tmp / MANIFEST_FILE, manifest.to_json())
        del runtime
        _move_into_place(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(
        dest, dest / fmt.artifact, dest / MANIFEST_FILE, fmt.name, quantize, manifest
    )
