"""mlflow: log each run to MLflow: spec as params, metrics per epoch, files as artifacts.

Tracking URI: ``ZOO_MLFLOW_TRACKING_URI``, else ``MLFLOW_TRACKING_URI``, else a local store
beside the run folder: ``runs/mlflow.db`` (SQLite) with artifacts in ``runs/mlartifacts``
(``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db``). MLflow 3 refuses the old
``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE=true``; any URI works when configured. The
experiment is the spec's name unless ``ZOO_MLFLOW_EXPERIMENT``.
Plugin provenance, the zoo run folder and library versions become tags.

A finished run's model is logged with MLflow's Keras flavour under ``model``
(``mlflow models serve -m runs:/<id>/model``): ``zoo.serving_model``, raw pixels in (float32
NHWC 0..255), class probabilities out, Keras' own layers only, so it loads without zoo.
``ZOO_MLFLOW_REGISTER=<name>`` registers it. A run whose scaling is not affine gets
``model.keras`` as a file only.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
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
MODEL_NAME = "model"  # the logged model's name: runs:/<run id>/model


# pydantic warns that a field named ``register`` shadows ``ABCMeta.register``, a method of the
# metaclass that instances never see; the name is ``ZOO_MLFLOW_REGISTER``'s.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)

    class MlflowParams(zoo.PluginParams):
        tracking_uri: str | None = Field(
            None,
            description="Where to log (http://host:5000, sqlite:///..., file:...); default "
            "MLFLOW_TRACKING_URI, else sqlite 'mlflow.db' beside the run folder.",
        )
        experiment: str | None = Field(
            None, description="Experiment name; default: the spec's name."
        )
        log_model: bool = Field(
            True,
            description="Log a finished run's model: an MLflow Keras model 'model' (raw pixels in, "
            "probabilities out; mlflow models serve) and model.keras as a file.",
        )
        register: str | None = Field(
            None,
            description="Register the logged model under this name in the model registry "
            "(ZOO_MLFLOW_REGISTER=name).",
        )
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
        self.uri = ""
        self.experiment_id = ""

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
        self.uri = uri
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
        self.experiment_id = exp_id
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
        served = (
            self._log_serving_model() if status == "finished" and self.params.log_model else None
        )
        for path in files:
            path = Path(path).resolve()
            rel = path.relative_to(self.run_dir) if path.is_relative_to(self.run_dir) else path
            wanted = path.suffix in ARTIFACT_SUFFIXES and len(rel.parts) == 1
            if path.name == "model.keras":
                wanted = self.params.log_model
            if wanted and path.exists():
                self.client.log_artifact(self.run_id, str(path))
        self.client.set_terminated(self.run_id, STATUS.get(status, "FAILED"))
        model = f" (model: {served})" if served else ""
        sys.stderr.write(f"zoo: mlflow: logged run {self.run_id} to {_shown(self.uri)}{model}\n")

    def _log_serving_model(self) -> str | None:
        """The run's serving model logged with MLflow's Keras flavour: its URI (``models:/``
        when registered), or None, said on stderr, when it cannot be (model.keras still goes,
        and the run still gets its status)."""
        assert self.run_dir is not None
        try:
            return self._log_keras(zoo.serving_model(self.run_dir))
        except zoo.UserError as exc:  # a scaling or a layer a plain Keras model cannot hold
            reason = exc.problems[0].message if exc.problems else str(exc)
        except Exception as exc:  # a store or registry that refuses: the run's record still goes
            reason = f"MLflow could not log it as a model: {type(exc).__name__}: {exc}"[:500]
        sys.stderr.write(f"zoo: mlflow: the model is logged as a file: {reason}\n")
        return None

    def _log_keras(self, model: Any) -> str:
        """``Model.log`` into this tracker's run and experiment; the URI that loads it."""
        import mlflow
        import mlflow.keras

        # The logged model is made here, in the run's experiment: left to Model.log, it would go
        # to the process's active experiment (MLflow's default one, artifacts under ./mlruns).
        logged = self.client.create_logged_model(
            self.experiment_id, name=MODEL_NAME, source_run_id=self.run_id
        )
        with _tracking_uri(self.uri):  # Model.log and registration use the global URI
            info = mlflow.models.Model.log(
                artifact_path=None,  # deprecated, but a required argument
                name=MODEL_NAME,
                flavor=mlflow.keras,
                run_id=self.run_id,
                model_id=logged.model_id,
                model=model,
                signature=_signature(model),
                registered_model_name=self.params.register,
                pip_requirements=_requirements(model),
            )
        if self.params.register and info.registered_model_version is not None:
            return f"models:/{self.params.register}/{info.registered_model_version}"
        return f"runs:/{self.run_id}/{MODEL_NAME}"


def _signature(model: Any) -> Any:
    """Raw pixels in (float32, ``(-1, H, W, C)``), probabilities out (float32,
    ``(-1, classes)``). Unnamed: a named input makes pyfunc hand Keras a list for an array."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    float32 = np.dtype(np.float32)
    pixels = TensorSpec(float32, (-1, *model.input_shape[1:]))
    probabilities = TensorSpec(float32, (-1, model.output_shape[-1]))
    return ModelSignature(inputs=Schema([pixels]), outputs=Schema([probabilities]))


def _requirements(model: Any) -> list[str]:
    """Keras, its backend and the packages of the model's layers (KerasHub...), pinned as
    installed: what loading it imports, without MLflow loading it in a subprocess to see."""
    from importlib.metadata import PackageNotFoundError, version

    import keras

    pins = []
    for name in ("keras", keras.backend.backend(), *sorted(_packages(model) - {"keras"})):
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return pins


def _packages(layer: Any) -> set[str]:
    """Top-level packages of a layer's class and, for a model, of its layers."""
    found = {type(layer).__module__.split(".", 1)[0]}
    for inner in getattr(layer, "layers", []):
        found |= _packages(inner)
    return found


@contextlib.contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """MLflow logs and registers models through its process-wide tracking URI: point it at
    this tracker's store for the call, then put back what was there (the setting and the
    ``MLFLOW_TRACKING_URI`` variable, which ``set_tracking_uri`` also writes)."""
    import mlflow

    env = os.environ.get("MLFLOW_TRACKING_URI")
    before = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    if before == env:  # set by the environment variable alone
        before = None
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        # None unsets it (as mlflow's own code does); the annotation leaves None out
        mlflow.set_tracking_uri(before)  # type: ignore[arg-type]
        if env is not None:
            os.environ["MLFLOW_TRACKING_URI"] = env


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
        "the model as an MLflow Keras model (servable, registrable), plots as artifacts, "
        "plugin provenance as tags.",
        tags={"tracking"},
    )
