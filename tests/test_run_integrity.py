"""Run integrity (issue 9): a run is never lost, never stuck, never lies.

Honest statuses from run.json checked against the run's lock and history.csv; one process
trains a run at a time; NaN losses and crashes are recorded; a full disk is one clear
message and a resumable run; damaged inputs are one-line errors; and a run killed after an
epoch and resumed ends bit for bit where the uninterrupted run ends.

Runs are tiny (200 bundled digits, a 16-unit MLP with dropout, 3 epochs) and in-process,
except the one live `zoo train` process the lock test needs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, fixture_pythonpath

import zoo
from zoo.cli.main import main
from zoo.errors import UserError
from zoo.io import is_temp_file
from zoo.record.folder import RunLock, is_locked
from zoo.record.history import history_epochs
from zoo.record.run import read_run_record
from zoo.record.writing import FAULT_ENV, FAULT_STEPS, fault, is_disk_full

TINY = {
    "name": "tiny",
    "seed": 3,
    "data": {"source": "digits", "params": {"limit": 200}},
    "model": {"architecture": "mlp", "params": {"hidden_units": [16], "dropout": 0.2}},
    "training": {"epochs": 3, "batch_size": 32, "verbose": 0},
}


def spec_file(folder: Path, spec: dict | None = None) -> Path:
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec or TINY))
    return path


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """The real command line, in this process (no TensorFlow start-up per call)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def info(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def only_run(folder: Path) -> Path:
    [run] = [p for p in folder.iterdir() if p.is_dir()]
    return run


def temp_files(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if is_temp_file(p)]


def runs_table(capsys, root: Path) -> dict[str, dict]:
    code, out, err = cli(capsys, "runs", str(root), "--format", "json")
    assert code == 0, err
    return {Path(r["run"]).name: r for r in json.loads(out)}


class Poison:
    """A callback that breaks training at a chosen epoch (1-based): NaN weights, or raises."""

    def __new__(cls, epoch: int, what: str):
        import keras

        class _Poison(keras.callbacks.Callback):
            def on_epoch_begin(self, e, logs=None):
                if e + 1 != epoch:
                    return
                if what == "nan":
                    weights = self.model.get_weights()
                    weights[-1] = np.full_like(weights[-1], np.nan)  # the output layer
                    self.model.set_weights(weights)
                elif what == "crash":
                    raise RuntimeError("boom")
                elif what == "ctrl-c":
                    raise KeyboardInterrupt

        return _Poison()


# ---- 1. honest status; a bad folder hides nothing ---------------------------------------


def fake_run(root: Path, name: str, run_json: str | None, epochs: int = 0) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "spec.yaml").write_text("name: x\n")
    if run_json is not None:
        (run / "run.json").write_text(run_json)
    if epochs:
        rows = "\n".join(f"{e},0,0.5,1.0" for e in range(1, epochs + 1))
        (run / "history.csv").write_text("epoch,phase,accuracy,loss\n" + rows + "\n")
    return run


def good_info(status: str, **extra) -> str:
    data = {
        "format": 1,
        "name": "x",
        "status": status,
        "created": "2030-01-01T00:00:00+00:00",
        "class_names": ["a", "b"],
        "image_shape": [8, 8, 1],
        "objective": {
            "loss": "sparse_categorical_crossentropy",
            "targets": "sparse",
            "label_smoothing": 0.0,
        },
        "scaling": {"recipe": "unit", "state": None},
        "plugins": {"model": {"name": "mlp"}},
    }
    return json.dumps({**data, **extra})


def test_zoo_runs_is_honest_and_one_bad_folder_hides_nothing(tmp_path, capsys):
    fake_run(tmp_path, "killed", good_info("running"), epochs=2)
    live = fake_run(tmp_path, "live", good_info("running"), epochs=1)
    fake_run(tmp_path, "failed", good_info("failed", reason="loss became NaN at epoch 3"), 2)
    fake_run(tmp_path, "done", good_info("finished"), epochs=3)
    fake_run(tmp_path, "list", "[]")
    fake_run(tmp_path, "partial", json.dumps({"name": "x", "status": "running"}), epochs=1)
    fake_run(tmp_path, "truncated", good_info("running")[:40])
    fake_run(tmp_path, "empty", None)
    with RunLock.acquire(live):  # as a live trainer holds it
        rows = runs_table(capsys, tmp_path)
        code, text, _ = cli(capsys, "runs", str(tmp_path))
    assert code == 0 and "unreadable" in text and "killed or crashed" in text
    assert rows["killed"]["status"] == "interrupted" and rows["killed"]["epochs"] == 2
    assert "killed or crashed" in rows["killed"]["reason"]
    assert rows["live"]["status"] == "running" and rows["live"]["epochs"] == 1
    assert rows["failed"]["status"] == "failed" and "NaN at epoch 3" in rows["failed"]["reason"]
    assert rows["done"]["status"] == "finished" and rows["done"]["epochs"] == 3
    assert rows["list"]["status"] == "unreadable" and "not an object" in rows["list"]["reason"]
    assert rows["partial"]["status"] == "unreadable"
    assert "lacks" in rows["partial"]["reason"]
    assert "class_names, image_shape" in rows["partial"]["reason"]
    assert "truncated" in rows["truncated"]["reason"] and "no run.json" in rows["empty"]["reason"]
    assert rows["live"]["status"] == "running"
    assert runs_table(capsys, tmp_path)["live"]["status"] == "interrupted"  # lock released

    # a damaged run is one clear line for every command that opens it, never a traceback
    for name in ("list", "partial", "truncated"):
        with pytest.raises(UserError, match="unreadable run"):
            read_run_record(tmp_path / name)
        for args in (
            ("predict", str(tmp_path / name), "x.png"),
            ("train", "--resume", str(tmp_path / name)),
        ):
            code, _, err = cli(capsys, *args)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert "unreadable run" in err and "Traceback" not in err


