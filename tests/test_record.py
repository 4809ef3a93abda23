"""The run record: versioned models of run.json, metrics.json and manifest.json, read from
files that may be old, damaged, hostile or not files at all."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from zoo.errors import UserError
from zoo.record.files import MAX_TABLE_BYTES, RecordError
from zoo.record.folder import list_runs, run_state
from zoo.record.history import history_epochs, read_history
from zoo.record.manifest import ExportManifest, read_manifest
from zoo.record.results import read_results
from zoo.record.run import RunRecord, read_run_record

# What zoo 0.1.0 (run format 1) wrote.
V1_RUN = {
    "format": 1,
    "name": "digits-mlp",
    "status": "finished",
    "created": "2026-11-20T10:00:00+00:00",
    "spec_version": 1,
    "seed": 42,
    "deterministic": True,
    "spec_dir": "/tmp",
    "versions": {"zoo": "0.1.0"},
    "plugins": {
        "model": {
            "name": "mlp",
            "plugin": "mlp",
            "distribution": "zoo",
            "version": "0.1.0",
            "module": "zoo_builtins.architectures.mlp",
        }
    },
    "class_names": ["0", "1"],
    "image_shape": [8, 8, 1],
    "resize": "stretch",
    "sizes": {"train": 10},
    "skipped_files": [],
    "scaling": {"recipe": "unit", "state": {"recipe": "unit", "divisor": 255.0}},
    "objective": {
        "loss": "sparse_categorical_crossentropy",
        "targets": "sparse",
        "label_smoothing": 0.0,
    },
    "backend": "tensorflow",
    "input": "tf_data",
    "strategy": {"name": "default", "replicas": 1, "hosts": 1, "mixed_precision": False},
    "class_weight": None,
    "epochs_done": 8,
    "best_checkpoint": "checkpoints/best.weights.h5",
    "backup_dir": "backup",
    "train_seconds": 3.2,
    "finished": "2026-11-20T10:01:00+00:00",
}
V1_METRICS = {
    "split": "test",
    "count": 40,
    "test": {"accuracy": 0.9, "loss": 0.3},
    "per_class": {
        "0": {"precision": 1.0, "recall": 0.8, "f1": 0.9, "support": 20},
        "1": {"precision": 0.8, "recall": 1.0, "f1": 0.9, "support": 20},
    },
    "confusion_matrix": [[16, 4], [0, 20]],
    "class_names": ["0", "1"],
    "weights": {
        "used": "best",
        "epoch": 4,
        "monitor": "val_loss",
        "value": 0.25,
        "checkpoint": "checkpoints/best.weights.h5",
        "last_epoch": 8,
        "last_weights": "checkpoints/last.weights.h5",
        "setting": "auto",
    },
    "final_epoch": {"loss": 0.1, "val_loss": 0.4, "accuracy": 0.97},
    "epochs": 8,
}
V1_MANIFEST = {
    "kind": "zoo-export",
    "manifest_version": 1,
    "format": "tflite",
    "quantization": None,
    "artifact": "model.tflite",
    "runtime": "tflite",
    "class_names": ["0", "1"],
    "input": {
        "name": "pixels",
        "shape": [None, 8, 8, 1],
        "dtype": "float32",
        "layout": "NHWC",
        "range": [0, 255],
        "resize": "stretch",
        "note": "raw pixels",
    },
    "output": {"name": "probs", "shape": [None, 2], "dtype": "float32", "note": "probs"},
    "scaling": {"inside_graph": True, "recipe": "unit"},
    "calibration": None,
    "metrics": {},
    "check": {},
    "source_run": {"path": "/tmp/run", "name": "x"},
    "versions": {},
    "created": "2026-11-20T10:02:00+00:00",
}


def write(folder: Path, name: str, data: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data, indent=2) if not isinstance(data, str) else data)
    return path


def test_format_1_runs_are_read_and_migrated(tmp_path):
    write(tmp_path, "run.json", V1_RUN)
    write(tmp_path, "metrics.json", V1_METRICS)
    record = read_run_record(tmp_path)
    assert record.format == 2 and record.image_shape == (8, 8, 1) and record.num_classes == 2
    results = read_results(tmp_path)
    weights = results.weights
    assert (weights.kept, weights.best.epoch, weights.last.epoch) == ("best", 4, 8)
    assert weights.best.file == "checkpoints/best.weights.h5"
    assert weights.last.metrics == {"loss": 0.1, "val_loss": 0.4, "accuracy": 0.97}
    assert results.scores == {"accuracy": 0.9, "loss": 0.3} and results.split == "test"
    # written back in the current format, the split's scores keep their place
    assert results.to_json()["test"] == {"accuracy": 0.9, "loss": 0.3}
    assert results.to_json()["format"] == 2


def test_format_1_manifests_are_read(tmp_path):
    manifest = read_manifest(write(tmp_path, "manifest.json", V1_MANIFEST))
    assert manifest.input.image_shape == (8, 8, 1) and manifest.class_names == ["0", "1"]


def test_a_record_from_a_newer_zoo_is_refused_in_one_line(tmp_path):
    write(tmp_path, "run.json", {**V1_RUN, "format": 99})
    with pytest.raises(RecordError) as err:
        read_run_record(tmp_path)
    assert len(err.value.problems) == 1 and "newer zoo" in str(err.value)


def test_a_damaged_record_is_one_located_problem(tmp_path):
    data = {**V1_RUN, "image_shape": [100000, 100000, 3], "status": "sleeping"}
    write(tmp_path, "run.json", data)
    with pytest.raises(RecordError) as err:
        read_run_record(tmp_path)
    (problem,) = err.value.problems
    lines = json.dumps(data, indent=2).splitlines()
    assert problem.file == str(tmp_path / "run.json") and problem.line is not None
    assert problem.key_path in ("status", "image_shape[0]")
    assert problem.key_path.split("[")[0] in lines[problem.line - 1]
    assert "(and 2 more)" in problem.message or "(and 1 more)" in problem.message


@pytest.mark.parametrize(
    "artifact",
    ["/etc/passwd", "../model.tflite", "a/../../x.onnx", "~/model.tflite", "C:\\model.onnx"],
)
def test_a_manifest_never_names_an_artifact_outside_its_folder(tmp_path, artifact):
    write(tmp_path, "manifest.json", {**V1_MANIFEST, "artifact": artifact})
    with pytest.raises(RecordError, match="inside the export folder"):
        read_manifest(tmp_path / "manifest.json")


def test_a_manifest_artifact_that_links_out_is_refused(tmp_path):
    outside = tmp_path / "elsewhere" / "model.tflite"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    folder = tmp_path / "export"
    write(folder, "manifest.json", V1_MANIFEST)
    (folder / "model.tflite").symlink_to(outside)
    manifest = read_manifest(folder / "manifest.json")
    with pytest.raises(RecordError, match="leads outside the export folder"):
        manifest.artifact_path(folder)


def test_sizes_in_records_are_bounded(tmp_path):
    bad = {**V1_MANIFEST, "input": {**V1_MANIFEST["input"], "shape": [None, 100000, 100000, 3]}}
    write(tmp_path, "manifest.json", bad)
    with pytest.raises(RecordError, match="input.shape"):
        read_manifest(tmp_path / "manifest.json")
    write(tmp_path, "manifest.json", {**V1_MANIFEST, "input": "lol"})
    with pytest.raises(RecordError, match="input"):
        read_manifest(tmp_path / "manifest.json")


def test_special_files_in_a_run_folder_are_refused_at_once(tmp_path):
    run = tmp_path / "runs" / "r"
    write(run, "run.json", V1_RUN)
    (run / "history.csv").symlink_to("/dev/zero")
    os.mkfifo(run / "metrics.json")
    start = time.monotonic()
    assert history_epochs(run) is None  # unreadable, not 3 GB of zeros
    with pytest.raises(RecordError, match="character device"):
        read_history(run / "history.csv")
    with pytest.raises(RecordError, match="named pipe"):
        read_results(run)
    rows = list_runs(tmp_path / "runs")
    assert rows[0]["status"] == "finished" and rows[0]["accuracy"] is None
    assert time.monotonic() - start < 5


def test_oversized_files_are_refused_without_reading_them(tmp_path):
    path = tmp_path / "history.csv"
    with path.open("wb") as f:
        f.truncate(MAX_TABLE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(RecordError, match="more than"):
        read_history(path)


def test_one_reader_counts_the_epochs_of_a_garbage_history(tmp_path):
    from zoo.sweep.compare import compare

    write(tmp_path, "run.json", V1_RUN)
    write(tmp_path, "spec.yaml", "name: x\n")
    write(tmp_path, "history.csv", "epoch,loss\n1,0.5\nnot,a number\n")
    assert history_epochs(tmp_path) is None and run_state(tmp_path).epochs is None
    assert compare([tmp_path])["runs"][0]["epochs"] is None  # the same reader: none known


def test_records_round_trip(tmp_path):
    record = read_run_record(Path(write(tmp_path, "run.json", V1_RUN)).parent)
    again = RunRecord.model_validate(json.loads(json.dumps(record.to_json())))
    assert again == record
    manifest = ExportManifest.model_validate(V1_MANIFEST)
    assert ExportManifest.model_validate(manifest.to_json()) == manifest


def test_a_missing_run_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="not a zoo run folder"):
        read_run_record(tmp_path)
