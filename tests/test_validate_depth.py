"""`zoo validate` catches what a later step would fail on, without TensorFlow: missing data
paths, missing local weights files, fine-tuning phases a model cannot do (issue 9)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import run_zoo

import zoo
from zoo.errors import UserError


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "data, key",
    [
        ("{source: directory, params: {path: photos}}", "data.params.path"),
        ("{source: csv, params: {path: table.csv}}", "data.params.path"),
        ("{source: numpy, params: {path: arrays.npz}}", "data.params.path"),
    ],
)
def test_a_missing_data_path_fails_validation_located(tmp_path, data, key):
    path = write(
        tmp_path,
        f"""\
        data: {data}
        model: {{architecture: mlp}}
        """,
    )
    with pytest.raises(UserError) as err:
        zoo.load_spec(path)
    [problem] = err.value.problems
    assert problem.key_path == key and problem.line == 1 and "no such" in problem.message
    assert str(tmp_path) in problem.message  # relative to the spec file's folder


def test_a_data_path_relative_to_the_spec_passes(tmp_path):
    (tmp_path / "photos").mkdir()
    path = write(
        tmp_path,
        """\
        data: {source: directory, params: {path: photos}, image_size: [8, 8]}
        model: {architecture: mlp}
        """,
    )
    assert zoo.load_spec(path).spec.data.params.path == "photos"


@pytest.mark.parametrize("architecture", ["efficientnetv2b0", "resnet50", "vgg16_transfer"])
def test_a_missing_local_weights_file_fails_validation(tmp_path, architecture):
    path = write(
        tmp_path,
        f"""\
        data: {{source: digits}}
        model: {{architecture: {architecture}, params: {{weights: mine.weights.h5}}}}
        scaling: {{recipe: auto}}
        """,
    )
    result = run_zoo("validate", str(path))
    assert result.returncode == 2
    assert "model.params.weights" in result.stderr and "mine.weights.h5" in result.stderr
    assert "Traceback" not in result.stderr


def test_phases_on_a_model_that_cannot_unfreeze_fail_validation(tmp_path):
    path = write(
        tmp_path,
        """\
        data: {source: digits}
        model: {architecture: mlp}
        training:
          phases: [{epochs: 1, learning_rate: 0.0001, unfreeze: all}]
        """,
    )
    with pytest.raises(UserError, match="cannot have fine-tuning phases") as err:
        zoo.load_spec(path)
    assert err.value.problems[0].key_path == "training.phases" and err.value.problems[0].line


def test_a_phase_may_unfreeze_from_a_named_layer(tmp_path):
    path = write(
        tmp_path,
        """\
        data: {source: digits}
        model: {architecture: mobilenetv3small, params: {weights: none}}
        training:
          phases: [{epochs: 1, learning_rate: 0.0001, unfreeze: expanded_conv_10_expand}]
        """,
    )
    assert zoo.load_spec(path).spec.training.phases[0].unfreeze == "expanded_conv_10_expand"
