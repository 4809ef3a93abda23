"""Hostile inputs against sweeps, trackers, images, run folders and exports: each case an
outside tester found failing; each ends in a clear line and exit 2, or a correct result."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import fixture_pythonpath

import zoo
from zoo.cli.main import main
from zoo.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "digits_mlp.yaml"
QUICK = ["training.epochs=1", "data.params.limit=200", "training.verbose=0"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return zoo.train(SPEC, out=tmp_path_factory.mktemp("runs"), overrides=QUICK).run_dir


# ---- 1, 12: a sweep whose objective is never logged ----------------------------------------

SWEEP = """\
spec: {spec}
overrides: [training.epochs=1, data.params.limit=200, training.verbose=0{more}]
space:
  training.optimizer.learning_rate: {{type: float, low: 1.0e-3, high: 1.0e-2, log: true}}
objective: {{metric: {metric}, split: {split}}}
trials: 3
"""


def sweep_file(
    tmp_path: Path, metric: str = "accuracy", split: str = "validation", more: str = ""
) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(SWEEP.format(spec=SPEC, metric=metric, split=split, more=more))
    return path


@pytest.mark.parametrize(
    ("metric", "split", "more", "expected"),
    [
        ("acuracy", "validation", "", "the runs log no metric 'acuracy'; did you mean 'accuracy'?"),
        ("auc", "validation", "", "the runs log no metric 'auc'"),
        (
            "accuracy",
            "validation",
            ", data.split.validation=0",
            "no validation split to score on: data.split.validation is 0",
        ),
        ("accuracy", "test", ", data.split.test=0", "no test split to score on"),
    ],
)
def test_sweep_check_rejects_an_objective_the_runs_never_log(
    tmp_path, capsys, metric, split, more, expected
):
    code, _, err = cli(capsys, "sweep", str(sweep_file(tmp_path, metric, split, more)), "--check")
    assert code == 2 and expected in err, err
    assert "sweep.yaml:5:" in err  # located at the objective


def test_a_trial_that_fails_for_a_recurring_reason_counts_and_stops_the_sweep(tmp_path, capsys):
    from zoo.sweep import load_sweep, run_sweep

    sweep = load_sweep(sweep_file(tmp_path, metric="auc"))  # --check skipped: found at run
    capsys.readouterr()
    with pytest.raises(UserError, match="the runs log no 'val_auc'"):
        run_sweep(sweep, tmp_path / "out")
    err = capsys.readouterr().err
    assert "Trial 0 failed" not in err and "Traceback" not in err  # Optuna's lines: gone
    trials = sorted((tmp_path / "out" / "trials").iterdir())
    assert len(trials) == 1  # not requeued, not retried
    rows = (tmp_path / "out" / "trials.csv").read_text().splitlines()
    assert len(rows) == 2 and ",FAIL," in rows[1] and "worker died" not in rows[1]


# ---- 5, minor: study storages ---------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "random", "other"])
def test_a_damaged_study_journal_is_one_line(tmp_path, capsys, damage):
    out = tmp_path / "out"
    (out / "trials").mkdir(parents=True)
    (out / "sweep.json").write_text("{}")
    journal = out / "study.journal"
    good = json.dumps({"op_code": 0, "worker_id": "w", "study_name": "s", "directions": [1]}) + "\n"
    journal.write_bytes(
        {
            "truncated": good[:25].encode(),
            "random": os.urandom(300),
            "other": b'{"op_code": 99, "foo": 1}\n',
        }[damage]
    )
    code, _, err = cli(capsys, "sweep", str(sweep_file(tmp_path)), "--out", str(out), "--join")
    assert code == 2 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and "study.journal" in err and "damaged" in err


def test_an_in_memory_study_storage_is_refused(tmp_path, capsys):
    code, _, err = cli(
        capsys,
        "sweep",
        str(sweep_file(tmp_path)),
        "--out",
        str(tmp_path / "o"),
        "--storage",
        "sqlite:///",
    )
    assert code == 2 and "in-memory database keeps no study" in err


# ---- 2: an unreachable tracking server -------------------------------------------------------


@pytest.mark.slow
def test_an_unreachable_mlflow_server_is_dropped_at_once(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow")
    monkeypatch.setenv("ZOO_TRACKING", "mlflow")
    monkeypatch.setenv("ZOO_MLFLOW_TRACKING_URI", "http://192.0.2.1:5000")  # TEST-NET-1
    monkeypatch.setenv("ZOO_MLFLOW_CONNECT_TIMEOUT", "2")
    start = time.monotonic()
    result = zoo.train(SPEC, out=tmp_path, overrides=QUICK)
    err = capsys.readouterr().err
    assert time.monotonic() - start < 60 and result.results.split == "test"
    assert err.count("zoo: mlflow: logging to http://192.0.2.1:5000") == 1
    assert err.count("tracker 'mlflow'") == 1 and "the run goes on without it" in err


# ---- 3: decompression bombs ------------------------------------------------------------------


def bomb_png(path: Path, side: int = 30_000) -> Path:
    """A tiny PNG that declares side x side pixels (a few hundred bytes on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * (1 + 3 * side) * 4, 9)  # four rows; the decoder wants more
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, capsys, run_dir):
    import resource

    from zoo.images import BadImage, read_image

    bomb = bomb_png(tmp_path / "bomb.png")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(BadImage, match="declares 30000x30000 pixels"):
        read_image(bomb, (8, 8), 1)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB
    code, _, err = cli(capsys, "predict", str(run_dir), str(bomb))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "decompression bomb" in err


