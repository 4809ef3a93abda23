"""zoo train / evaluate / predict / runs through the real command line, and a killed run
(SIGKILL of a `zoo train` process) resumed with `zoo train --resume`."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, fixture_pythonpath, run_zoo

TINY = {
    "name": "cli-tiny",
    "seed": 5,
    "data": {"source": "digits", "params": {"limit": 200}},
    "model": {"architecture": "mlp", "params": {"hidden_units": [16]}},
    "training": {"epochs": 3, "batch_size": 32},
}


def write_spec(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec))
    return path


def epochs(run: Path) -> list[int]:
    with open(run / "history.csv", newline="") as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One `zoo train --format json` run, shared by the read-only tests below."""
    tmp = tmp_path_factory.mktemp("cli")
    spec = write_spec(tmp / "tiny.yaml", TINY)
    result = run_zoo(
        "train",
        str(spec),
        "--out",
        str(tmp / "runs"),
        "--epochs",
        "2",
        "--set",
        "training.batch_size=16",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tmp, json.loads(result.stdout), result


def test_train_prints_json_only_on_stdout_and_progress_on_stderr(trained):
    tmp, out, result = trained
    run = Path(out["run_dir"])
    assert out["ok"] and out["epochs"] == 2 and out["split"] == "test"
    assert set(out["metrics"]) == {"accuracy", "loss"}
    assert "model.keras" in out["files"] and "curves.png" in out["files"]
    assert "Epoch 2/2" in result.stderr  # one line per epoch when not on a terminal
    assert yaml.safe_load((run / "spec.yaml").read_text())["training"]["batch_size"] == 16


def test_predict_prints_classes_with_percentages(trained, tmp_path):
    import cv2
    from sklearn.datasets import load_digits

    _, out, _ = trained
    digits = load_digits()
    paths = []
    for i in (0, 1):
        path = tmp_path / f"digit{i}.png"
        cv2.imwrite(str(path), np.rint(digits.images[i] * 255 / 16).astype(np.uint8))
        paths.append(str(path))
    result = run_zoo("predict", out["run_dir"], *paths, "--top-k", "2", "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    predictions = json.loads(result.stdout)["predictions"]
    assert [p["image"] for p in predictions] == paths
    assert all(len(p["top_k"]) == 2 and 0 <= p["probability"] <= 1 for p in predictions)
    result = run_zoo("predict", out["run_dir"], paths[0], str(tmp_path / "missing.png"))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == f"{tmp_path / 'missing.png'}: no such file"


def test_evaluate_and_runs(trained):
    tmp, out, _ = trained
    result = run_zoo("evaluate", out["run_dir"], "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    evaluation = json.loads(result.stdout)
    assert evaluation["split"] == "test"
    assert evaluation["metrics"]["accuracy"] == pytest.approx(out["metrics"]["accuracy"])
    result = run_zoo("runs", str(tmp / "runs"))
    assert result.returncode == 0
    assert "finished" in result.stdout and "mlp" in result.stdout
    assert f"{out['metrics']['accuracy']:.4f}" in result.stdout


def test_user_errors_exit_2_with_one_line_each_and_no_run_folder(tmp_path):
    bad = write_spec(
        tmp_path / "bad.yaml", {**TINY, "training": {"epochs": 0, "optimizer": {"name": "adm"}}}
    )
    result = run_zoo("train", str(bad), "--out", str(tmp_path / "runs"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr
    assert any("training.epochs" in line for line in lines)
    assert any("training.optimizer.name" in line for line in lines)
    assert not (tmp_path / "runs").exists()
    result = run_zoo("evaluate", str(tmp_path / "nope"))
    assert (
        result.returncode == 2
        and result.stderr.strip() == f"{tmp_path / 'nope'}: no such run folder or exported model"
    )


def test_killed_run_resumes_where_it_stopped(tmp_path):
    spec = {
        **TINY,
        "training": {"epochs": 40, "batch_size": 32, "backup": {"every_epochs": 1}},
        "callbacks": [{"type": "backup_and_restore", "backup_dir": "backup"}],
    }
    path = write_spec(tmp_path / "long.yaml", spec)
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "train", str(path), "--out", str(tmp_path / "runs")],
        env=fixture_pythonpath(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not list((tmp_path / "runs").glob("*/backup/state.npz")):
            assert proc.poll() is None, "zoo train ended before its first backup"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up: a real crash
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    [run] = list((tmp_path / "runs").iterdir())
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    assert not (run / "model.keras").exists() and not (run / "metrics.json").exists()
    with np.load(run / "backup" / "state.npz") as state:
        done = json.loads(str(state["meta"]))["next_epoch"]
    assert 1 <= done < 40

    result = run_zoo("train", "--resume", str(run))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Epoch {done + 1}/40" in result.stdout and "Epoch 1/40" not in result.stdout
    assert epochs(run) == list(range(1, 41))  # unbroken: every epoch once, in order
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs_done"] == 40
    assert (run / "model.keras").exists() and (run / "metrics.json").exists()
    assert not (run / "backup").exists()
    result = run_zoo("train", "--resume", str(run))
    assert result.returncode == 2 and "already finished" in result.stderr
