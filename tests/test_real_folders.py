"""Training on real folders (issue 11): class weights, best vs last weights, every metric
in curves.png, the worst errors in errors.png, and `zoo evaluate --weights`.

Tiny runs: 200 bundled digits, a 16-unit MLP, 3 epochs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import run_zoo

import zoo
from zoo.errors import UserError
from zoo.runner.artifacts import curve_panels, worst_errors

PNG = b"\x89PNG\r\n\x1a\n"


def spec(**training) -> dict:
    return {
        "name": "folders",
        "seed": 3,
        "data": {"source": "digits", "params": {"limit": 200}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [16]}},
        "training": {"epochs": 3, "batch_size": 32, "verbose": 0, **training},
    }


@pytest.fixture(scope="module")
def weighted(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    # a learning rate so high the validation loss rises after the first epoch: best != last
    return zoo.train(
        spec(
            class_weight="balanced",
            metrics=["accuracy", "auc", "precision"],
            optimizer={"name": "sgd", "learning_rate": 5.0},
        ),
        out=out,
    )


def test_balanced_class_weights_are_recorded(weighted):
    info = json.loads((weighted.run_dir / "run.json").read_text())
    weights = info["class_weight"]
    assert set(weights) == {str(d) for d in range(10)}
    labels = np.asarray(zoo.load_run(weighted.run_dir).prepared()[0].train.labels)
    counts = np.bincount(labels, minlength=10)
    for d in range(10):
        assert weights[str(d)] == pytest.approx(len(labels) / (10 * counts[d]))


def test_unknown_class_names_are_a_located_error(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec(class_weight={"3": 2.0, "cat": 1.0})))
    with pytest.raises(UserError) as info:
        zoo.train(path, out=tmp_path / "runs")
    text = str(info.value)
    assert f"{path}:" in text and "training.class_weight.cat: unknown class 'cat'" in text
    assert (
        "0, 1, 2" in text
        and not (tmp_path / "runs").exists()
        or not any((tmp_path / "runs").iterdir())
    )


def test_class_weight_by_name_reaches_fit(tmp_path):
    result = zoo.train(spec(epochs=1, class_weight={3: 4.0}), out=tmp_path)
    weights = json.loads((result.run_dir / "run.json").read_text())["class_weight"]
    assert weights["3"] == 4.0 and weights["0"] == 1.0


def test_best_weights_are_evaluated_and_saved(weighted):
    metrics = json.loads((weighted.run_dir / "metrics.json").read_text())
    used = metrics["weights"]
    assert used["kept"] == "best" and used["monitor"] == "val_loss"
    history = weighted.history
    best_epoch = int(np.nanargmin(history["val_loss"])) + 1
    assert used["best"]["epoch"] == best_epoch and used["last"]["epoch"] == 3
    assert used["best"]["metrics"]["val_loss"] == pytest.approx(min(history["val_loss"]))
    assert (weighted.run_dir / used["last"]["file"]).is_file()
    # model.keras holds the evaluated weights: re-evaluating it repeats the test scores
    again = zoo.evaluate_run(weighted.run_dir)
    assert again.weights["used"] == "best"
    assert again.loss == pytest.approx(metrics["test"]["loss"], rel=1e-5)


def test_evaluate_last_weights_of_a_best_run(weighted, tmp_path):
    last = zoo.evaluate_run(weighted.run_dir, weights="last")
    assert last.weights["used"] == "last"
    best_loss = json.loads((weighted.run_dir / "metrics.json").read_text())["test"]["loss"]
    if weighted.metrics["weights"]["best"]["epoch"] != 3:
        assert last.loss != pytest.approx(best_loss)
    with pytest.raises(UserError):
        zoo.evaluate_run(weighted.run_dir, weights="middle")


def test_evaluation_weights_last(tmp_path):
    result = zoo.train(spec(epochs=2), out=tmp_path, overrides=["evaluation.weights=last"])
    weights = result.metrics["weights"]
    assert (weights["setting"], weights["kept"], weights["last"]["epoch"]) == ("last", "last", 2)
    assert (result.run_dir / "checkpoints" / "last.weights.h5").exists()  # always kept
    best = zoo.evaluate_run(result.run_dir, weights="best")
    assert best.weights["used"] == "best"


def test_curves_plot_every_compiled_metric(weighted):
    assert curve_panels(weighted.history) == ["accuracy", "auc", "precision", "loss"]
    assert (weighted.run_dir / "curves.png").read_bytes()[:8] == PNG


def test_errors_picture(weighted):
    assert (weighted.run_dir / "errors.png").read_bytes()[:8] == PNG
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.7, 0.3]])
    assert worst_errors(probs, [1, 1, 0, 0]) == [(2, 1, 0.8), (0, 0, 0.9)][::-1]
    assert worst_errors(np.array([[0.9], [0.2]]), [0, 0]) == [(0, 1, 0.9)]


def test_cli_evaluate_weights_and_per_class_support(weighted):
    done = run_zoo("evaluate", str(weighted.run_dir), "--weights", "last")
    assert done.returncode == 0, done.stderr
    assert "weights: last (epoch 3)" in done.stdout and "SUPPORT" in done.stdout
    done = run_zoo("evaluate", str(weighted.run_dir), "--weights", "best", "--format", "json")
    assert json.loads(done.stdout)["weights"]["used"] == "best"


def test_runs_folder_lists_new_files(weighted):
    files = set(weighted.files)
    assert {"errors.png", "checkpoints/best.weights.h5", "checkpoints/last.weights.h5"} <= files
    assert Path(weighted.run_dir / "model.keras").is_file()


def test_balanced_sampler_draws_classes_equally_and_repeats_per_epoch():
    from zoo.data.order import balanced_order

    labels = np.array([0] * 900 + [1] * 100 + [2] * 0 + [3] * 200)
    drawn = balanced_order(labels, seed=5, epoch=0)
    assert len(drawn) == len(labels)
    counts = np.bincount(labels[drawn], minlength=4)
    assert counts[2] == 0 and all(abs(c - 400) < 80 for c in counts[[0, 1, 3]])
    again = balanced_order(labels, seed=5, epoch=0)
    other = balanced_order(labels, seed=5, epoch=1)
    assert drawn.tolist() == again.tolist() and drawn.tolist() != other.tolist()


def test_training_with_the_balanced_sampler(tmp_path):
    result = zoo.train(spec(epochs=1, sampler="balanced"), out=tmp_path)
    assert result.epochs == 1 and result.evaluation.count > 0