def test_a_bomb_in_a_folder_is_a_bad_file_counted_under_skip(tmp_path, monkeypatch):
    import cv2

    from zoo.data.prepare import prepare_data

    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(4):
            cv2.imwrite(
                str(tmp_path / "data" / cls / f"{i}.png"), np.full((12, 12, 3), 40 * i, np.uint8)
            )
    bomb_png(tmp_path / "data" / "a" / "bomb.png", side=20_000)
    text = yaml.safe_dump(
        {
            "name": "b",
            "data": {
                "source": "directory",
                "params": {"path": str(tmp_path / "data")},
                "image_size": [8, 8],
                "channels": 3,
                "on_bad_file": "skip",
                "split": {"validation": 0, "test": 0},
            },
            "model": {"architecture": "mlp"},
        }
    )
    prepared = prepare_data(zoo.load_spec_text(text, str(tmp_path / "s.yaml")))
    assert len(prepared.train) == 8 and len(prepared.skipped) == 1
    assert "decompression bomb" in prepared.skipped[0]
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", "500000000")  # raised on purpose: decoded
    from zoo.images import pixel_limit

    assert pixel_limit() == 500_000_000


# ---- 4: two zoo.train calls in threads of one process -----------------------------------------


def test_a_second_concurrent_train_in_one_process_is_refused(tmp_path):
    import keras

    started, release = threading.Event(), threading.Event()

    class Hold(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            started.set()
            release.wait(60)

    errors: list[BaseException] = []
    first = threading.Thread(
        target=lambda: zoo.train(SPEC, out=tmp_path / "a", overrides=QUICK, callbacks=[Hold()])
    )
    first.start()
    try:
        assert started.wait(120)
        with pytest.raises(UserError, match="another zoo.train is running in this process"):
            zoo.train(SPEC, out=tmp_path / "b", overrides=QUICK)
    except BaseException as exc:  # noqa: BLE001 - let the first run end before failing
        errors.append(exc)
    finally:
        release.set()
        first.join(120)
    if errors:
        raise errors[0]
    assert not (tmp_path / "b").exists()
    run = next((tmp_path / "a").iterdir())
    assert json.loads((run / "run.json").read_text())["deterministic"] is True


# ---- 6: a full disk during zoo export --------------------------------------------------------


def test_a_full_disk_during_export_is_one_line_and_leaves_nothing(run_dir, capsys, monkeypatch):
    monkeypatch.setenv("ZOO_FAULT", "during_export:enospc")
    code, _, err = cli(capsys, "export", str(run_dir), "--format", "tflite")
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [
        f"{run_dir / 'exports' / 'tflite'}: disk full while writing the export; free space and "
        "run zoo export again (nothing was left behind)"
    ]
    exports = run_dir / "exports"
    assert not exports.exists() or not any(exports.iterdir())


# ---- 8: sizes in an edited record ------------------------------------------------------------


def test_predict_refuses_sizes_a_record_should_not_have(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(run_dir, copy)
    record = json.loads((copy / "run.json").read_text())
    record["image_shape"] = [100000, 100000, 3]
    (copy / "run.json").write_text(json.dumps(record, indent=2))
    image = tmp_path / "x.png"
    import cv2

    cv2.imwrite(str(image), np.zeros((8, 8), np.uint8))
    code, _, err = cli(capsys, "predict", str(copy), str(image))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "image_shape[0]" in err and "less than or equal to 4096" in err


# ---- 10: numpy scalars in a spec given as data ------------------------------------------------


def test_numpy_numbers_in_a_dict_spec_are_numbers(tmp_path):
    spec = yaml.safe_load(SPEC.read_text())
    spec["training"] = {
        **spec["training"],
        "epochs": np.int64(1),
        "verbose": 0,
        "optimizer": {"name": "adam", "learning_rate": np.float32(0.01)},
    }
    spec["data"] = {**spec["data"], "params": {"limit": np.int32(200)}}
    result = zoo.train(spec, out=tmp_path)
    assert result.epochs == 1
    with pytest.raises(UserError, match="cannot represent"):
        zoo.train({**spec, "description": object()}, out=tmp_path)


# ---- 11: a kill -9 in the first second -------------------------------------------------------


def test_a_run_killed_while_its_folder_is_made_leaves_no_folder(tmp_path):
    env = fixture_pythonpath()
    env["ZOO_FAULT"] = "staged:kill"  # the folder is filled, not yet renamed into place
    out = tmp_path / "runs"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "train",
            str(SPEC),
            "--out",
            str(out),
            "--quiet",
            *sum((["--set", o] for o in QUICK), []),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == -9, done.stderr[-2000:]
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []
    code = main(["runs", str(out)])
    assert code == 0
    zoo.train(SPEC, out=out, overrides=QUICK)  # the next run clears the dead one's leftover
    assert len(list(out.iterdir())) == 1


# ---- minor ---------------------------------------------------------------------------------


def test_a_determinism_switch_that_is_not_one_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ZOO_DETERMINISTIC", "maybe")
    code, _, err = cli(
        capsys,
        "train",
        str(SPEC),
        "--out",
        str(tmp_path),
        "--quiet",
        *sum((["--set", o] for o in QUICK), []),
    )
    assert code == 2 and "ZOO_DETERMINISTIC: must be 1 or 0" in err
    assert not any(tmp_path.iterdir())


def test_a_too_long_run_name_names_the_run_folder(tmp_path, capsys):
    name = "n" * 250
    code, _, err = cli(
        capsys,
        "train",
        str(SPEC),
        "--out",
        str(tmp_path),
        "--quiet",
        "--set",
        f"name={name}",
        *sum((["--set", o] for o in QUICK), []),
    )
    assert code == 2 and f"{tmp_path}/{name}" in err and "cannot make this folder" in err
