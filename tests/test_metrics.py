"""Metrics that fit imbalanced data, checked against scikit-learn; the summary at the end of
a run (baseline, worst class, collapse warning); two-class thresholds; the names a spec may
use as a metric, a monitor or a sweep objective."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from sklearn import metrics as skm

import zoo
from zoo.cli.main import main
from zoo.errors import UserError
from zoo.spec.sections import METRIC_NAMES

IMBALANCE = ["balanced_accuracy", "f1", "f1_per_class", "roc_auc", "pr_auc"]


def fixed_predictions(classes: int, n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities that are right more often than not, every class present."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    probs = rng.dirichlet(np.ones(classes), n)
    probs[np.arange(n), labels] += 0.35
    return labels, (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def reference(name: str, labels: np.ndarray, probs: np.ndarray) -> list[float]:
    """scikit-learn's value of each metric (one per class for f1_per_class)."""
    predicted = probs.argmax(axis=1)
    classes = probs.shape[1]
    if name == "balanced_accuracy":
        return [skm.balanced_accuracy_score(labels, predicted)]
    if name == "f1":
        return [skm.f1_score(labels, predicted, average="macro")]
    if name == "f1_per_class":
        return list(skm.f1_score(labels, predicted, average=None))
    if classes == 2:
        fn = skm.roc_auc_score if name == "roc_auc" else skm.average_precision_score
        return [fn(labels, probs[:, 1])]
    if name == "roc_auc":
        return [skm.roc_auc_score(labels, probs, multi_class="ovr")]
    return [skm.average_precision_score(np.eye(classes)[labels], probs, average="macro")]


def keras_values(name: str, labels: np.ndarray, probs: np.ndarray, binary: bool) -> list[float]:
    """The Keras metric fed in two batches, as training would."""
    from zoo.runner.metrics import imbalance_metric

    if binary:
        targets, outputs = labels.reshape(-1, 1).astype("float32"), probs[:, 1:]
    else:
        targets, outputs = np.eye(probs.shape[1], dtype="float32")[labels], probs
    half = len(labels) // 2
    values = []
    for metric in imbalance_metric(name, 1 if binary else probs.shape[1], binary):
        metric.update_state(targets[:half], outputs[:half])
        metric.update_state(targets[half:], outputs[half:])
        values.append(float(metric.result()))
    return values


@pytest.mark.parametrize("name", IMBALANCE)
@pytest.mark.parametrize(("classes", "binary"), [(2, True), (2, False), (4, False)])
def test_keras_metric_matches_scikit_learn(name, classes, binary):
    labels, probs = fixed_predictions(classes)
    got = keras_values(name, labels, probs, binary)
    # the AUCs are Riemann sums over 1000 thresholds: within a few thousandths of sklearn's
    tolerance = 0.006 if name.endswith("auc") else 1e-4
    np.testing.assert_allclose(got, reference(name, labels, probs), atol=tolerance)


def test_every_spec_metric_compiles_to_a_keras_metric():
    """A name added to the spec's list without a Keras metric would train without it."""
    from zoo.runner.compile import Objective, make_metrics
    from zoo.spec.sections import TrainingSpec

    for targets, units in (("one_hot", 3), ("binary", 1)):
        objective = Objective("categorical_crossentropy", targets, 0.0, units)
        for name in METRIC_NAMES:
            made = make_metrics(TrainingSpec(metrics=[name]).metrics, objective)
            assert made, name


# ---- the summary --------------------------------------------------------------------


def test_summary_matches_scikit_learn():
    from zoo.runner.summary import summarize

    labels, probs = fixed_predictions(4, seed=3)
    names = ["a", "b", "c", "d"]
    summary = summarize(labels, probs, names, "test")
    predicted = probs.argmax(axis=1)
    recall = skm.recall_score(labels, predicted, average=None)
    assert summary.balanced_accuracy == pytest.approx(
        skm.balanced_accuracy_score(labels, predicted)
    )
    assert summary.macro_f1 == pytest.approx(skm.f1_score(labels, predicted, average="macro"))
    assert summary.worst_recall == pytest.approx(recall.min())
    assert summary.worst_class == names[int(recall.argmin())]
    assert summary.baseline == pytest.approx(np.bincount(labels).max() / len(labels))
    assert summary.roc_auc == pytest.approx(skm.roc_auc_score(labels, probs, multi_class="ovr"))
    assert summary.warning is None


def test_summary_warns_when_predictions_fall_on_one_class():
    from zoo.runner.summary import summarize

    labels = np.array([0] * 69 + [1] * 31)
    probs = np.tile([0.7, 0.3], (100, 1))  # always the majority class
    summary = summarize(labels, probs, ["good", "defective"], "test")
    assert summary.accuracy == pytest.approx(0.69)
    assert summary.baseline == pytest.approx(0.69)
    assert summary.balanced_accuracy == pytest.approx(0.5)
    assert summary.worst_class == "defective" and summary.worst_recall == 0
    assert "answers 'good' for 100% of the test images" in summary.warning
    assert "no better than always answering 'good' (0.6900)" in summary.warning
    assert "class_weight" in summary.warning and "val_balanced_accuracy" in summary.warning


