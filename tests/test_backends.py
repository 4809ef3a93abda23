"""One spec on Keras' tensorflow, jax and torch backends (runtime.backend), both input
pipelines (tf.data and the TensorFlow-free PyDataset), JAX data parallelism on two virtual
devices and on two localhost processes, and a machine without TensorFlow.

Keras picks its backend once per process, so every run here is a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.backend import installed
from zoo.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = [b for b in ("tensorflow", "jax", "torch") if installed(b)]
needs_jax = pytest.mark.skipif(not installed("jax"), reason="jax is not installed (zoo[jax])")

# Imports of TensorFlow fail as on a machine that never installed it.
WITHOUT_TENSORFLOW = """
import importlib.abc, sys
class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tf_keras", "tensorboard", "tf2onnx"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoTensorFlow())
"""


def python(code: str, env: dict[str, str] | None = None, timeout: float = 600) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last, returned here."""
    full = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    full.update(TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full,
        cwd=ROOT,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


TRAIN = """
import json, zoo
out = {{}}
for name in ("digits_mlp", "digits_cnn"):
    r = zoo.train(f"specs/{{name}}.yaml", out="{out}", verbose=0,
                  overrides=["training.epochs=3", "runtime.backend={backend}"])
    info = json.load(open(r.run_dir / "run.json"))
    out[name] = {{"run": str(r.run_dir), "accuracy": r.metrics["test"]["accuracy"],
                 "backend": info["backend"], "input": info["input"]}}
print(json.dumps(out))
"""

PREDICT = """
import json, numpy as np, zoo, keras
images = np.load("{images}")
out = {{"backend": keras.backend.backend()}}
from zoo.images import convert_images
for name, path in {runs}.items():
    run = zoo.load_run(path)
    h, w, c = run.image_shape  # the CNN trains on 16x16 resized digits
    sized = convert_images(images, (h, w), c, run.resize_mode)
    out[name] = run._probs(sized, 16).tolist()
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The digits MLP and CNN trained 3 epochs on every installed backend."""
    out = tmp_path_factory.mktemp("backends")
    return {b: python(TRAIN.format(out=out, backend=b)) for b in BACKENDS}


@pytest.fixture(scope="module")
def digits_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_digits

    images = (load_digits().images[:48] * (255 / 16)).round().astype(np.uint8)[..., None]
    path = tmp_path_factory.mktemp("digits") / "images.npy"
    np.save(path, images)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn"])
def test_digits_train_to_the_same_accuracy_band_on_every_backend(trained, name):
    accuracy = {b: trained[b][name]["accuracy"] for b in BACKENDS}
    for backend in BACKENDS:
        assert trained[backend][name]["backend"] == backend  # recorded in run.json
        assert trained[backend][name]["input"] == "tf_data"  # the default where TF is
    assert min(accuracy.values()) >= 0.85, accuracy
    assert max(accuracy.values()) - min(accuracy.values()) <= 0.06, accuracy


@pytest.mark.slow
@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs a second backend")
def test_a_run_predicts_identically_on_every_backend(trained, digits_images):
    runs = {
        f"{b}:{n}": trained[b][n]["run"] for b in BACKENDS for n in ("digits_mlp", "digits_cnn")
    }
    probs = {
        b: python(PREDICT.format(images=digits_images, runs=runs), env={"KERAS_BACKEND": b})
        for b in BACKENDS
    }
    for backend, got in probs.items():
        assert got["backend"] == backend
        for run in runs:
            np.testing.assert_allclose(
                got[run],
                probs["tensorflow"][run],
                atol=1e-5,
                err_msg=f"{run} predicted on {backend}",
            )


def _batches(spec: str, overrides: list[str], steps: int) -> dict[str, list]:
    from zoo.data.pipeline import build_pipelines
    from zoo.data.prepare import prepare_data

    out = {}
    for path in ("tf_data", "py_dataset"):
        loaded = zoo.load_spec(spec, [*overrides, f"runtime.input={path}"])
        prepared = prepare_data(loaded)
        pipelines = build_pipelines(prepared, loaded, first_epoch=1)
        n = steps * pipelines.steps_per_epoch
        if path == "tf_data":
            batches = pipelines.train.as_numpy_iterator()
            out[path] = [next(batches) for _ in range(n)]
        else:
            out[path] = [pipelines.train[i] for i in range(n)]
        if pipelines.test is not None:
            test = pipelines.test
            out[path + ":test"] = list(test.as_numpy_iterator() if path == "tf_data" else test)
    return out


@pytest.mark.parametrize(
    "spec, overrides",
    [
        ("specs/digits_mlp.yaml", ["training.shuffle_buffer=100"]),  # a buffered shuffle
        (
            "specs/digits_cnn.yaml",
            [
                "augmentation={recipe: light}",
                "augmentation.path=python",
                "training.sampler=balanced",
            ],
        ),
        (
            "specs/folder_efficientnetv2b0.yaml",
            [
                "data.cache=false",
                "data.image_size=[32,32]",
                "augmentation.path=python",
                "training.batch_size=8",
            ],
        ),
        # (decoded from the class folders every epoch)
    ],
    ids=["buffered-shuffle", "augmented-balanced", "files"],
)
def test_both_input_paths_give_the_same_batches(spec, overrides):
    got = _batches(spec, overrides, steps=2)
    for split in ("", ":test"):
        a, b = got["tf_data" + split], got["py_dataset" + split]
        assert len(a) == len(b) > 0
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            np.testing.assert_array_equal(ya, yb)
            assert xa.dtype == xb.dtype == np.float32
            np.testing.assert_array_equal(xa, xb)


@pytest.mark.parametrize(
    "overrides, key_path, words",
    [
        (
            ["runtime.backend=jax", "training.distribute.strategy=mirrored"],
            "training.distribute.strategy",
            "use runtime.distribution: data_parallel",
        ),
        (
            ["runtime.backend=torch", "training.distribute.devices=['/cpu:0']"],
            "training.distribute.devices",
            "need the tensorflow backend",
        ),
        (
            ["runtime.distribution=data_parallel"],
            "runtime.distribution",
            "training.distribute.strategy: mirrored",
        ),
        (
            ["runtime.backend=torch", "runtime.distribution=data_parallel"],
            "runtime.distribution",
            "use backend: jax",
        ),
        (
            ["runtime.input=py_dataset", "augmentation={recipe: light, path: graph}"],
            "augmentation.path",
            "use path: auto or python",
        ),
        (["runtime.backend=tensorflow2"], "runtime.backend", "tensorflow"),
    ],
)
def test_backend_specific_options_are_located_errors(overrides, key_path, words):
    with pytest.raises(UserError) as err:
        zoo.load_spec("specs/digits_mlp.yaml", overrides)
    problems = [p for p in err.value.problems if p.key_path == key_path]
    assert problems, err.value.problems
    assert words in problems[0].message and problems[0].file.startswith("--set")


def test_validate_names_a_backend_that_is_not_installed():
    out = python(
        WITHOUT_TENSORFLOW
        + """
import io, json, contextlib
from zoo.cli.main import main
err = io.StringIO()
with contextlib.redirect_stderr(err):
    code = main(["validate", "specs/digits_mlp.yaml", "--set", "callbacks=[{type: tensorboard}]"])
print(json.dumps({"code": code, "err": err.getvalue()}))
"""
    )
    assert out["code"] == 2
    assert (
        "runtime.backend: backend 'tensorflow' ($KERAS_BACKEND or the default) is not "
        "installed; pip install 'zoo[tensorflow]'" in out["err"]
    )
    assert "callbacks[0].type: the tensorboard callback writes with TensorFlow" in out["err"]


@needs_jax
@pytest.mark.slow
def test_trains_on_jax_without_tensorflow(tmp_path):
    out = python(
        WITHOUT_TENSORFLOW
        + f"""
import json, sys
from zoo.cli.main import main
code = main(["train", "specs/digits_cnn.yaml", "--out", "{tmp_path}", "--epochs", "2",
             "--set", "runtime.backend=jax", "--set", "augmentation={{recipe: light}}",
             "--quiet"])
runs = [p for p in __import__("pathlib").Path("{tmp_path}").iterdir()]
info = json.load(open(runs[0] / "run.json"))
import cv2, io, contextlib, numpy as np
cv2.imwrite("{tmp_path}/seven.png", np.full((8, 8), 200, np.uint8))
stdout, stderr = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
    predicted = main(["predict", str(runs[0]), "{tmp_path}/seven.png", "--format", "json"])
    exported = main(["export", str(runs[0]), "--out", "{tmp_path}/export"])
print(json.dumps({{"code": code, "tf": "tensorflow" in sys.modules, "info": info,
                  "predicted": predicted, "prediction": stdout.getvalue(),
                  "exported": exported, "err": stderr.getvalue()}}))
""",
        env={"KERAS_BACKEND": "jax"},
    )
    assert out["code"] == 0 and not out["tf"]
    info = out["info"]
    assert info["status"] == "finished" and info["backend"] == "jax"
    assert info["input"] == "py_dataset"
    assert out["predicted"] == 0
    [prediction] = json.loads(out["prediction"])["predictions"]
    assert prediction["class"] in [str(d) for d in range(10)]
    assert out["exported"] == 2
    assert (
        "zoo export writes SavedModel, TFLite and ONNX files with TensorFlow, which is "
        "not installed: pip install 'zoo[tensorflow]'" in out["err"]
    )


# One spec for the data-parallel runs, on one process or two: the two-host run must equal
# the one-process run over as many devices (class weights travel as sample weights).
DATA_PARALLEL = [
    "training.epochs=3",
    "runtime.backend=jax",
    "training.batch_size=32",
    "runtime.distribution=data_parallel",
    "training.class_weight=balanced",
]


@pytest.fixture(scope="module")
def one_process_two_devices(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("data_parallel")
    return python(
        f"""
import json, zoo
r = zoo.train("specs/digits_mlp.yaml", out="{out}", verbose=0,
              overrides={DATA_PARALLEL + ["runtime.input=tf_data"]!r})
info = json.load(open(r.run_dir / "run.json"))
print(json.dumps({{"strategy": info["strategy"], "metrics": r.metrics}}))
""",
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "KERAS_BACKEND": "jax"},
    )


@needs_jax
@pytest.mark.slow
def test_data_parallel_on_two_virtual_jax_devices(one_process_two_devices):
    out = one_process_two_devices
    assert out["strategy"] == {
        "name": "data_parallel",
        "replicas": 2,
        "hosts": 1,
        "mixed_precision": False,
    }
    # 360 test images in batches of 32: the last (8) splits evenly; none is dropped
    assert out["metrics"]["count"] == 360
    assert out["metrics"]["test"]["accuracy"] >= 0.85


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@needs_jax
@pytest.mark.slow
@pytest.mark.parametrize("path", ["py_dataset", "tf_data"])
def test_two_jax_processes_train_one_model_on_localhost(tmp_path, path, one_process_two_devices):
    """Each host reads only its rows of every batch, and the two hosts train exactly the
    model one process trains on two devices (augmentation, drawn per host, is checked in
    tests/test_host_shares.py)."""
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_DISTRIBUTION_NUM_PROCESSES="2",
        KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{_free_port()}",
    )
    options = [*DATA_PARALLEL, f"runtime.input={path}"]
    sets = [arg for option in options for arg in ("--set", option)]
    args = [sys.executable, "-m", "zoo", "train", "specs/digits_mlp.yaml", "--out", str(tmp_path)]
    procs = [
        subprocess.Popen(
            [*args, *sets, "--format", "json"],
            env={**env, "KERAS_DISTRIBUTION_PROCESS_ID": str(i)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    first, second = (json.loads(out) for out, _ in results)
    assert Path(second["run_dir"]).name.startswith("digits-mlp-host1-")  # a folder of its own
    assert first["metrics"] == second["metrics"]  # one model, trained together
    info = json.loads((Path(first["run_dir"]) / "run.json").read_text())
    assert info["strategy"]["hosts"] == 2 and info["strategy"]["replicas"] == 2
    one = one_process_two_devices["metrics"]["test"]  # the CLI prints the test metrics
    assert set(first["metrics"]) <= set(one)
    assert first["metrics"] == pytest.approx({k: one[k] for k in first["metrics"]}, rel=1e-5)


@needs_jax
@pytest.mark.slow
def test_a_killed_jax_run_resumes_on_jax_bit_identical(tmp_path, trained):
    """Killed mid-epoch 3 on jax, then resumed (the run's own backend, whatever the
    environment says): history and weights equal the uninterrupted jax run's (``trained``:
    the same spec and seed; backups do not change what trains)."""
    import keras

    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"

    def zoo_cli(*more: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "zoo", *more],
            cwd=ROOT,
            text=True,
            capture_output=True,
            env={**env, **extra},
            timeout=600,
        )

    killed = zoo_cli(
        "train",
        "specs/digits_mlp.yaml",
        "--epochs",
        "3",
        "--quiet",
        "--set",
        "runtime.backend=jax",
        "--set",
        "training.backup.every_epochs=1",
        "--out",
        str(tmp_path),
        ZOO_FAULT="mid_epoch@3",
    )
    assert killed.returncode == -9, killed.stderr[-2000:]
    [run] = list(tmp_path.iterdir())
    resumed = zoo_cli("train", "--resume", str(run), KERAS_BACKEND="tensorflow")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # the kill comes mid epoch 3: the backup holds epoch 2, or 1 if epoch 2's write (in the
    # background) had not finished
    assert re.search(r"resumed from (epoch [12]\b|the start)", resumed.stderr), resumed.stderr
    done = Path(trained["jax"]["digits_mlp"]["run"])
    assert (run / "history.csv").read_text() == (done / "history.csv").read_text()
    info = json.loads((run / "run.json").read_text())
    assert info["backend"] == "jax" and info["status"] == "finished"
    a = keras.saving.load_model(run / "model.keras").get_weights()  # .keras: any backend
    b = keras.saving.load_model(done / "model.keras").get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs a second backend")
def test_zoo_build_builds_on_the_specs_backend():
    other = BACKENDS[-1]  # torch, else jax
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "build",
            "specs/digits_cnn.yaml",
            "--set",
            f"runtime.backend={other}",
            "--format",
            "json",
        ],
        cwd=ROOT,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    info = json.loads(proc.stdout)
    assert info["backend"] == other and info["params"]["total"] == 157_696
