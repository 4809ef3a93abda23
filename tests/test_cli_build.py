"""zoo build and zoo fetch: summaries, JSON, one-line errors with exit 2, offline fetches."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import SPECS, run_zoo

from zoo.cli.main import main

UNREACHABLE = "http://127.0.0.1:9/"
WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def write_spec(folder: Path, model: str) -> Path:
    path = folder / "spec.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        name: cli-test
        data: {{source: digits}}
        model: {model}
        scaling: {{recipe: auto}}
        """),
        encoding="utf-8",
    )
    return path


def test_build_json_describes_layers_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(SPECS / "digits_mlp.yaml"), "--format", "json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["ok"] and info["architecture"] == "mlp" and info["model"] == "digits_mlp"
    assert info["input_shape"] == [None, 8, 8, 1] and info["output_shape"] == [None, 10]
    params = info["params"]
    assert params == {"total": 17_802, "trainable": 17_418, "non_trainable": 384}
    layers = info["layers"]
    assert sum(layer["params"] for layer in layers) == params["total"]
    assert layers[0] == {
        "name": "input",
        "class": "InputLayer",
        "output_shape": [None, 8, 8, 1],
        "params": 0,
        "trainable": True,
    }
    assert layers[-1]["name"] == "predictions" and layers[-1]["output_shape"] == [None, 10]
    assert {"Dense", "BatchNormalization", "Dropout", "Flatten"} <= {la["class"] for la in layers}
    assert info["build_seconds"] < 5  # well under a second when the machine is idle


def test_build_text_prints_summary_and_counts(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["build", str(SPECS / "digits_mlp.yaml"), "--set", "model.params.hidden_units=[32]"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Total params" in out and "dense1" in out and "dense2" not in out
    assert "parameters: 2,506 total, 2,442 trainable, 64 non-trainable" in out


def test_build_frozen_transfer_model_counts_non_trainable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = write_spec(tmp_path, "{architecture: vgg16_transfer, params: {weights: none}}")
    rc = main(
        [
            "build",
            str(spec),
            "--format",
            "json",
            "--set",
            "data.image_size=[32, 32]",
            "--set",
            "data.channels=3",
        ]
    )
    info = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert info["params"]["non_trainable"] == 14_714_688  # the frozen VGG16 base
    assert info["params"]["trainable"] == 512 * 50 + 50 + 50 * 10 + 10
    assert any("random weights" in w["message"] for w in info["warnings"])


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_build_bad_spec_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(
        capsys, ["build", str(SPECS / "vgg11_cifar10.yaml"), "--set", "model.params.depth=12"]
    )
    assert "model.params.depth" in line


def test_build_too_small_input_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(
        capsys,
        ["build", str(SPECS / "reference_resnet50.yaml"), "--set", "data.image_size=[24, 24]"],
    )
    assert "too small" in line and "32x32" in line and "(24, 24, 3)" in line


def test_build_real_command_line_bad_spec(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "{architecture: resnet50, params: {stem: mobile}}")
    result = run_zoo("build", str(spec))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "model.params.stem" in result.stderr and "Traceback" not in result.stderr


def test_fetch_nothing_to_fetch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_spec(tmp_path, "{architecture: vgg16_transfer, params: {weights: none}}")
    assert main(["fetch", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "data (digits): nothing to fetch" in out
    assert "model (vgg16_transfer): nothing to fetch with these params" in out


def test_fetch_offline_names_the_missing_file(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "{architecture: vgg16_transfer, params: {weights: imagenet}}")
    result = run_zoo(
        "fetch",
        str(spec),
        extra_env={"KERAS_HOME": str(tmp_path / "keras"), "ZOO_WEIGHTS_BASE_URL": UNREACHABLE},
    )
    assert result.returncode == 2
    errors = [
        line for line in result.stderr.splitlines() if not line.startswith("zoo: downloading")
    ]
    assert len(errors) == 1, result.stderr
    assert f"{tmp_path / 'keras' / 'models' / WEIGHTS} is missing" in errors[0]


def test_fetch_reports_a_present_local_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "mine.weights.h5"
    weights.write_bytes(b"")
    spec = write_spec(tmp_path, f"{{architecture: vgg16_transfer, params: {{weights: {weights}}}}}")
    assert main(["fetch", str(spec), "--format", "json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results[1] == {
        "section": "model",
        "plugin": "vgg16_transfer",
        "fetches": True,
        "files": [str(weights)],
    }