def test_summary_warns_near_the_baseline_without_collapse():
    from zoo.runner.summary import summarize

    labels = np.array([0] * 90 + [1] * 10)
    probs = np.tile([0.9, 0.1], (100, 1))
    probs[85:95] = [0.2, 0.8]  # 10 answers of class 1, half of them right: accuracy 0.90
    summary = summarize(labels, probs, ["a", "b"], "test")
    assert summary.accuracy == pytest.approx(0.90)
    assert "no better than always answering 'a'" in summary.warning
    assert "answers 'a' for" not in summary.warning


def test_threshold_decides_two_classes_and_is_chosen_on_labels():
    from zoo.runner.summary import choose_threshold, predicted_classes

    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.65, 0.35], [0.4, 0.6]])
    assert predicted_classes(probs).tolist() == [0, 0, 0, 1]
    assert predicted_classes(probs, 0.3).tolist() == [0, 1, 1, 1]
    assert predicted_classes(probs[:, 1:], 0.3).tolist() == [0, 1, 1, 1]  # one sigmoid unit
    labels = np.array([0, 1, 1, 1])
    value, best = choose_threshold(probs, labels, "balanced_accuracy")
    assert best == 1.0 and 0.1 < value <= 0.3
    assert skm.balanced_accuracy_score(labels, predicted_classes(probs, value)) == 1.0


# ---- names in a spec ------------------------------------------------------------------


def write_spec(tmp_path, **extra) -> str:
    spec = {
        "data": {"source": "digits", "params": {"limit": 200}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
        "training": {"epochs": 1, "verbose": 0},
        **extra,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"training": {"metrics": ["accuracy", "balanced_acuracy"]}},
            "training.metrics[1]: unknown metric 'balanced_acuracy'; did you mean "
            "'balanced_accuracy'",
        ),
        (
            {
                "training": {"metrics": ["f1"]},
                "callbacks": [{"type": "early_stopping", "monitor": "val_f2"}],
            },
            "callbacks[0].monitor: unknown metric 'val_f2'; did you mean 'val_f1'",
        ),
        (
            {"callbacks": [{"type": "early_stopping", "monitor": "val_balanced_accuracy"}]},
            "unknown metric 'val_balanced_accuracy'",
        ),
        ({"evaluation": {"threshold": 1.2}}, "evaluation.threshold: a threshold is a probability"),
        ({"evaluation": {"threshold": {"maximize": "f1"}, "weights": "best"}}, None),
        (
            {
                "training": {"metrics": ["f1_per_class"]},
                "callbacks": [{"type": "reduce_lr_on_plateau", "monitor": "val_f1_class3"}],
            },
            None,
        ),
        ({"training": {"metrics": ["top_3_accuracy", "pr_auc", "roc_auc"]}}, None),
    ],
)
def test_validate_checks_metric_names_with_their_place(tmp_path, capsys, extra, expected):
    code = main(["validate", write_spec(tmp_path, **extra)])
    err = capsys.readouterr().err
    if expected is None:
        assert code == 0, err
    else:
        assert code == 2 and expected in err, err
        assert len(err.strip().splitlines()) == 1, err


