"""Downstream of the build: zoo's runner trains a hub variant on the bundled digits at smoke
scale, the run predicts, and exports (SavedModel, TFLite, ONNX) give the run's probabilities
(within 1e-4, as zoo's own export tests).

The default run trains DeiT-tiny (5.5M parameters) for one epoch with its top two blocks
unfrozen and predicts; the exports (15-30 s each here), and SavedModel and TFLite for a
ViT-B/16 run, are ``long``. ONNX of the ViT run is not tested: KerasHub's ViT keeps its
position ids as a constant tensor the traced function captures, which zoo's exporter folds
into the graph (the README has the table), but tf2onnx takes about 16 GB here to convert
it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import zoo
from hub_helpers import digits_spec

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnx", "onnxruntime"))
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def deit_run(tmp_path_factory) -> Path:
    spec = digits_spec("deit_tiny_distilled_patch16_224", 32, unfreeze=2)
    result = zoo.train(spec, out=tmp_path_factory.mktemp("runs"))
    assert result.evaluation is not None and result.evaluation.count == 20
    return result.run_dir


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory) -> Path:
    spec = digits_spec("vit_base_patch16_224", 32, unfreeze=1)
    return zoo.train(spec, out=tmp_path_factory.mktemp("runs")).run_dir


def _images(n: int = 12) -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, (n, 32, 32, 1)).astype(np.uint8)


def _export_matches(run_dir: Path, fmt: str) -> None:
    expected = zoo.load_run(run_dir).probabilities(_images())
    exported = zoo.export(run_dir, fmt, force=True)
    got = zoo.load_export(exported.path).probabilities(_images())
    assert got.shape == expected.shape == (12, 10)
    assert np.max(np.abs(got - expected)) < TOLERANCE


def test_a_hub_run_trains_and_predicts(deit_run):
    run = zoo.load_run(deit_run)
    probabilities = run.probabilities(_images())
    assert probabilities.shape == (12, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert run.spec.scaling.recipe == "unit"  # auto with random weights: zoo's default


@pytest.mark.long
def test_tflite_export_matches_the_run(deit_run):
    _export_matches(deit_run, "tflite")


@pytest.mark.long
def test_savedmodel_export_matches_the_run(deit_run):
    _export_matches(deit_run, "savedmodel")


@pytest.mark.long
@pytest.mark.skipif(not HAS_ONNX, reason="needs tf2onnx, onnx and onnxruntime")
def test_onnx_export_matches_the_run(deit_run):
    """DeiT's exact GELU is an ``Erfc`` op in TensorFlow's graph, which tf2onnx 1.17 cannot
    convert by itself: zoo's exporter converts it."""
    _export_matches(deit_run, "onnx")


@pytest.mark.long
@pytest.mark.parametrize("fmt", ["savedmodel", "tflite"])
def test_a_vit_run_exports_with_the_same_probabilities(vit_run, fmt):
    _export_matches(vit_run, fmt)
