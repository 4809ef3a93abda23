"""Backup cadence (issue 15): backups at most every ``training.backup.every_seconds`` (or
every ``every_epochs``), always at the end of a phase and when training stops between
epochs; written on a background thread, atomically; a resume says which epochs it trains
again.

Runs are tiny (200 bundled digits, a 16-unit MLP with dropout, 3 epochs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, fixture_pythonpath

import zoo
from zoo.cli.main import main
from zoo.io import is_temp_file
from zoo.record.folder import run_state
from zoo.record.history import history_epochs
from zoo.record.writing import FAULT_ENV
from zoo.runner import backup as cbs

TINY = {
    "name": "tiny",
    "seed": 5,
    "data": {"source": "digits", "params": {"limit": 200}},
    "model": {"architecture": "mlp", "params": {"hidden_units": [16], "dropout": 0.2}},
    "training": {"epochs": 3, "batch_size": 32, "verbose": 0},
}


def spec(**backup) -> dict:
    return {**TINY, "training": {**TINY["training"], "backup": backup}}


@pytest.fixture
def writes(monkeypatch) -> list:
    """The epoch of each backup write (None: the end of a phase), and its thread."""
    seen: list = []
    real = cbs.Backup.write

    def write(self, arrays, epoch=None):
        import threading

        real(self, arrays, epoch)
        seen.append((epoch, threading.current_thread().name))

    monkeypatch.setattr(cbs.Backup, "write", write)
    return seen


def only_run(folder: Path) -> Path:
    [run] = [p for p in folder.iterdir() if p.is_dir()]
    return run


def backed_up_epoch(run: Path) -> int:
    meta, _ = cbs.Backup(run / "backup").load()
    return int(meta["next_epoch"])


def test_cadence_counts_writes(tmp_path, writes):
    zoo.train(spec(every_seconds=3600), out=tmp_path / "a")
    assert [e for e, _ in writes] == [None]  # only the end of the phase
    writes.clear()
    zoo.train(spec(every_epochs=1), out=tmp_path / "b")
    assert [e for e, _ in writes] == [1, 2, 3, None]
    assert {t for e, t in writes if e} == {"zoo-backup"}  # epochs: on the background thread
    assert writes[-1][1] == "MainThread"  # the end of a phase: written before going on
    writes.clear()
    zoo.train(spec(every_epochs=2), out=tmp_path / "c")
    assert [e for e, _ in writes] == [2, None]


def test_background_write_is_atomic(tmp_path):
    backup = cbs.Backup(tmp_path / "backup")
    writer = cbs.BackgroundWriter()
    for value in (1.0, 2.0):
        arrays = {
            "w0": np.full((1000, 1000), value),
            "meta": np.array(
                json.dumps({"phase": 0, "phase_start": 0, "next_epoch": int(value), "history": []})
            ),
        }
        writer.submit(lambda arrays=arrays: backup.write(arrays, None))
    writer.join()
    meta, arrays = backup.load()
    assert meta["next_epoch"] == 2 and float(arrays["w0"][0, 0]) == 2.0
    assert [p.name for p in (tmp_path / "backup").iterdir()] == [cbs.BACKUP_FILE]

    def fails() -> None:
        raise OSError(28, "No space left on device")

    writer.submit(fails)
    with pytest.raises(OSError):
        writer.join()  # a background error reaches the training thread


def test_kill_during_a_write_keeps_the_previous_backup_and_resume_says_so(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    reference = zoo.train(path, out=tmp_path / "straight").run_dir / "history.csv"
    env = {**fixture_pythonpath(), FAULT_ENV: "during_backup@2"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "train",
            str(path),
            "--out",
            str(tmp_path / "runs"),
            "--quiet",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    run = only_run(tmp_path / "runs")
    assert backed_up_epoch(run) == 1  # epoch 2's write was cut short: epoch 1's is intact
    assert [p for p in run.rglob("*") if is_temp_file(p)]
    assert history_epochs(run) == 2
    capsys.readouterr()
    assert main(["train", "--resume", str(run)]) == 0
    err = capsys.readouterr().err
    assert "zoo: resumed from epoch 1; epoch 2 is trained again" in err.splitlines()
    assert (run / "history.csv").read_text() == reference.read_text()
    assert not [p for p in run.rglob("*") if is_temp_file(p)]


class SendSignal:
    """A callback that sends this process ``signum`` at the start of epoch ``epoch``."""

    def __new__(cls, epoch: int, signum: int):
        import keras

        class _Send(keras.callbacks.Callback):
            def on_epoch_begin(self, e, logs=None):
                if e + 1 == epoch:
                    os.kill(os.getpid(), signum)

        return _Send()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_after_the_epoch_with_a_backup(tmp_path, signum, capsys):
    before = signal.getsignal(signum)
    with pytest.raises(KeyboardInterrupt):
        zoo.train(spec(every_seconds=3600), out=tmp_path, callbacks=[SendSignal(2, signum)])
    assert signal.getsignal(signum) is before  # the handler is put back
    assert "stopping at the end of this epoch" in capsys.readouterr().err
    run = only_run(tmp_path)
    assert run_state(run).status == "interrupted"
    assert history_epochs(run) == 2 and backed_up_epoch(run) == 2
    result = zoo.train(resume=run)
    assert result.epochs == 3