def test_train_refuses_what_the_data_cannot_give(tmp_path):
    """The class count is known once the data is loaded: nothing is written before."""
    out = tmp_path / "runs"
    spec = {
        "data": {"source": "digits", "params": {"limit": 100}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
        "training": {"epochs": 1, "verbose": 0, "metrics": ["f1_per_class"]},
        "callbacks": [{"type": "early_stopping", "monitor": "val_f1_class12"}],
        "evaluation": {"threshold": 0.3},
    }
    with pytest.raises(UserError) as caught:
        zoo.train(spec, out=out)
    text = str(caught.value)
    assert "unknown metric 'val_f1_class12'" in text
    assert "a threshold applies to two classes; the data has 10" in text
    assert not out.exists() or not any(out.iterdir())


# ---- runs -----------------------------------------------------------------------------


def noise_npz(tmp_path, minority: float = 0.31, n: int = 200, blank: bool = False) -> str:
    """Two classes of noise (``blank``: black images, nothing to tell them apart, so the
    model can only learn the class shares)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8) * (not blank)
    y = (rng.random(n) < minority).astype(np.int64)
    path = tmp_path / "noise.npz"
    np.savez(path, x=x, y=y, class_names=np.array(["good", "defective"]))
    return str(path)


def test_collapsed_run_prints_the_baseline_and_warns(tmp_path, capsys):
    spec = {
        "name": "collapsed",
        "data": {"source": "numpy", "params": {"path": noise_npz(tmp_path, blank=True)}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [4]}},
        "training": {
            "epochs": 3,
            "verbose": 0,
            "optimizer": {"name": "adam", "learning_rate": 0.05},
        },
    }
    path = tmp_path / "collapsed.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["train", str(path), "--out", str(tmp_path / "runs")]) == 0
    out, err = capsys.readouterr()
    assert "baseline (always 'good'): accuracy" in out
    assert "balanced accuracy" in out and "worst class" in out
    warning = [line for line in err.splitlines() if line.startswith("zoo: warning:")]
    assert len(warning) == 1 and "it has learned the class shares" in warning[0]
    run = next((tmp_path / "runs").iterdir())
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["summary"]["warning"] and saved["summary"]["baseline"] > 0.5
    assert (run / "roc.png").stat().st_size > 0 and (run / "pr.png").stat().st_size > 0
    assert main(["evaluate", str(run), "--format", "json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["summary"]["baseline"] == pytest.approx(saved["summary"]["baseline"])


def test_chosen_threshold_is_recorded_and_used_by_predict_and_evaluate(tmp_path):
    spec = {
        "name": "threshold",
        "seed": 3,
        "data": {"source": "numpy", "params": {"path": noise_npz(tmp_path, minority=0.4)}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
        "training": {"epochs": 1, "verbose": 0, "metrics": ["accuracy", "balanced_accuracy"]},
        "evaluation": {"threshold": {"maximize": "balanced_accuracy"}},
    }
    result = zoo.train(spec, out=tmp_path / "runs")
    chosen = result.record.threshold
    assert chosen is not None and chosen.maximize == "balanced_accuracy" and 0 < chosen.value < 1
    assert result.results.summary.threshold == chosen.value
    run = zoo.load_run(result.run_dir)
    assert run.threshold == chosen.value
    images = np.random.default_rng(1).integers(0, 256, (64, 8, 8, 1), dtype=np.uint8)
    probs = run.probabilities(images)
    answers = [p.index for p in run.predict(images, top_k=2)]
    assert answers == (probs[:, 1] >= chosen.value).astype(int).tolist()
    again = zoo.evaluate_run(result.run_dir)
    assert again.summary.threshold == chosen.value
    assert again.summary.balanced_accuracy == pytest.approx(
        result.results.summary.balanced_accuracy
    )


def test_a_checkpoint_monitoring_f1_keeps_the_epoch_of_highest_f1(tmp_path):
    """mode auto reads 'f1' as higher-is-better: the kept epoch is the best F1's."""
    spec = {
        "seed": 2,
        "data": {"source": "digits", "params": {"limit": 300}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
        "training": {"epochs": 4, "verbose": 0, "metrics": ["f1"]},
        "callbacks": [{"type": "model_checkpoint", "monitor": "val_f1"}],
        "evaluation": {"weights": "best"},
    }
    result = zoo.train(spec, out=tmp_path)
    history = result.history["val_f1"]
    weights = result.results.weights
    assert weights.monitor == "val_f1" and weights.kept == "best"
    assert weights.best.epoch == int(np.argmax(history)) + 1


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_metrics_train_on_every_backend(tmp_path, backend):
    """Keras ops only: the same metrics compile and log on JAX and PyTorch."""
    import importlib.util

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    spec = {
        "data": {"source": "digits", "params": {"limit": 200}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
        "training": {"epochs": 1, "verbose": 0, "metrics": ["accuracy", *IMBALANCE]},
        "runtime": {"backend": backend},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    from conftest import run_zoo

    done = run_zoo("train", str(path), "--out", str(tmp_path / "runs"), "--format", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    scores = json.loads(done.stdout)["metrics"]
    for name in ("balanced_accuracy", "f1", "f1_class9", "roc_auc", "pr_auc"):
        assert 0 <= scores[name] <= 1, (name, scores)


@pytest.mark.parametrize(
    ("metrics", "objective", "expected"),
    [
        (["balanced_accuracy"], "balanced_accuracy", None),
        (["f1_per_class"], "f1_class3", None),
        (["roc_auc", "pr_auc"], "pr_auc", None),
        (["accuracy"], "balanced_accuracy", "the runs log no metric 'balanced_accuracy'"),
    ],
)
def test_a_sweep_may_optimise_each_metric(tmp_path, capsys, metrics, objective, expected):
    spec_path = write_spec(tmp_path, training={"epochs": 1, "verbose": 0, "metrics": metrics})
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"spec: {spec_path}\n"
        "space:\n  training.optimizer.learning_rate: {type: float, low: 0.001, high: 0.01}\n"
        f"objective: {{metric: {objective}, split: validation}}\ntrials: 2\n"
    )
    code = main(["sweep", str(sweep), "--check"])
    err = capsys.readouterr().err
    if expected is None:
        assert code == 0, err
    else:
        assert code == 2 and expected in err, err
