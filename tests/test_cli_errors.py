"""Mistakes that used to end in a traceback (issue 9) are one line each and exit status 2,
through the real command line: schema --out a folder, a negative --batch-size, and a run's
model.keras that holds a Lambda layer, is cut short, or does not fit the run."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run_zoo

TINY = {
    "name": "errors-tiny",
    "seed": 3,
    "data": {"source": "digits", "params": {"limit": 120}},
    "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
    "training": {"epochs": 1, "batch_size": 32},
}


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single line a user error prints, checked to come without a traceback."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and result.stdout == ""
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One tiny digits run, trained once through `zoo train`, shared read-only."""
    tmp = tmp_path_factory.mktemp("errors")
    (tmp / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = run_zoo(
        "train", str(tmp / "tiny.yaml"), "--out", str(tmp / "runs"), "--format", "json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return Path(json.loads(result.stdout)["run_dir"])


@pytest.fixture(scope="module")
def digit(run) -> Path:
    import cv2
    from sklearn.datasets import load_digits

    path = run.parent / "digit.png"
    cv2.imwrite(str(path), np.rint(load_digits().images[0] * 255 / 16).astype(np.uint8))
    return path


def with_model(run: Path, tmp_path: Path, write) -> Path:
    """A copy of ``run`` whose model.keras is replaced by what ``write(path)`` makes."""
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    (copy / "model.keras").unlink()
    write(copy / "model.keras")
    return copy


def save_model(layers_after_input, input_shape=(8, 8, 1), classes=10):
    def write(path: Path) -> None:
        import keras

        model = keras.Sequential(
            [
                keras.Input(input_shape),
                keras.layers.Flatten(),
                *layers_after_input(keras),
                keras.layers.Dense(classes, activation="softmax"),
            ]
        )
        model.save(str(path))

    return write


def test_schema_out_a_folder(tmp_path):
    line = one_line_error(run_zoo("schema", "--out", str(tmp_path)))
    assert (
        line == f"{tmp_path}: is a folder; --out takes a file name, e.g. "
        f"{tmp_path / 'zoo.schema.json'}"
    )
    (tmp_path / "file").write_text("")
    line = one_line_error(run_zoo("schema", "--out", str(tmp_path / "file" / "x.json")))
    assert line.endswith(f"{tmp_path / 'file'} is a file, not a folder")


def test_evaluate_with_a_negative_batch_size(run):
    line = one_line_error(run_zoo("evaluate", str(run), "--batch-size", "-5"))
    assert (
        line == "zoo evaluate: error: argument --batch-size: must be a positive integer (got '-5')"
    )
    import zoo
    from zoo.errors import UserError

    with pytest.raises(UserError, match=r"batch size must be a positive integer \(got 0\)"):
        zoo.evaluate_run(run, batch_size=0)


def test_a_lambda_layer_is_never_loaded(run, digit, tmp_path):
    bad = with_model(run, tmp_path, save_model(lambda k: [k.layers.Lambda(lambda x: x * 2)]))
    line = one_line_error(run_zoo("predict", str(bad), str(digit)))
    assert line == (
        f"{bad / 'model.keras'}: contains a Lambda layer, which zoo never loads (arbitrary code)"
    )


def test_a_truncated_model_file(run, tmp_path):
    data = (run / "model.keras").read_bytes()
    bad = with_model(run, tmp_path, lambda p: p.write_bytes(data[: len(data) // 2]))
    line = one_line_error(run_zoo("evaluate", str(bad)))
    assert line == f"{bad / 'model.keras'}: is not a valid Keras file (truncated or corrupt)"


def test_a_model_of_the_wrong_shape(run, digit, tmp_path):
    bad = with_model(run, tmp_path, save_model(lambda k: [], input_shape=(32, 32, 3)))
    line = one_line_error(run_zoo("predict", str(bad), str(digit)))
    assert line == (
        f"{bad / 'model.keras'}: takes input (32,32,3) but the run's images are (8,8,1)"
    )


def test_the_loader_checks_classes_and_takes_the_runs_own_model(run, digit, tmp_path):
    import zoo
    from zoo.errors import UserError
    from zoo.runner.model_file import load_model

    save_model(lambda k: [], classes=4)(tmp_path / "four.keras")
    with pytest.raises(UserError, match="outputs 4 scores per image but the run expects 10"):
        load_model(tmp_path / "four.keras", expect_input_shape=(8, 8, 1), expect_classes=10)
    model = load_model(run / "model.keras", expect_input_shape=(8, 8, 1), expect_classes=10)
    assert model.input_shape == (None, 8, 8, 1)
    assert zoo.load_run(run).predict([digit], top_k=1)[0].top_k
