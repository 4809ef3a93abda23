"""SIGKILL `zoo train` at every write of a run (``ZOO_FAULT``) and resume it.

Whatever the kill point (mid-epoch, after an epoch's backup, between the last epoch and the
final files, in the middle of writing one of them, after run.json says finished),
`zoo train --resume RUN` must end with a finished, complete run: every file present and
loadable, no temporary file left, history.csv with each epoch exactly once and equal, value
for value, to the history of a run nobody killed.

By default one chain of three kills (mid-epoch, after the last epoch, while writing
metrics.json) runs; ``-m long`` kills at each step in turn.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, fixture_pythonpath

import zoo
from zoo.cli.main import main
from zoo.io import is_temp_file
from zoo.record.folder import run_state
from zoo.record.history import history_epochs
from zoo.record.writing import EPOCH_FAULT_STEPS, FAULT_ENV, FAULT_STEPS

SPEC = {
    "name": "faulty",
    "seed": 11,
    "data": {"source": "digits", "params": {"limit": 200}},
    "model": {"architecture": "mlp", "params": {"hidden_units": [16], "dropout": 0.2}},
    "training": {"epochs": 3, "batch_size": 32, "verbose": 0},
}
PNG = b"\x89PNG\r\n\x1a\n"
# Steps after which the run is already finished (only a leftover backup may remain).
FINISHED_STEPS = {"after_finish", "cleanup"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def spec_path(workdir) -> Path:
    path = workdir / "faulty.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


@pytest.fixture(scope="module")
def reference(spec_path, workdir) -> Path:
    """The history.csv of the same spec, trained without interruption."""
    return zoo.train(spec_path, out=workdir / "reference").run_dir / "history.csv"


def killed_at(step: str, *args: str) -> None:
    """Run ``zoo train ARGS`` with ``ZOO_FAULT=step``; it must die by SIGKILL there."""
    env = {**fixture_pythonpath(), FAULT_ENV: step}
    proc = subprocess.run(
        [sys.executable, "-m", "zoo", "train", *args, "--quiet"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, f"{step}: exit {proc.returncode}\n{proc.stderr}"


def resume(run: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["train", "--resume", str(run), "--quiet"])
    return code, capsys.readouterr().err


def assert_complete(run: Path, reference: Path) -> None:
    import keras

    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs_done"] == 3
    assert (run / "history.csv").read_text() == reference.read_text()  # each epoch once
    assert not (run / info["backup_dir"]).exists()
    assert not [p for p in run.rglob("*") if is_temp_file(p)]
    model = keras.saving.load_model(run / "model.keras")
    metrics = json.loads((run / "metrics.json").read_text())
    model.load_weights(run / metrics["weights"]["best"]["file"])
    assert metrics["epochs"] == 3 and 0 <= metrics["test"]["accuracy"] <= 1
    for name in ("curves.png", "confusion_matrix.png"):
        assert (run / name).read_bytes()[:8] == PNG
    assert run_state(run).status == "finished"


def test_kills_at_three_points_in_a_row_and_one_resume_finishes(
    spec_path, workdir, reference, capsys
):
    out = workdir / "chain"
    killed_at("mid_epoch@2", str(spec_path), "--out", str(out))
    [run] = list(out.iterdir())
    assert run_state(run).status == "interrupted"
    assert history_epochs(run) == 1
    killed_at("phase_end", "--resume", str(run))  # every epoch done, no model yet
    assert history_epochs(run) == 3 and not (run / "model.keras").exists()
    killed_at("during_metrics", "--resume", str(run))  # a temporary metrics.json left
    assert [p.name for p in run.iterdir() if is_temp_file(p)]
    assert run_state(run).status == "interrupted"
    code, err = resume(run, capsys)
    assert code == 0, err
    assert_complete(run, reference)
    assert len(json.loads((run / "run.json").read_text())["resumed"]) == 3


def _all_steps() -> list[str]:
    out = []
    for step in FAULT_STEPS:
        if step in EPOCH_FAULT_STEPS:
            out += [f"{step}@1", f"{step}@3"]
        else:
            out.append(step)
    return out


@pytest.mark.long
@pytest.mark.parametrize("step", _all_steps())
def test_kill_at_every_step_then_resume(step, spec_path, workdir, reference, capsys):
    out = workdir / step.replace("@", "-")
    killed_at(step, str(spec_path), "--out", str(out))
    [run] = list(out.iterdir())
    code, err = resume(run, capsys)
    if step.partition("@")[0] in FINISHED_STEPS:
        assert code == 2 and "already finished" in err  # and the leftover backup is gone
    else:
        assert code == 0, err
    assert_complete(run, reference)
