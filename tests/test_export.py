"""zoo export: each format against the run's Keras model, manifests, predict on exports,
and every bad input as one line with exit status 2.

One digits CNN (dataset scaling, so a fitted state must travel into the graph) is trained
once for the whole module and exported once per format.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.cli.main import main
from zoo.plugin.manager import reset_registry

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnx", "onnxruntime"))
NO_ONNX = "ONNX export needs tf2onnx, onnx and onnxruntime: pip install 'zoo[onnx]'"
FLOAT_FORMATS = [
    "savedmodel",
    "tflite",
    pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)),
]
# (format, quantize) -> export folder name under RUN/exports
EXPORTS = {
    ("savedmodel", None): "savedmodel",
    ("tflite", None): "tflite",
    ("tflite", "int8"): "tflite-int8",
    **({("onnx", None): "onnx"} if HAS_ONNX else {}),
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    spec = {
        "name": "export-cnn",
        "seed": 3,
        "data": {"source": "digits"},
        "scaling": {"recipe": "dataset"},
        "model": {"architecture": "simple_cnn", "params": {"preset": "gray_dropout"}},
        "training": {"epochs": 6, "batch_size": 32, "verbose": 0},
    }
    return zoo.train(spec, out=tmp_path_factory.mktemp("runs")).run_dir


@pytest.fixture(scope="module")
def exports(run_dir) -> dict[tuple[str, str | None], Path]:
    out = {}
    for (fmt, quantize), name in EXPORTS.items():
        result = zoo.export(run_dir, fmt, quantize=quantize, calibration_images=100)
        assert result.path == run_dir / "exports" / name
        out[(fmt, quantize)] = result.path
    return out


@pytest.fixture(scope="module")
def test_split(run_dir) -> tuple[np.ndarray, np.ndarray]:
    """The run's test images (uint8, run size) and its Keras probabilities with its scaling."""
    from zoo.data.prepare import prepare_data
    from zoo.runner.evaluate import split_images

    run = zoo.load_run(run_dir)
    images, _, split = split_images(prepare_data(run.loaded_spec), run, str(run_dir))
    assert split == "test" and len(images) >= 300
    return images, run.probabilities(images)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(code: int, out: str, err: str) -> str:
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---- the exported graph equals the run's model with its scaling ---------------------


@pytest.mark.parametrize("fmt", FLOAT_FORMATS)
def test_float_exports_match_keras_on_the_test_split(fmt, exports, test_split):
    images, expected = test_split
    exported = zoo.load_export(exports[(fmt, None)])
    got = exported.probabilities(images, batch_size=50)  # batches of 50 and a short last one
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) < 1e-4


def test_int8_tflite_keeps_the_top_class(exports, test_split):
    images, expected = test_split
    got = zoo.load_export(exports[("tflite", "int8")]).probabilities(images)
    assert np.mean(got.argmax(1) == expected.argmax(1)) >= 0.99


def test_exports_run_without_zoo(exports, test_split, tmp_path):
    """Each artifact in a fresh interpreter with only its runtime: raw pixels in."""
    images, expected = test_split
    np.save(tmp_path / "x.npy", images[:40].astype(np.float32))
    script = f"""
import sys, numpy as np
x = np.load({str(tmp_path / "x.npy")!r})
out = {{}}
import tensorflow as tf
sm = tf.saved_model.load({str(exports[("savedmodel", None)] / "model")!r})
[y] = sm.signatures["serving_default"](pixels=tf.constant(x)).values()
out["savedmodel"] = y.numpy()
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path={str(exports[("tflite", None)] / "model.tflite")!r})
i, o = it.get_input_details()[0], it.get_output_details()[0]
it.resize_tensor_input(i["index"], list(x.shape)); it.allocate_tensors()
it.set_tensor(i["index"], x); it.invoke(); out["tflite"] = it.get_tensor(o["index"])
if {HAS_ONNX}:
    import onnxruntime as ort
    s = ort.InferenceSession({str(exports.get(("onnx", None), "")) + "/model.onnx"!r})
    out["onnx"] = s.run(None, {{s.get_inputs()[0].name: x}})[0]
assert not any(m == "zoo" or m.startswith("zoo.") for m in sys.modules)
np.savez({str(tmp_path / "out.npz")!r}, **out)
"""
    if importlib.util.find_spec("ai_edge_litert") is None:
        script = script.replace(
            "from ai_edge_litert.interpreter import Interpreter",
            "Interpreter = tf.lite.Interpreter",
        )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = np.load(tmp_path / "out.npz")
    assert set(results.files) == {"savedmodel", "tflite"} | ({"onnx"} if HAS_ONNX else set())
    for name in results.files:
        assert np.max(np.abs(results[name] - expected[:40])) < 1e-4, name


