"""mlflow: log each run to MLflow: spec as params, metrics per epoch, files as artifacts.

Tracking URI: ``ZOO_MLFLOW_TRACKING_URI``, else ``MLFLOW_TRACKING_URI``, else a local store
beside the run folder: ``runs/mlflow.db`` (SQLite) with artifacts in ``runs/mlartifacts``
(``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db``). MLflow 3 refuses the old
``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE=true``; any URI works when configured. The
experiment is the spec's name unless ``ZOO_MLFLOW_EXPERIMENT``.
Plugin provenance, the zoo run folder and library versions become tags.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

import zoo
from zoo import plugin
from zoo.plugin import hookimpl

from ._common import final_metrics, flatten

STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
ARTIFACT_SUFFIXES = (".png", ".json", ".yaml", ".csv")


class MlflowParams(zoo.PluginParams):
    tracking_uri: str | None = Field(
        None,
        description="Where to log (http://host:5000, sqlite:///..., file:...); default "
        "MLFLOW_TRACKING_URI, else sqlite 'mlflow.db' beside the run folder.",
    )
    experiment: str | None = Field(None, description="Experiment name; default: the spec's name.")
    log_model: bool = Field(True, description="Upload model.keras as an artifact.")
    connect_timeout: float = Field(
        5.0,
        gt=0,
        le=600,
        description="Seconds to wait for a remote tracking server when the run starts (one "
        "try); unreachable, the run goes on without MLflow instead of waiting minutes.",
    )


class MlflowTracker:
    def __init__(self, params: MlflowParams) -> None:
        self.params = params
        self.client: Any = None
        self.run_id: str | None = None
        self.run_dir: Path | None = None

    def start(self, run_dir: Path, resolved_spec: dict[str, Any], info: dict[str, Any]) -> None:
        import logging

        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        for noisy in ("mlflow.store.db.utils", "alembic"):  # table creation lines
            logging.getLogger(noisy).setLevel(logging.WARNING)

        self.run_dir = Path(run_dir).resolve()
        given = self.params.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        local = given is None
        uri = given or f"sqlite:///{self.run_dir.parent / 'mlflow.db'}"
        self.client = MlflowClient(tracking_uri=uri)
        name = self.params.experiment or str(resolved_spec.get("name") or "zoo")
        sys.stderr.write(f"zoo: mlflow: logging to {_shown(uri)} (experiment '{name}')\n")
        with _patience(self.params.connect_timeout, remote=uri.startswith(("http:", "https:"))):
            experiment = self.client.get_experiment_by_name(name)  # reaches the server now
        if experiment is not None:
            exp_id = experiment.experiment_id
        else:
            try:
                exp_id = self.client.create_experiment(
                    name,
                    artifact_location=(
                        (self.run_dir.parent / "mlartifacts" / name).as_uri() if local else None
                    ),
                )
            except Exception:  # another process created it just now
                exp_id = self.client.get_experiment_by_name(name).experiment_id
        tags = {"zoo.run_dir": str(self.run_dir), "zoo.seed": str(info.get("seed"))}
        for section, p in (info.get("plugins") or {}).items():
            if isinstance(p, dict):
                tags[f"zoo.plugin.{section}"] = (
                    f"{p.get('name')} from {p.get('distribution') or p.get('plugin')} "
                    f"{p.get('version') or ''}".strip()
                )
        for lib, version in (info.get("versions") or {}).items():
            tags[f"zoo.version.{lib}"] = str(version)
        run = self.client.create_run(exp_id, run_name=self.run_dir.name, tags=tags)
        self.run_id = run.info.run_id
        params = [Param(k[:250], str(v)[:6000]) for k, v in flatten(resolved_spec).items()]
        for i in range(0, len(params), 100):
            self.client.log_batch(self.run_id, params=params[i : i + 100])

    def log_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id, metrics=[Metric(k, v, now, epoch) for k, v in metrics.items() if v == v]
        )  # drop NaN

    def finish(self, status: str, metrics: dict[str, Any], files: list[Path]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        final = final_metrics(metrics)
        if final:
            step = int(metrics.get("epochs") or 0)
            self.client.log_batch(
                self.run_id, metrics=[Metric(k, v, now, step) for k, v in final.items()]
            )
        assert self.run_dir is not None
        for path in files:
            path = Path(path).resolve()
            rel = path.relative_to(self.run_dir) if path.is_relative_to(self.run_dir) else path
            wanted = path.suffix in ARTIFACT_SUFFIXES and len(rel.parts) == 1
            if path.name == "model.keras":
                wanted = self.params.log_model
            if wanted and path.exists():
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, STATUS.get(status, "FAILED"))


def _shown(uri: str) -> str:
    """A tracking URI as printed: without a password."""
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest:
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return uri


@contextlib.contextmanager
def _patience(seconds: float, remote: bool) -> Iterator[None]:
    """MLflow's HTTP client waits 120 s a request and retries 7 times by default: for the
    first request to a remote server, one try of ``seconds`` (unless the user set them)."""
    if not remote:
        yield
        return
    names = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(max(1, seconds))),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    saved = {k: os.environ.get(k) for k in names}
    for key, value in names.items():
        if saved[key] is None:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, before in saved.items():
            if before is None:
                os.environ.pop(key, None)


@hookimpl
def zoo_register_trackers(registry: plugin.PluginRegistrar) -> None:
    registry.add_tracker(
        "mlflow",
        params=MlflowParams,
        factory=MlflowTracker,
        description="MLflow: the resolved spec as params, metrics per epoch, final metrics, "
        "model and plots as artifacts, plugin provenance as tags.",
        tags={"tracking"},
    )
