"""The :class:`~zoo.record.manifest.ExportManifest` of an export, built from its run's
record: class names, the input (and how images are resized), the scaling inside the graph,
the run's test metrics, the check against Keras, versions and where the model came from.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from zoo.record.folder import try_results, versions
from zoo.record.manifest import ExportManifest, InputSpec, OutputSpec, SourceRun
from zoo.record.run import now
from zoo.record.scaling import describe_scaling
from zoo.runner.predict import Run
from zoo.serving.formats import ExportFormat
from zoo.serving.runtimes import Runtime

EXPORT_LIBRARIES = ("tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def export_versions() -> dict[str, str | None]:
    out = versions()
    out.update({lib: v for lib in EXPORT_LIBRARIES if (v := _version(lib))})
    return out


def run_metrics(run: Run) -> dict[str, Any]:
    """The run's test loss and metrics and how many images they came from (its record)."""
    results = try_results(run.path)
    if results is None or not results.split:
        return {}
    return {"split": results.split, "count": results.count, **results.scores}


def build_manifest(
    run: Run,
    fmt: ExportFormat,
    quantize: str | None,
    runtime: Runtime,
    num_classes: int,
    check: dict[str, Any],
    calibration: int | None,
) -> ExportManifest:
    record = run.record
    h, w, c = run.image_shape
    model = record.plugins.get("model")
    return ExportManifest(
        format=fmt.name,
        quantization=quantize,
        artifact=fmt.artifact,
        runtime=runtime.engine,
        class_names=list(run.class_names),
        input=InputSpec(name=runtime.input_name, shape=(None, h, w, c), resize=record.resize),
        output=OutputSpec(name=runtime.output_name, shape=(None, num_classes)),
        scaling={"inside_graph": True, **describe_scaling(record, run.scaling_section)},
        calibration=None if calibration is None else {"split": "train", "images": calibration},
        metrics=run_metrics(run),
        threshold=run.threshold,
        check=check,
        source_run=SourceRun(
            path=str(run.path.resolve()),
            name=record.name,
            created=record.created,
            seed=record.seed,
            epochs=record.epochs_done,
            architecture=model.name if model else None,
        ),
        versions=export_versions(),
        created=now(),
    )
