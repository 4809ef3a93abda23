"""The MLflow tracker logs a model that serves: ``zoo.serving_model``, MLflow's Keras flavour,
the model registry, and the one line that says where it went."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import types
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.plugin.manager import build_registry

mlflow = pytest.importorskip("mlflow")

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "digits_mlp.yaml"
QUICK = ["training.epochs=1", "data.params.limit=200", "training.verbose=0", "callbacks=[]"]
SCALINGS = [e.name for e in zoo.list_plugins("recipe", recipe_type="scaling")]
ATOL = 1e-5


@dataclass
class Logged:
    run_dir: Path
    uri: str
    err: str


@contextlib.contextmanager
def tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's fluent API (pyfunc, runs:/ and models:/ URIs) reads the global URI."""
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)


def train_logged(out: Path, registry=None, overrides=(), **env: str) -> tuple[Path, str]:
    """A tiny digits run with the mlflow tracker on (its store beside the run), and stderr."""
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setenv("ZOO_TRACKING", "mlflow")
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        for key, value in env.items():
            mp.setenv(key, value)
        result = zoo.train(SPEC, out=out, overrides=[*QUICK, *overrides], registry=registry)
    return result.run_dir, err.getvalue()


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Logged:
    """One run logged and registered as 'digits' (ZOO_MLFLOW_REGISTER)."""
    runs = tmp_path_factory.mktemp("mlflow") / "runs"
    run_dir, err = train_logged(runs, ZOO_MLFLOW_REGISTER="digits")
    return Logged(run_dir, f"sqlite:///{runs / 'mlflow.db'}", err)


def raw_pixels(shape: tuple[int, ...], count: int = 12) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (count, *shape)).astype(np.uint8)


def run_id_of(err: str) -> str:
    found = re.findall(r"^zoo: mlflow: logged run ([0-9a-f]{32}) to ", err, re.MULTILINE)
    assert len(found) == 1, err
    return found[0]


# ---- the tracker ---------------------------------------------------------------------------


def test_the_tracker_says_once_where_it_logged(logged: Logged) -> None:
    run_id = run_id_of(logged.err)
    line = f"zoo: mlflow: logged run {run_id} to {logged.uri} (model: models:/digits/1)"
    assert logged.err.count("zoo: mlflow: logging to ") == 1
    assert logged.err.splitlines().count(line) == 1, logged.err
    assert "logged as a file" not in logged.err
    run = mlflow.MlflowClient(tracking_uri=logged.uri).get_run(run_id)
    assert run.info.status == "FINISHED"


def test_the_logged_model_predicts_like_the_run(logged: Logged) -> None:
    run_id = run_id_of(logged.err)
    images = raw_pixels((8, 8, 1))
    with tracking_uri(logged.uri):
        model = mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    got = np.asarray(model.predict(images.astype(np.float32)))
    expected = zoo.load_run(logged.run_dir).probabilities(images)
    assert got.dtype == np.float32 and got.shape == (12, 10)
    np.testing.assert_allclose(got, expected, atol=ATOL)
    inputs = model.metadata.get_input_schema().inputs
    outputs = model.metadata.get_output_schema().inputs
    assert [(s.type, s.shape) for s in inputs] == [(np.dtype("float32"), (-1, 8, 8, 1))]
    assert [(s.type, s.shape) for s in outputs] == [(np.dtype("float32"), (-1, 10))]


def test_the_registered_model_loads_in_a_process_without_zoo(
    logged: Logged, tmp_path: Path
) -> None:
    client = mlflow.MlflowClient(tracking_uri=logged.uri)
    version = client.get_model_version("digits", "1")
    assert version.run_id == run_id_of(logged.err)
    images = raw_pixels((8, 8, 1))
    np.save(tmp_path / "pixels.npy", images.astype(np.float32))
    code = (
        "import sys, numpy as np, mlflow\n"
        f"mlflow.set_tracking_uri({logged.uri!r})\n"
        "model = mlflow.pyfunc.load_model('models:/digits/1')\n"
        "np.save('probs.npy', model.predict(np.load('pixels.npy')))\n"
        "assert 'zoo' not in sys.modules, 'loading the model imported zoo'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = zoo.load_run(logged.run_dir).probabilities(images)
    np.testing.assert_allclose(np.load(tmp_path / "probs.npy"), expected, atol=ATOL)


# ---- zoo.serving_model ---------------------------------------------------------------------


@pytest.mark.parametrize("recipe", SCALINGS)
def test_serving_model_matches_the_run_for_every_scaling_recipe(
    recipe: str, tmp_path: Path
) -> None:
    """RGB images with different channels, so a recipe's channel order counts too; the model
    saved as .keras comes back in safe mode with the same probabilities."""
    import keras

    overrides = ["data.channels=3", f"scaling.recipe={recipe}"]
    run_dir = zoo.train(SPEC, out=tmp_path, overrides=[*QUICK, *overrides]).run_dir
    images = raw_pixels((8, 8, 3))
    expected = zoo.load_run(run_dir).probabilities(images)
    model = zoo.serving_model(run_dir)
    got = np.asarray(model(images.astype(np.float32)))
    np.testing.assert_allclose(got, expected, atol=ATOL)
    path = tmp_path / "serving.keras"
    model.save(path)
    again = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(again(images.astype(np.float32))), expected, atol=ATOL)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert "Lambda" not in json.dumps(config)