def test_a_single_sigmoid_unit_exports_two_class_probabilities(plugin_path, tmp_path):
    """A binary run from a third-party plugin: the export gives [1 - p, p] in class order."""
    registry = plugin_path("acme")
    spec = {
        "name": "stripes",
        "data": {"source": "acme_stripes", "params": {"count": 40}},
        "model": {"architecture": "acme_tiny", "output_activation": "sigmoid", "num_classes": 1},
        "training": {"epochs": 1, "batch_size": 8, "verbose": 0},
    }
    run_dir = zoo.train(spec, out=tmp_path, registry=registry).run_dir
    result = zoo.export(run_dir, "tflite", registry=registry)
    assert result.manifest.class_names == ["plain", "striped"]
    assert result.manifest.output.shape == (None, 2)
    images = np.random.default_rng(1).integers(0, 256, (12, 8, 8, 1)).astype(np.uint8)
    expected = zoo.load_run(run_dir, registry=registry).probabilities(images)
    got = zoo.load_export(result.path).probabilities(images)
    assert got.shape == (12, 2) and np.max(np.abs(got - expected)) < 1e-4


# ---- manifests ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(EXPORTS), ids=list(EXPORTS.values()))
def test_manifest_describes_the_export(key, exports, run_dir):
    fmt, quantize = key
    manifest = json.loads((exports[key] / "manifest.json").read_text())
    info = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert manifest["format"] == fmt and manifest["quantization"] == quantize
    assert (exports[key] / manifest["artifact"]).exists()
    assert manifest["class_names"] == info["class_names"] == [str(d) for d in range(10)]
    assert manifest["input"]["shape"] == [None, *info["image_shape"]]
    assert manifest["input"]["dtype"] == "float32" and manifest["input"]["range"] == [0, 255]
    assert manifest["output"]["shape"] == [None, 10]
    scaling = manifest["scaling"]
    assert scaling["inside_graph"] and scaling["recipe"] == "dataset"
    assert scaling["state"] == info["scaling"]["state"] and scaling["formula"] == "(x - mean) / std"
    assert manifest["metrics"]["accuracy"] == metrics["test"]["accuracy"]
    assert manifest["source_run"]["path"] == str(run_dir.resolve())
    assert {"zoo", "tensorflow", "keras"} <= set(manifest["versions"])
    assert manifest["check"]["same_top_class"] >= (0.9 if quantize else 1.0)
    if quantize == "int8":
        assert manifest["calibration"] == {"split": "train", "images": 100}
    else:
        assert manifest["check"]["max_abs_diff"] < 1e-4


# ---- zoo predict on exports and on runs without their plugins -----------------------------


@pytest.fixture(scope="module")
def image_files(run_dir, test_split, tmp_path_factory) -> list[str]:
    import cv2

    folder = tmp_path_factory.mktemp("images")
    paths = []
    for i, image in enumerate(test_split[0][:6]):
        path = folder / f"digit{i}.png"
        cv2.imwrite(str(path), image[:, :, 0])
        paths.append(str(path))
    return paths


def _answers(capsys, target: str | Path, images: list[str]) -> list[tuple[str, float]]:
    code, out, err = cli(capsys, "predict", str(target), *images, "--format", "json")
    assert code == 0, err
    return [(p["class"], p["probability"]) for p in json.loads(out)["predictions"]]