# ---- 2 and 5. one trainer at a time; a killed run resumes bit for bit --------------------


def test_live_run_is_locked_and_a_killed_run_resumes_bit_for_bit(tmp_path, capsys):
    path = spec_file(tmp_path)
    reference = zoo.train(path, out=tmp_path / "straight")

    env = {**fixture_pythonpath(), "ZOO_FAULT": "backup@1:stop"}  # a live process, paused
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "train", str(path), "--out", str(tmp_path / "runs")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)  # until it stops after epoch 1
        assert os.WIFSTOPPED(status), "zoo train ended instead of stopping after epoch 1"
        run = only_run(tmp_path / "runs")
        row = runs_table(capsys, tmp_path / "runs")[run.name]
        assert row["status"] == "running" and row["epochs"] == 1
        code, _, err = cli(capsys, "train", "--resume", str(run), "--quiet")
        assert code == 2 and f"process {proc.pid} is training this run" in err
        assert len(err.strip().splitlines()) == 1
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    row = runs_table(capsys, tmp_path / "runs")[run.name]
    assert row["status"] == "interrupted" and row["epochs"] == 1

    code, _, err = cli(capsys, "train", "--resume", str(run), "--quiet")
    assert code == 0, err
    assert info(run)["status"] == "finished" and info(run)["resumed"]
    straight = reference.run_dir
    assert (run / "history.csv").read_text() == (straight / "history.csv").read_text()
    import keras

    a = keras.saving.load_model(straight / "model.keras").get_weights()
    b = keras.saving.load_model(run / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert json.loads((run / "metrics.json").read_text())["test"] == reference.metrics["test"]


# ---- 4. NaN, crashes and Ctrl-C are recorded; 7. damaged runs refuse to resume ----------


def test_nan_loss_fails_the_run_with_the_reason(tmp_path, capsys, monkeypatch):
    real = zoo.train  # the command line, with a callback that makes epoch 2's loss NaN
    monkeypatch.setattr(zoo, "train", lambda *a, **k: real(*a, **k, callbacks=[Poison(2, "nan")]))
    code, out, err = cli(
        capsys, "train", str(spec_file(tmp_path)), "--out", str(tmp_path), "--quiet"
    )
    run = only_run(tmp_path)
    assert code == 1 and out == "" and "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[0]
        .startswith("zoo: training failed: loss became NaN at epoch 2; try a lower learning rate")
    )
    assert info(run)["status"] == "failed" and "NaN at epoch 2" in info(run)["reason"]
    assert history_epochs(run) == 1  # the NaN epoch reaches no file
    assert not (run / "model.keras").exists()
    assert runs_table(capsys, tmp_path)[run.name]["status"] == "failed"


def test_crash_ctrl_c_and_damaged_runs(tmp_path, capsys):
    with pytest.raises(RuntimeError, match="boom"):
        zoo.train(TINY, out=tmp_path / "runs", callbacks=[Poison(2, "crash")])
    run = only_run(tmp_path / "runs")
    assert info(run)["status"] == "failed" and info(run)["reason"] == "RuntimeError: boom"

    # a hand-edited spec.yaml, or a truncated backup: one line, exit 2, nothing trains
    spec = (run / "spec.yaml").read_text()
    (run / "spec.yaml").write_text(spec.replace("epochs: 3", "epochs: 5"))
    code, _, err = cli(capsys, "train", "--resume", str(run))
    assert code == 2 and "spec.yaml changed since the run started" in err
    assert len(err.strip().splitlines()) == 1
    (run / "spec.yaml").write_text(spec + "# a comment changes nothing\n")
    damaged = tmp_path / "damaged"
    shutil.copytree(run, damaged)
    state = damaged / "backup" / "state.npz"
    state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    code, _, err = cli(capsys, "train", "--resume", str(damaged), "--quiet")
    assert code == 2 and "the run's backup is damaged" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1

    with pytest.raises(KeyboardInterrupt):  # the failed run resumes; Ctrl-C in epoch 3
        zoo.train(resume=run, callbacks=[Poison(3, "ctrl-c")])
    assert info(run)["status"] == "interrupted" and history_epochs(run) == 2
    result = zoo.train(resume=run)
    assert result.epochs == 3 and info(run)["status"] == "finished"
    assert info(run).get("reason") is None and len(info(run)["resumed"]) == 2