def test_a_single_sigmoid_unit_serves_two_columns(plugin_path, tmp_path: Path) -> None:
    registry = plugin_path("acme")
    spec = {
        "name": "stripes",
        "data": {"source": "acme_stripes", "params": {"count": 40}},
        "model": {"architecture": "acme_tiny", "output_activation": "sigmoid", "num_classes": 1},
        "training": {"epochs": 1, "batch_size": 8, "verbose": 0},
    }
    run_dir = zoo.train(spec, out=tmp_path, registry=registry).run_dir
    images = raw_pixels((8, 8, 1))
    expected = zoo.load_run(run_dir, registry=registry).probabilities(images)
    got = np.asarray(zoo.serving_model(run_dir, registry=registry)(images.astype(np.float32)))
    assert got.shape == (12, 2)
    np.testing.assert_allclose(got, expected, atol=ATOL)


class Squared:
    """A scaling that is not affine: ``(x / 255) ** 2``."""

    def __init__(self, params: zoo.NoParams, state: dict | None = None) -> None:
        self.params = params

    def fit(self, images: object) -> None:
        """Nothing to learn."""

    def __call__(self, images):
        return (images / 255.0) ** 2

    def state(self) -> dict:
        return {"recipe": "squared", "power": 2}


def _squared_plugin() -> types.SimpleNamespace:
    @zoo.hookimpl
    def zoo_register_recipes(registry):
        registry.add_scaling(
            "squared", params=zoo.NoParams, factory=Squared, description="(x / 255) ** 2."
        )

    return types.SimpleNamespace(zoo_register_recipes=zoo_register_recipes)


def test_a_scaling_that_is_not_affine_is_logged_as_a_file(tmp_path: Path) -> None:
    registry = build_registry([("squared", _squared_plugin())])
    runs = tmp_path / "runs"
    run_dir, err = train_logged(runs, registry, ["scaling.recipe=squared"])
    assert "zoo: mlflow: the model is logged as a file: scaling 'squared' is not affine" in err
    run_id = run_id_of(err)
    assert f"zoo: mlflow: logged run {run_id} to sqlite:///{runs / 'mlflow.db'}\n" in err
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{runs / 'mlflow.db'}")
    assert "model.keras" in {a.path for a in client.list_artifacts(run_id)}
    assert client.get_run(run_id).info.status == "FINISHED"
    with pytest.raises(zoo.UserError, match="scaling 'squared' is not affine"):
        zoo.serving_model(run_dir, registry=registry)


def test_serving_model_refuses_unknown_weights(logged: Logged) -> None:
    with pytest.raises(zoo.UserError, match="weights must be best or last"):
        zoo.serving_model(logged.run_dir, weights="first")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "explicit"),
    [(None, None), ("sqlite:///env.db", None), (None, "sqlite:///set.db")],
    ids=["unset", "environment", "set_tracking_uri"],
)
def test_the_global_tracking_uri_is_put_back(monkeypatch, env, explicit) -> None:
    """Model.log reads MLflow's process-wide URI: the tracker points it at its store for the
    call and leaves the process as it found it."""
    from zoo_builtins.trackers.mlflow_tracker import _tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if env:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env)
    mlflow.set_tracking_uri(explicit)
    try:
        before = (mlflow.get_tracking_uri(), mlflow.is_tracking_uri_set())
        with _tracking_uri("sqlite:///tracker.db"):
            assert mlflow.get_tracking_uri() == "sqlite:///tracker.db"
        assert (mlflow.get_tracking_uri(), mlflow.is_tracking_uri_set()) == before
        expected_env = env or explicit
        assert os.environ.get("MLFLOW_TRACKING_URI") == expected_env
    finally:
        mlflow.set_tracking_uri(None)