@pytest.mark.parametrize(
    "where",
    [
        "savedmodel",
        "savedmodel/model",
        "tflite",
        "tflite/model.tflite",
        "tflite-int8",
        pytest.param("onnx/model.onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)),
    ],
)
def test_zoo_predict_on_an_export_gives_the_runs_answers(
    where, exports, run_dir, image_files, capsys
):
    expected = _answers(capsys, run_dir, image_files)
    got = _answers(capsys, run_dir / "exports" / where, image_files)
    assert [c for c, _ in got] == [c for c, _ in expected]
    tolerance = 0.05 if "int8" in where else 1e-4
    assert np.allclose([p for _, p in got], [p for _, p in expected], atol=tolerance)


def test_a_bare_artifact_predicts_without_its_manifest(exports, image_files, tmp_path, capsys):
    lone = tmp_path / "digits.tflite"
    shutil.copy(exports[("tflite", None)] / "model.tflite", lone)
    answers = _answers(capsys, lone, image_files)
    assert len(answers) == len(image_files)
    assert all(c in {str(d) for d in range(10)} for c, _ in answers)  # numbered classes


def test_predict_needs_neither_the_data_nor_the_scaling_plugin(
    run_dir, image_files, capsys, monkeypatch
):
    expected = _answers(capsys, run_dir, image_files)
    monkeypatch.setenv("ZOO_DISABLE_PLUGINS", "digits,scaling")
    reset_registry()
    try:
        assert "digits" not in zoo.registry().names()
        assert _answers(capsys, run_dir, image_files) == expected
    finally:
        monkeypatch.delenv("ZOO_DISABLE_PLUGINS")
        reset_registry()


@pytest.mark.parametrize("key", list(EXPORTS), ids=list(EXPORTS.values()))
def test_zoo_evaluate_on_an_export_repeats_the_runs_accuracy(key, exports, run_dir, capsys):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    code, out, err = cli(capsys, "evaluate", str(exports[key]), "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["split"] == "test" and result["count"] == metrics["count"]
    slack = 0.01 if key[1] else 1 / metrics["count"]  # near-ties may fall either way
    assert abs(result["metrics"]["accuracy"] - metrics["test"]["accuracy"]) <= slack + 1e-9
    if key[1] is None:  # int8 probabilities are coarse: their logarithms differ more
        assert result["metrics"]["cross_entropy"] == pytest.approx(
            metrics["test"]["loss"], rel=0.01
        )


# ---- bad input: one line, exit 2 ----------------------------------------------------------


@pytest.fixture
def copied_run(run_dir, tmp_path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("exports"))
    return copy


@pytest.mark.parametrize("status", ["running", "failed", "interrupted"])
def test_only_finished_runs_export(status, copied_run, capsys):
    info = json.loads((copied_run / "run.json").read_text())
    (copied_run / "run.json").write_text(json.dumps({**info, "status": status}))
    line = one_line_error(*cli(capsys, "export", str(copied_run), "--format", "tflite"))
    assert f"the run is {status}" in line
    assert not (copied_run / "exports").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "pb"], "unknown export format 'pb'"),
        (["--format", "pb"], "unknown export format 'pb'"),
        (["--format", "tflite", "--to", "onnx"], "give the export format once, with --to"),
        (["--to", "tflite", "--quantize", "int4"], "unknown quantization 'int4'"),
        (["--to", "savedmodel", "--quantize", "int8"], "tflite format only"),
        (["--to", "tflite", "--calibration-images", "0"], "at least 1"),
        (["--to", "tflite"], "already exists; pass --force"),
        (["--format", "tflite"], "already exists; pass --force"),  # the older spelling
        (["--to", "tflite", "--out", "x.tflite"], "a folder for the model"),
    ],
)
def test_bad_export_requests(args, message, exports, run_dir, capsys, tmp_path):
    line = one_line_error(*cli(capsys, "export", str(run_dir), *args))
    assert message in line


def test_a_missing_run_and_a_missing_model(tmp_path, copied_run, capsys):
    line = one_line_error(*cli(capsys, "export", str(tmp_path / "nope")))
    assert "no such run folder" in line
    (copied_run / "model.keras").unlink()
    line = one_line_error(*cli(capsys, "export", str(copied_run), "--out", str(tmp_path / "o")))
    assert "model.keras" in line
    assert not (tmp_path / "o").exists()


