"""zoo train --seeds: one run per seed on one split, the group's table from the runs' own
records, the group as one row of zoo runs, and an interrupted group finished by --resume."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
import yaml

import zoo
from zoo.cli.main import main
from zoo.errors import UserError
from zoo.record.folder import list_runs
from zoo.record.group import read_group, write_group

SPEC = {
    "name": "seeded",
    "seed": 5,
    "data": {"source": "digits", "params": {"limit": 240}},
    "model": {"architecture": "mlp", "params": {"hidden_units": [16]}},
    "training": {"epochs": 1, "verbose": 0, "metrics": ["accuracy", "f1"]},
}


@pytest.fixture(scope="module")
def group(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("seeds")
    spec = root / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = root / "runs"
    assert main(["train", str(spec), "--seeds", "1,2,3", "--out", str(out), "--quiet"]) == 0
    (found,) = out.iterdir()
    return found


def test_each_seed_trains_on_the_same_split(group):
    record = read_group(group)
    assert record.seeds == [1, 2, 3] and record.split_seed == 5
    supports, accuracies = [], []
    for seed in (1, 2, 3):
        run = group / f"seed-{seed}"
        info = json.loads((run / "run.json").read_text())
        spec = yaml.safe_load((run / "spec.yaml").read_text())
        assert info["seed"] == seed and spec["data"]["split"]["seed"] == 5
        metrics = json.loads((run / "metrics.json").read_text())
        supports.append([c["support"] for c in metrics["per_class"].values()])
        accuracies.append(metrics["test"]["accuracy"])
        assert info["sizes"] == json.loads((group / "seed-1" / "run.json").read_text())["sizes"]
    assert supports[0] == supports[1] == supports[2]  # one split
    assert len(set(accuracies)) > 1  # three initialisations


def test_table_is_the_runs_own_numbers(group):
    with (group / "seeds.csv").open() as f:
        rows = {r["metric"]: r for r in csv.DictReader(f)}
    assert {"accuracy", "loss", "f1", "balanced_accuracy", "macro_f1", "baseline"} <= set(rows)
    for metric in ("accuracy", "f1", "loss"):
        values = [
            json.loads((group / f"seed-{s}" / "metrics.json").read_text())["test"][metric]
            for s in (1, 2, 3)
        ]
        row = rows[metric]
        assert [float(row[f"seed {s}"]) for s in (1, 2, 3)] == values
        assert float(row["mean"]) == pytest.approx(statistics.fmean(values))
        assert float(row["std"]) == pytest.approx(statistics.stdev(values))
    assert (group / "curves.png").stat().st_size > 1000


def test_zoo_runs_shows_the_group_as_one_row(group, capsys):
    rows = list_runs(group.parent)
    assert len(rows) == 1 and rows[0]["status"] == "finished" and rows[0]["seeds"] == [1, 2, 3]
    table = read_group(group)
    assert rows[0]["accuracy"] == pytest.approx(table.row("accuracy").mean)
    assert main(["runs", str(group.parent)]) == 0
    out = capsys.readouterr().out
    row = table.row("accuracy")
    assert f"{row.mean:.4f} +/- {row.std:.4f}" in out and "tensorflow" in out
    assert main(["runs", "--compare", str(group)]) == 0
    compared = capsys.readouterr().out
    assert all(f"seed-{s}" in compared for s in (1, 2, 3)) and "seed" in compared


def test_an_interrupted_group_resumes(group, tmp_path, capsys):
    """Lose a seed's run and the table: the group is interrupted; --resume trains only it."""
    import shutil

    copy = tmp_path / group.name
    shutil.copytree(group, copy)
    shutil.rmtree(copy / "seed-3")
    record = read_group(copy)
    write_group(copy, record.model_copy(update={"finished": None, "table": []}))
    (row,) = list_runs(tmp_path)
    assert row["status"] == "interrupted" and "2 of 3 seeds finished" in row["reason"]
    kept = (copy / "seed-1" / "metrics.json").read_text()
    assert main(["train", "--resume", str(copy), "--quiet"]) == 0
    assert (copy / "seed-1" / "metrics.json").read_text() == kept  # finished seeds untouched
    again = json.loads((copy / "seed-3" / "metrics.json").read_text())["test"]["accuracy"]
    original = json.loads((group / "seed-3" / "metrics.json").read_text())["test"]["accuracy"]
    assert again == pytest.approx(original, abs=1e-6)  # the same seed, the same run
    (row,) = list_runs(tmp_path)
    assert row["status"] == "finished"
    assert "seed group:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("seeds", "message"),
    [("1,1", "seed 1 is given twice"), ("1,x", "whole numbers"), ("-1", "whole numbers")],
)
def test_bad_seeds_are_usage_errors(seeds, message, capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(spec), f"--seeds={seeds}", "--out", str(tmp_path / "runs")])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_python_api_refuses_bad_seeds(tmp_path):
    with pytest.raises(UserError, match="given twice"):
        zoo.train(SPEC, seeds=[3, 3], out=tmp_path)
    with pytest.raises(UserError, match="at least one seed"):
        zoo.train(SPEC, seeds=[], out=tmp_path)
    with pytest.raises(UserError, match="run_dir"):
        zoo.train(SPEC, seeds=[1], run_dir=tmp_path / "x")
    assert not any(tmp_path.iterdir())
