"""Trackers as plugins: the hook, ZOO_TRACKING, a broken tracker, MLflow and TensorBoard."""

from __future__ import annotations

import types
from pathlib import Path

import pytest
from pydantic import Field

import zoo
from zoo.plugin import Tracker, hookimpl
from zoo.plugin.manager import build_registry
from zoo.runner.tracking import Trackers, enabled

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "digits_mlp.yaml"
QUICK = ["training.epochs=2", "data.params.limit=300", "training.verbose=0"]
CALLS: list[tuple] = []


class RecParams(zoo.PluginParams):
    tag: str = Field("x", description="A value read from ZOO_REC_TAG.")


class Recorder:
    def __init__(self, params):
        self.params = params

    def start(self, run_dir, resolved_spec, info):
        CALLS.append(
            (
                "start",
                Path(run_dir).name,
                resolved_spec["name"],
                self.params.tag,
                info["plugins"]["model"]["name"],
            )
        )

    def log_epoch(self, epoch, metrics):
        CALLS.append(("epoch", epoch, sorted(metrics)))

    def finish(self, status, metrics, files):
        CALLS.append(("finish", status, metrics.get("split"), sorted(Path(f).name for f in files)))


class Boom(Recorder):
    def log_epoch(self, epoch, metrics):
        raise RuntimeError("tracker down")


def _plugin():
    @hookimpl
    def zoo_register_trackers(registry):
        registry.add_tracker("rec", params=RecParams, factory=Recorder, description="Records.")
        registry.add_tracker("boom", params=RecParams, factory=Boom, description="Breaks.")

    return types.SimpleNamespace(zoo_register_trackers=zoo_register_trackers)


def test_builtin_trackers_are_registered():
    from zoo.plugin.manager import default_registry

    names = [e.name for e in default_registry().list("trackers")]
    assert names == ["mlflow", "tensorboard"]
    assert isinstance(Recorder(RecParams()), Tracker)


def test_unknown_tracker_keyword_breaks_the_plugin():
    @hookimpl
    def zoo_register_trackers(registry):
        registry.add_tracker(
            "bad", params=RecParams, factory=Recorder, description="x", fetch=print
        )

    reg = build_registry(
        [("bad", types.SimpleNamespace(zoo_register_trackers=zoo_register_trackers))]
    )
    assert "unknown tracker capability 'fetch'" in reg.broken_plugin("bad").reason


def test_off_by_default_costs_nothing(monkeypatch):
    monkeypatch.delenv("ZOO_TRACKING", raising=False)
    assert enabled() == []  # the runner makes no Trackers at all then
    monkeypatch.setenv("ZOO_TRACKING", " , ")
    assert enabled() == []


def test_unknown_tracker_name_is_a_warning(monkeypatch, capsys):
    trackers = Trackers.create(["recc"], build_registry([("rec", _plugin())]))
    assert trackers.trackers == []
    err = capsys.readouterr().err
    assert "unknown tracker 'recc'; did you mean 'rec'?" in err and "running without it" in err


@pytest.mark.slow
def test_trackers_see_the_run_and_a_broken_one_is_reported_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ZOO_TRACKING", "rec,boom,tensorboard")
    monkeypatch.setenv("ZOO_REC_TAG", "hello")
    CALLS.clear()
    reg = build_registry([("rec", _plugin())])
    result = zoo.train(SPEC, out=tmp_path, overrides=QUICK, registry=reg)
    err = capsys.readouterr().err
    assert err.count("tracker 'boom'") == 1 and "tracker down" in err
    assert "the run goes on without it" in err
    starts = [c for c in CALLS if c[0] == "start"]
    name = result.run_dir.name
    assert starts == [
        ("start", name, "digits-mlp", "hello", "mlp"),  # ZOO_REC_TAG
        ("start", name, "digits-mlp", "x", "mlp"),
    ]
    epochs = [c[1] for c in CALLS if c[0] == "epoch"]
    assert epochs == [1, 2]  # only the recorder: boom broke at its first epoch
    assert "val_accuracy" in [c for c in CALLS if c[0] == "epoch"][0][2]
    finish = [c for c in CALLS if c[0] == "finish"]
    assert len(finish) == 1 and finish[0][1:3] == ("finished", "test")
    assert "model.keras" in finish[0][3]
    events = list((result.run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 100
    assert result.metrics["test"]["accuracy"] > 0


@pytest.mark.slow
def test_mlflow_logs_params_metrics_artifacts_and_provenance(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("ZOO_TRACKING", "mlflow")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = zoo.train(SPEC, out=tmp_path / "runs", overrides=QUICK)
    uri = f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}"  # the default: beside the run
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("digits-mlp")
    mlflow.set_tracking_uri(uri)
    try:
        df = mlflow.search_runs([exp.experiment_id])
    finally:
        mlflow.set_tracking_uri(None)
    assert len(df) == 1
    row = df.iloc[0]
    assert row["status"] == "FINISHED"
    assert row["params.training.epochs"] == "2"
    assert row["params.callbacks.0.type"] == "model_checkpoint"
    assert row["tags.zoo.plugin.model"].startswith("mlp from zoo")
    assert row["tags.zoo.run_dir"] == str(result.run_dir.resolve())
    assert row["metrics.test_accuracy"] == pytest.approx(result.metrics["test"]["accuracy"])
    history = client.get_metric_history(row["run_id"], "val_accuracy")
    assert [m.step for m in history] == [1, 2]
    artifacts = {a.path for a in client.list_artifacts(row["run_id"])}
    assert {"model.keras", "curves.png", "metrics.json", "spec.yaml"} <= artifacts