def test_onnx_without_its_packages_names_the_extra(run_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # find_spec: not installed
    line = one_line_error(
        *cli(
            capsys, "export", str(run_dir), "--format", "onnx", "--out", str(run_dir / "elsewhere")
        )
    )
    assert "tf2onnx" in line and "pip install 'zoo[onnx]'" in line


@pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)
def test_predict_on_onnx_without_onnxruntime_names_the_extra(
    exports, image_files, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    line = one_line_error(*cli(capsys, "predict", str(exports[("onnx", None)]), image_files[0]))
    assert "onnxruntime" in line and "pip install 'zoo[onnx]'" in line


def test_force_replaces_an_export_but_never_a_foreign_folder(run_dir, tmp_path, capsys):
    out = tmp_path / "served"
    code, stdout, err = cli(
        capsys, "export", str(run_dir), "--to", "tflite", "--out", str(out), "--format", "json"
    )
    assert code == 0, err
    first = json.loads(stdout)
    assert first["ok"] and Path(first["artifact"]).is_file() and err == ""
    (out / "stale.txt").write_text("from the first export")
    code, _, err = cli(
        capsys, "export", str(run_dir), "--format", "tflite", "--out", str(out), "--force"
    )
    assert code == 0, err
    assert not (out / "stale.txt").exists() and (out / "manifest.json").is_file()
    assert not list(tmp_path.glob(".served*"))  # no temporary folders left behind

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    line = one_line_error(
        *cli(capsys, "export", str(run_dir), "--format", "tflite", "--out", str(foreign), "--force")
    )
    assert "not a zoo export" in line and (foreign / "notes.txt").exists()


def test_predict_on_something_else_is_one_line(tmp_path, capsys, image_files):
    line = one_line_error(*cli(capsys, "predict", str(tmp_path / "nothing"), image_files[0]))
    assert "no such run folder or exported model" in line
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    if HAS_ONNX:
        line = one_line_error(*cli(capsys, "predict", str(tmp_path / "model.onnx"), image_files[0]))
        assert "cannot load the onnx model" in line


# ---- ONNX of transformer pieces: exact GELU, captured constants ------------------------


class _GeluNet:
    """An architecture plugin whose hidden layer uses exact GELU (``approximate=False``,
    Keras' default and the vision transformers'), which TensorFlow writes with ``Erfc``."""

    class Params(zoo.PluginParams):
        pass

    @staticmethod
    def build(params, ctx):
        import keras

        inputs = keras.Input(ctx.input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(16, activation="gelu", name="hidden")(x)
        outputs = keras.layers.Dense(ctx.num_classes, activation="softmax", name="output")(x)
        return keras.Model(inputs, outputs, name=ctx.name)

    @zoo.hookimpl
    def zoo_register_architectures(self, registry):
        registry.add_architecture(
            "gelu_net", params=self.Params, factory=self.build, description="exact GELU"
        )


@pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)
def test_onnx_export_of_an_exact_gelu_model(tmp_path):
    from zoo.plugin.manager import build_registry

    registry = build_registry(extra_plugins=[("gelu_net", _GeluNet())])
    spec = {
        "name": "gelu",
        "seed": 1,
        "data": {"source": "digits", "params": {"limit": 60}},
        "model": {"architecture": "gelu_net"},
        "training": {"epochs": 1, "batch_size": 16, "verbose": 0},
    }
    run_dir = zoo.train(spec, out=tmp_path, registry=registry).run_dir
    result = zoo.export(run_dir, "onnx", registry=registry)
    assert result.manifest.check["max_abs_diff"] < 1e-5
    images = np.random.default_rng(2).integers(0, 256, (9, 8, 8, 1)).astype(np.uint8)
    expected = zoo.load_run(run_dir, registry=registry).probabilities(images)
    got = zoo.load_export(result.path).probabilities(images)
    assert np.max(np.abs(got - expected)) < 1e-5


@pytest.mark.skipif(not HAS_ONNX, reason=NO_ONNX)
def test_onnx_folds_a_captured_constant_into_the_graph(tmp_path):
    """A constant tensor the traced function captures (over 128 values: KerasHub keeps
    position ids and attention tables so) is written into the graph, not left as an input."""
    import keras
    import onnxruntime as ort
    import tensorflow as tf

    from zoo.serving.convert import write_onnx
    from zoo.serving.graph import input_signature

    class AddTable(keras.layers.Layer):
        def build(self, input_shape):
            table = np.linspace(-1, 1, int(input_shape[-1]), dtype=np.float32)
            self.table = tf.constant(table)  # not a weight: captured by the trace

        def call(self, x):
            return x + self.table

    inputs = keras.Input((12, 12, 1))
    x = AddTable()(keras.layers.Flatten()(inputs / 255.0))  # 144 values
    x = keras.layers.Dense(4, activation=lambda t: keras.activations.gelu(t, approximate=False))(x)
    model = keras.Model(inputs, keras.layers.Softmax()(x))
    target = tmp_path / "model.onnx"
    write_onnx(model, target, input_signature((12, 12, 1)))
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["pixels"]
    pixels = np.random.default_rng(3).uniform(0, 255, (5, 12, 12, 1)).astype(np.float32)
    [got] = session.run(None, {"pixels": pixels})
    assert np.max(np.abs(got - np.asarray(model(pixels)))) < 1e-5
