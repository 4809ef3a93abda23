"""zoo sweep: the sweep file's validation, trials as run folders, workers sharing a study."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from zoo.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "digits_mlp.yaml"

SWEEP = f"""\
spec: {SPEC}
overrides: [training.epochs=2, data.params.limit=300, training.verbose=0]
space:
  training.optimizer.learning_rate: {{type: float, low: 1.0e-3, high: 3.0e-2, log: true}}
  model.params.hidden_units[0]: {{type: int, low: 16, high: 64, step: 16}}
  model.params.hidden_units: {{type: choice, values: [[32], [64, 32]]}}
objective: {{metric: accuracy, split: validation}}
trials: {{trials}}
sampler: {{name: tpe, seed: 0}}
"""


def write_sweep(tmp_path: Path, trials: int = 3, text: str | None = None) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text if text is not None else SWEEP.replace("{trials}", str(trials)))
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_check_ok(tmp_path, capsys):
    assert main(["sweep", str(write_sweep(tmp_path)), "--check"]) == 0
    assert "ok (3 parameters)" in capsys.readouterr().out


def test_check_reports_located_problems(tmp_path, capsys):
    text = SWEEP.replace("{trials}", "3").replace(
        "model.params.hidden_units[0]: {type: int, low: 16, high: 64, step: 16}",
        "model.params.hiden_units[0]: {type: int, low: 16, high: 64}\n"
        "  model.params.dropout: {type: float, low: 0.0, high: 1.5}",
    )
    assert main(["sweep", str(write_sweep(tmp_path, text=text)), "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any(
        ":5:3: space.model.params.hiden_units[0]: the spec has no key" in e
        and "did you mean 'hidden_units'" in e
        for e in err
    ), err
    assert any(
        ":6:3: space.model.params.dropout: the spec is not valid with model.params.dropout=1.5" in e
        for e in err
    ), err


def test_sweep_file_schema_errors_are_located(tmp_path, capsys):
    text = (
        f"spec: {SPEC}\nspace:\n  training.epochs: {{type: int, low: 5, high: 2}}\n"
        "  seed: {type: flaot, low: 0, high: 1}\ntrials: 0\nsampler: {name: tpe, sed: 1}\n"
    )
    assert main(["sweep", str(write_sweep(tmp_path, text=text)), "--check"]) == 2
    err = capsys.readouterr().err
    assert ":3:" in err and "low (5) must not be above high (2)" in err
    assert ":4:" in err and "flaot" in err
    assert ":5:" in err and "trials" in err
    assert ":6:" in err and "did you mean 'seed'" in err


def test_unreachable_storage_is_one_line(tmp_path, capsys):
    code = main(
        [
            "sweep",
            str(write_sweep(tmp_path)),
            "--out",
            str(tmp_path / "s"),
            "--storage",
            "sqlite:////no/such/folder/study.db",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot use the study storage" in err[0], err


@pytest.mark.slow
def test_sweep_writes_trials_best_spec_and_plots(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sweep", str(write_sweep(tmp_path, 3)), "--out", str(out)]) == 0
    rows = read_csv(out / "trials.csv")
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert all(r["state"] == "COMPLETE" for r in rows)
    for r in rows:  # each trial an ordinary, finished run folder
        run = Path(r["run_dir"])
        assert (run / "run.json").exists() and (run / "model.keras").exists()
    best = max(rows, key=lambda r: float(r["value"]))
    assert f"best run: {best['run_dir']}" in capsys.readouterr().out
    from zoo.spec import load_spec

    spec = load_spec(out / "best_spec.yaml")  # ready to train
    assert spec.training.epochs == 2
    assert spec.training.optimizer.learning_rate == pytest.approx(
        float(best["training.optimizer.learning_rate"])
    )
    for name in ("optimization_history", "parallel_coordinate", "param_importances"):
        assert (out / f"{name}.png").stat().st_size > 1000
    # zoo runs --compare: the differing spec keys and metrics of the trials, and their curves
    capsys.readouterr()
    assert main(["runs", "--compare", str(out), "--plot", str(tmp_path / "c.png")]) == 0
    table = capsys.readouterr().out
    assert "training.optimizer.learning_rate" in table and "BACKEND" in table
    assert "OBJECTIVE (validation accuracy, maximize)" in table and "ACCURACY" in table
    assert "training.epochs" not in table and table.count("trial-000") == 3
    marked = [line for line in table.splitlines() if line.endswith("(best)")]
    assert len(marked) == 1 and marked[0].startswith(best["run_dir"]), table  # the sweep's own
    assert f"{float(best['value']):.4f} (best)" in marked[0]
    assert (tmp_path / "c.png").stat().st_size > 1000
    assert (
        main(
            [
                "runs",
                "--compare",
                str(out / "trials" / "trial-0000"),
                str(out / "trials" / "trial-0001"),
                "--format",
                "json",
            ]
        )
        == 0
    )
    import json

    data = json.loads(capsys.readouterr().out)
    assert len(data["runs"]) == 2 and "model.params.hidden_units" in data["differing_keys"]
    # a second start without --join is refused, with --join it adds nothing past the budget
    assert main(["sweep", str(write_sweep(tmp_path, 3)), "--out", str(out)]) == 2
    assert main(["sweep", str(write_sweep(tmp_path, 3)), "--out", str(out), "--join"]) == 0
    assert len(read_csv(out / "trials.csv")) == 3


@pytest.mark.long  # 29 s; a killed worker's trial (below) shares a study in the default run
def test_two_workers_share_one_study(tmp_path):
    sweep = write_sweep(tmp_path, trials=5)
    out = tmp_path / "s"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "zoo", "sweep", str(sweep), "--out", str(out), "--join"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    rows = read_csv(out / "trials.csv")
    assert sorted(int(r["number"]) for r in rows) == [0, 1, 2, 3, 4]
    assert all(r["state"] == "COMPLETE" for r in rows)
    assert len({r["pid"] for r in rows}) == 2  # both workers ran trials
    runs = sorted(p.name for p in (out / "trials").iterdir())
    assert runs == [f"trial-{i:04d}" for i in range(5)]  # each trial ran once
    best = max(rows, key=lambda r: float(r["value"]))
    assert f"best trial {best['number']} " in (out / "best_spec.yaml").read_text()


def test_dead_workers_trial_is_failed_and_requeued(tmp_path):
    import optuna

    from zoo.sweep.run import counted, open_storage, reap_dead_trials

    storage, _ = open_storage(tmp_path, None)
    study = optuna.create_study(study_name="s", storage=storage)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    import socket

    t = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    t.set_user_attr("host", socket.gethostname())
    t.set_user_attr("pid", int(dead))
    live = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    live.set_user_attr("host", socket.gethostname())
    live.set_user_attr("pid", os.getpid())
    assert reap_dead_trials(study) == [t.number]
    assert reap_dead_trials(study) == []  # never twice
    trials = study.get_trials()
    assert trials[0].state.name == "FAIL" and not counted(trials[0])
    assert trials[1].state.name == "RUNNING"
    assert trials[2].state.name == "WAITING" and trials[2].user_attrs["zoo_retry_of"] == 0
    assert trials[2].params == {} and study.get_trials()[2].system_attrs["fixed_params"] == {
        "x": t.params["x"]
    }


def test_compare_rejects_non_runs(tmp_path, capsys):
    assert main(["runs", "--compare", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_killed_worker_trial_is_failed_requeued_and_run_once(tmp_path):
    """SIGKILL a worker mid-trial; a worker joining later fails that trial (not counted),
    runs its parameters again, and the study ends with exactly the budget."""
    import json
    import signal
    import time

    long_sweep = tmp_path / "long" / "sweep.yaml"
    long_sweep.parent.mkdir()
    text = SWEEP.replace("{trials}", "2").replace("spec:", "name: killtest\nspec:")
    long_sweep.write_text(text.replace("training.epochs=2", "training.epochs=200"))
    quick = write_sweep(tmp_path, text=text)
    out = tmp_path / "s"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "zoo", "sweep", str(long_sweep), "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    history = out / "trials" / "trial-0000" / "history.csv"
    deadline = time.monotonic() + 120
    while not history.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "sweep", str(quick), "--out", str(out), "--join"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "trials 0: their worker died" in done.stdout
    rows = read_csv(out / "trials.csv")
    assert [(r["number"], r["state"]) for r in rows] == [
        ("0", "FAIL"),
        ("1", "COMPLETE"),
        ("2", "COMPLETE"),
    ]
    assert rows[0]["note"].startswith("interrupted") and "retry of 0" in rows[1]["note"]
    assert (
        rows[1]["training.optimizer.learning_rate"] == rows[0]["training.optimizer.learning_rate"]
    )
    status = json.loads((out / "trials" / "trial-0000" / "run.json").read_text())["status"]
    assert status == "running"  # killed: zoo runs shows it interrupted, resumable