# ---- 6. a full disk -----------------------------------------------------------------------


def test_disk_full_is_one_clear_line_and_the_run_resumes(tmp_path, capsys, monkeypatch):
    def full_disk_at(step: str, what: str, *args: str) -> Path:
        monkeypatch.setenv(FAULT_ENV, f"{step}:enospc")  # this write raises ENOSPC
        code, _, err = cli(capsys, "train", *args, "--quiet")
        run = only_run(tmp_path / "runs")
        assert code == 2 and "Traceback" not in err
        assert err.strip().splitlines() == [
            f"disk full while writing {what}; free space and run: zoo train --resume {run}"
        ]
        assert info(run)["status"] == "interrupted" and "disk full" in info(run)["reason"]
        assert not temp_files(run)  # the half-written file went with the error
        return run

    path = str(spec_file(tmp_path))
    run = full_disk_at("during_backup@2", "backup/state.npz", path, "--out", str(tmp_path / "runs"))
    full_disk_at("during_model", "model.keras", "--resume", str(run))  # the h5-in-zip save
    monkeypatch.delenv(FAULT_ENV)
    code, _, err = cli(capsys, "train", "--resume", str(run), "--quiet")
    assert code == 0, err
    assert info(run)["status"] == "finished" and history_epochs(run) == 3


# ---- 7. --out and checkpoint names ----------------------------------------------------------


def test_out_as_a_file_and_unusable_checkpoint_names(tmp_path, capsys):
    path = spec_file(tmp_path)
    (tmp_path / "afile").write_text("x")
    code, _, err = cli(capsys, "train", str(path), "--out", str(tmp_path / "afile"))
    assert (
        code == 2
        and err.strip()
        == f"{tmp_path / 'afile'}: is a file; give --out a folder to hold run folders"
    )
    for template in ("w.{epoch:0999999d}.weights.h5", "w.{val_loss:d}.weights.h5"):
        spec = {**TINY, "callbacks": [{"type": "model_checkpoint", "filepath": template}]}
        code, _, err = cli(
            capsys, "train", str(spec_file(tmp_path, spec)), "--out", str(tmp_path / "runs")
        )
        assert code == 2 and "Traceback" not in err and "callbacks" in err, err
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


# ---- the building blocks -------------------------------------------------------------------


def test_lock_is_exclusive_and_dies_with_its_holder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lock = RunLock.acquire(run)
    assert is_locked(run)
    with pytest.raises(UserError, match=f"process {os.getpid()} is training this run"):
        RunLock.acquire(run)
    lock.release()
    assert not is_locked(run)
    code = (
        "import sys, time, zoo.record.folder as r\n"
        "lock = r.RunLock.acquire(sys.argv[1])\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(run)],
        stdout=subprocess.PIPE,
        text=True,
        env=fixture_pythonpath(),
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert is_locked(run)
        holder.kill()  # SIGKILL: no clean-up runs, the kernel drops the lock
        holder.wait(timeout=30)
    finally:
        holder.kill()
    deadline = time.monotonic() + 10
    while is_locked(run) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_locked(run)


def test_fault_hook_is_inert_unless_asked(monkeypatch):
    monkeypatch.delenv(FAULT_ENV, raising=False)
    for step in FAULT_STEPS:
        fault(step, 1)  # unset: nothing happens
    monkeypatch.setenv(FAULT_ENV, "backup@2:enospc")
    fault("backup", 1)  # another epoch
    fault("history", 2)  # another step
    with pytest.raises(OSError) as caught:
        fault("backup", 2)
    assert is_disk_full(caught.value)
    assert is_disk_full(RuntimeError("Can't write data (No space left on device)"))


@pytest.mark.long
@pytest.mark.parametrize(("size", "what"), [("150k", "backup/state.npz"), ("200k", "curves.png")])
def test_a_real_full_disk(tmp_path, size, what):
    """A tmpfs of SIZE (in a user namespace) fills up during the run; after it grows, the run
    resumes to the end."""
    if subprocess.run(["unshare", "-r", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -r -m (user namespaces) to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = f"""
        mount -t tmpfs -o size={size} tmpfs {disk} || exit 99
        {sys.executable} -m zoo train {spec_file(tmp_path)} --out {disk}/runs --quiet
        echo "first=$?"
        mount -o remount,size=20m {disk}
        {sys.executable} -m zoo train --resume {disk}/runs/* --quiet
        echo "second=$?"
        cat {disk}/runs/*/run.json
    """
    proc = subprocess.run(
        ["unshare", "-r", "-m", "bash", "-c", script],
        capture_output=True,
        text=True,
        env=fixture_pythonpath(),
        cwd=ROOT,
        timeout=600,
    )
    if proc.returncode == 99:
        pytest.skip("cannot mount a tmpfs here")
    assert "first=2" in proc.stdout and "second=0" in proc.stdout, proc.stderr[-2000:]
    assert f"disk full while writing {what}; free space and run: zoo train --resume" in (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr
    assert '"status": "finished"' in proc.stdout
