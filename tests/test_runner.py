"""The runner through the Python API: artifacts, callbacks, resume, predict, reproducibility.

Every run here is tiny (200 bundled digits, a 16-unit MLP, 1-4 epochs); the command line,
the SIGKILL resume and the mirrored strategy run in subprocesses in test_cli_train.py and
test_runner_distribute.py.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import zoo
from zoo.errors import UserError
from zoo.plugin.manager import build_registry
from zoo.runner.compile import choose_objective, make_optimizer, schedule_fn
from zoo.spec.metrics import monitor_mode
from zoo.spec.sections import TrainingSpec

PNG = b"\x89PNG\r\n\x1a\n"
HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def tiny_spec(**extra) -> dict:
    spec = {
        "name": "tiny",
        "seed": 7,
        "data": {"source": "digits", "params": {"limit": 200}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [16]}},
        "training": {"epochs": 2, "batch_size": 32, "verbose": 0},
    }
    for key, value in extra.items():
        spec[key] = (
            value if not isinstance(value, dict) or key not in spec else {**spec[key], **value}
        )
    return spec


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def lrs(path: Path) -> list[float]:
    return [float(r["learning_rate"]) for r in rows(path)]


# ---- one full run, inspected from every side -------------------------------------------


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    spec = tiny_spec(
        training={"epochs": 4},
        callbacks=[
            {
                "type": "model_checkpoint",
                "monitor": "val_loss",
                "mode": "min",
                "filepath": "checkpoints/weights.{epoch:03d}-{val_loss:.4f}-{acc:.4f}.weights.h5",
            },
            {
                "type": "model_checkpoint",
                "monitor": "val_accuracy",
                "mode": "max",
                "save_best_only": False,
                "save_weights_only": False,
                "filepath": "models/epoch{epoch:02d}.keras",
            },
            # mode max on a falling loss: no epoch improves, so the rate drops every epoch
            {
                "type": "reduce_lr_on_plateau",
                "monitor": "val_loss",
                "mode": "max",
                "factor": 0.5,
                "patience": 0,
                "min_lr": 0.0004,
            },
            {"type": "csv_logger", "filename": "logs/epochs.csv"},
            {"type": "backup_and_restore", "backup_dir": "bk"},
        ]
        + ([{"type": "tensorboard", "log_dir": "tb"}] if HAS_TENSORBOARD else []),
    )
    return zoo.train(spec, out=out)


def test_run_folder_has_every_artifact(full_run):
    run = full_run.run_dir
    assert run.parent.name.startswith("runs") and run.name.startswith("tiny-")
    for name in (
        "spec.yaml",
        "run.json",
        "model.keras",
        "history.csv",
        "metrics.json",
        "curves.png",
        "confusion_matrix.png",
        "logs/epochs.csv",
    ):
        assert (run / name).is_file(), name
    for name in ("curves.png", "confusion_matrix.png"):
        assert (run / name).read_bytes()[:8] == PNG
    if HAS_TENSORBOARD:
        assert list((run / "tb").rglob("events.out.tfevents*"))
    assert not (run / "bk").exists()  # the backup goes once the run is finished
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]  # no leftovers of atomic writes
    assert full_run.epochs == 4 and len(full_run.history["loss"]) == 4


def test_run_json_records_what_produced_the_run(full_run):
    info = json.loads((full_run.run_dir / "run.json").read_text())
    assert info["status"] == "finished" and info["seed"] == 7 and info["spec_version"] == 1
    assert set(info["versions"]) >= {"zoo", "tensorflow", "keras", "numpy", "albumentations"}
    assert info["plugins"]["model"]["name"] == "mlp"
    assert info["plugins"]["data"]["distribution"] == "zoo"
    assert info["class_names"] == [str(d) for d in range(10)]
    assert info["image_shape"] == [8, 8, 1]
    assert info["scaling"]["recipe"] == "unit" and info["scaling"]["state"] is not None
    assert info["objective"]["loss"] == "sparse_categorical_crossentropy"
    spec = yaml.safe_load((full_run.run_dir / "spec.yaml").read_text())
    assert spec["training"]["optimizer"]["name"] == "adam"  # defaults filled in
    zoo.load_spec(full_run.run_dir / "spec.yaml")  # and it loads as a spec again


def test_checkpoints_follow_the_note_template(full_run):
    run = full_run.run_dir
    weights = sorted((run / "checkpoints").glob("weights.*.weights.h5"))
    assert weights and all(len(p.name.split("-")) == 3 for p in weights)  # epoch, val_loss, acc
    kept = json.loads((run / "metrics.json").read_text())["weights"]
    assert kept["best"]["file"] == f"checkpoints/{weights[-1].name}"
    assert sorted(p.name for p in (run / "models").iterdir()) == [
        f"epoch{e:02d}.keras" for e in range(1, 5)
    ]  # save_best_only: false keeps every epoch
    model = zoo.build_model(run / "spec.yaml", num_classes=10, image_shape=(8, 8, 1))
    model.load_weights(weights[-1])  # "load the weights into a rebuilt model"


def test_history_and_reduce_lr_on_plateau(full_run):
    run = full_run.run_dir
    history = rows(run / "history.csv")
    assert [int(r["epoch"]) for r in history] == [1, 2, 3, 4]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history[0])
    # epoch 1 sets the best; epochs 2 and 3 do not beat it, so the rate halves after each of
    # them (a row shows the rate its epoch ran at) and stops at min_lr
    assert lrs(run / "history.csv") == pytest.approx([1e-3, 1e-3, 5e-4, 4e-4])
    assert rows(run / "logs/epochs.csv") == history


def test_metrics_json_has_test_scores_and_per_class(full_run):
    metrics = json.loads((full_run.run_dir / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["count"] == 40
    assert 0 <= metrics["test"]["accuracy"] <= 1 and metrics["test"]["loss"] > 0
    assert set(metrics["per_class"]) == {str(d) for d in range(10)}
    assert {"precision", "recall", "f1", "support"} <= set(metrics["per_class"]["3"])
    assert np.asarray(metrics["confusion_matrix"]).sum() == 40


def test_saved_run_predicts_like_the_model_in_memory(full_run):
    from zoo.data.prepare import prepare_data

    run = zoo.load_run(full_run.run_dir)
    prepared = prepare_data(run.loaded_spec)
    images = prepared.test.images
    in_memory = np.argmax(np.asarray(full_run.model(images.astype("float32") / 255.0)), axis=1)
    predictions = run.predict(images, top_k=3)
    assert [p.index for p in predictions] == in_memory.tolist()
    first = predictions[0]
    assert first.class_name == str(first.index) and len(first.top_k) == 3
    assert first.top_k[0].probability >= first.top_k[1].probability >= first.top_k[2].probability
    assert "%" in str(first) and first.to_dict()["top_k"][0]["class"] == first.class_name


def test_evaluate_run_repeats_the_test_scores(full_run):
    metrics = json.loads((full_run.run_dir / "metrics.json").read_text())
    result = zoo.evaluate_run(full_run.run_dir)
    assert result.split == "test" and result.count == metrics["count"]
    assert result.accuracy == pytest.approx(metrics["test"]["accuracy"])
    assert result.loss == pytest.approx(metrics["test"]["loss"], rel=1e-5)


def test_predict_reads_image_files_and_reports_bad_ones(full_run, tmp_path):
    import cv2

    from zoo.data.prepare import prepare_data

    run = zoo.load_run(full_run.run_dir)
    image = prepare_data(run.loaded_spec).test.images[0]
    path = tmp_path / "digit.png"
    cv2.imwrite(str(path), image[:, :, 0])
    (tmp_path / "bad.png").write_bytes(b"not an image")
    [from_file] = run.predict([path])
    [from_array] = run.predict(image)
    assert from_file.index == from_array.index and from_file.source == str(path)
    with pytest.raises(UserError, match="bad.png"):
        run.predict([tmp_path / "bad.png"])
    with pytest.raises(UserError, match="uint8"):
        run.predict(image.astype("float32"))


# ---- more runs ---------------------------------------------------------------------------


def test_seeded_runs_repeat(tmp_path):
    spec = tiny_spec()
    a = zoo.train(spec, out=tmp_path)
    b = zoo.train(spec, out=tmp_path)
    assert a.run_dir != b.run_dir  # never the same folder
    # without a model_checkpoint in the spec, the run keeps its best weights (by val_loss)
    kept = json.loads((a.run_dir / "metrics.json").read_text())["weights"]
    assert kept["best"]["file"] == "checkpoints/best.weights.h5"
    assert (a.run_dir / "checkpoints" / "best.weights.h5").is_file()
    assert a.history == b.history
    assert a.metrics["test"] == b.metrics["test"]


def test_overrides_are_validated_like_the_file(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(tiny_spec()))
    result = zoo.train(
        path,
        out=tmp_path / "runs",
        overrides=["training.epochs=1", "model.params.hidden_units=[8]"],
    )
    assert result.epochs == 1
    saved = yaml.safe_load((result.run_dir / "spec.yaml").read_text())
    assert saved["model"]["params"]["hidden_units"] == [8]
    with pytest.raises(UserError, match="training.epochs"):
        zoo.train(path, out=tmp_path / "bad", overrides=["training.epochs=0"])
    assert not (tmp_path / "bad").exists()


def test_scheduler_early_stopping_and_one_hot_metrics(tmp_path):
    spec = tiny_spec(
        training={
            "epochs": 5,
            "optimizer": {
                "name": "sgd",
                "learning_rate": 0.08,
                "momentum": 0.9,
                "nesterov": True,
                "clipnorm": 1.0,
            },
            "loss": {"label_smoothing": 0.1},
            "metrics": [
                "accuracy",
                "precision",
                "recall",
                "auc",
                {"name": "top_k_accuracy", "k": 3},
            ],
        },
        callbacks=[
            {
                "type": "learning_rate_scheduler",
                "schedule": {"name": "step", "every_epochs": 1, "factor": 0.5},
            },
            # mode max on a falling loss: epoch 2 is no better than epoch 1, so it stops there
            {"type": "early_stopping", "monitor": "loss", "mode": "max", "patience": 1},
        ],
    )
    result = zoo.train(spec, out=tmp_path)
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["objective"] == {
        "loss": "categorical_crossentropy",
        "targets": "one_hot",
        "label_smoothing": 0.1,
    }
    assert result.epochs == 2
    assert lrs(result.run_dir / "history.csv") == pytest.approx([0.08, 0.04])
    assert {"precision", "recall", "auc", "top_3_accuracy", "val_auc"} <= set(result.history)
    assert {"precision", "top_3_accuracy"} <= set(result.metrics["test"])


def test_binary_sigmoid_output_on_a_third_party_source(plugin_path, tmp_path):
    registry = plugin_path("acme")
    spec = {
        "name": "stripes",
        "data": {"source": "acme_stripes", "params": {"count": 60}},
        "model": {"architecture": "acme_tiny", "output_activation": "sigmoid", "num_classes": 1},
        "training": {"epochs": 2, "batch_size": 8, "verbose": 0},
    }
    result = zoo.train(spec, out=tmp_path, registry=registry)
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["objective"]["loss"] == "binary_crossentropy"
    assert info["plugins"]["data"]["distribution"] == "acme-zoo"
    assert info["plugins"]["model"]["version"] == "1.2.0"
    run = zoo.load_run(result.run_dir, registry=registry)
    [p] = run.predict(np.full((8, 8, 1), 255, np.uint8), top_k=5)
    assert len(p.top_k) == 2 and {s.class_name for s in p.top_k} == {"plain", "striped"}
    assert sum(s.probability for s in p.top_k) == pytest.approx(1.0)


# ---- fine-tuning phases and resuming in one process -------------------------------------


class TinyTransfer:
    """A test architecture with a 'base' to freeze, like vgg16_transfer."""

    calls: list = []

    @staticmethod
    def build(params, ctx):
        import keras

        inputs = keras.Input(ctx.input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(16, activation="relu", name="base_dense")(x)
        x = keras.layers.Dense(16, activation="relu", name="head_dense")(x)
        outputs = keras.layers.Dense(ctx.num_classes, activation=ctx.output_activation)(x)
        model = keras.Model(inputs, outputs, name=ctx.name)
        model.get_layer("base_dense").trainable = False
        return model

    @classmethod
    def set_trainable(cls, model, unfreeze):
        cls.calls.append(unfreeze)
        model.get_layer("base_dense").trainable = unfreeze != "none"
        return int(unfreeze != "none")

    @zoo.hookimpl
    def zoo_register_architectures(self, registry):
        registry.add_architecture(
            "tiny_transfer",
            params=zoo.NoParams,
            factory=self.build,
            description="Test model with a frozen base.",
            set_trainable=self.set_trainable,
        )


class Interrupt(Exception):
    pass


def stop_at(epoch: int):
    import keras

    class StopAt(keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            if e == epoch:
                raise Interrupt(f"stopped at epoch {e + 1}")

    return StopAt()


def test_phases_schedule_and_resume_after_a_crash(tmp_path):
    registry = build_registry([("tiny_transfer", TinyTransfer())])
    spec = tiny_spec(
        model={"architecture": "tiny_transfer", "params": {}},
        training={
            "epochs": 2,
            "optimizer": {"learning_rate": 0.002},
            "schedule": {"name": "exponential", "decay_rate": 0.5},
            "phases": [{"epochs": 3, "learning_rate": 0.0004, "unfreeze": "all"}],
        },
    )
    TinyTransfer.calls.clear()
    with pytest.raises(Interrupt):  # a crash in the 2nd epoch of phase 1 (epoch 4 overall)
        zoo.train(spec, out=tmp_path, registry=registry, callbacks=[stop_at(3)])
    [run_dir] = list(tmp_path.iterdir())
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and "stopped at epoch 4" in info["reason"]
    assert not (run_dir / "model.keras").exists()
    assert [int(r["epoch"]) for r in rows(run_dir / "history.csv")] == [1, 2, 3]
    assert TinyTransfer.calls == ["all"]

    with pytest.raises(UserError, match="differs from the run's spec at: training.epochs"):
        zoo.train(
            {**spec, "training": {**spec["training"], "epochs": 9}},
            resume=run_dir,
            registry=registry,
        )
    result = zoo.train(resume=run_dir, registry=registry)
    assert result.run_dir == run_dir and TinyTransfer.calls == ["all", "all"]
    history = rows(run_dir / "history.csv")
    assert [int(r["epoch"]) for r in history] == [1, 2, 3, 4, 5]
    assert [int(r["phase"]) for r in history] == [0, 0, 1, 1, 1]
    # the schedule runs per phase, from each phase's own learning rate
    assert lrs(run_dir / "history.csv") == pytest.approx([0.002, 0.001, 0.0004, 0.0002, 0.0001])
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "finished" and info["epochs_done"] == 5 and info["resumed"]
    assert not (run_dir / "backup").exists()
    # the best weights survived the crash in the backup and were written at the end
    best = int(np.argmin([float(r["val_loss"]) for r in history])) + 1
    model = TinyTransfer.build(None, zoo.ModelContext((8, 8, 1), 10))
    kept = json.loads((run_dir / "metrics.json").read_text())["weights"]
    model.load_weights(run_dir / kept["best"]["file"])
    if best < 5:
        assert not np.allclose(model.get_weights()[-1], result.model.get_weights()[-1])
    with pytest.raises(UserError, match="already finished"):
        zoo.train(resume=run_dir, registry=registry)


# ---- user errors leave nothing behind --------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"callbacks": [{"type": "early_stopping", "monitor": "val_acuracy"}]},
            "unknown metric 'val_acuracy'; did you mean 'val_accuracy'",
        ),
        (
            {
                "callbacks": [
                    {"type": "model_checkpoint", "filepath": "w.{epoch}-{val_los:.2f}.weights.h5"}
                ]
            },
            "unknown metric 'val_los'",
        ),
        (
            {"callbacks": [{"type": "csv_logger", "filename": "../outside.csv"}]},
            "must stay inside the run folder",
        ),
        (
            {"training": {"phases": [{"epochs": 1, "learning_rate": 0.001, "unfreeze": 2}]}},
            "cannot have fine-tuning phases",
        ),
        (
            {"training": {"optimizer": {"name": "adam", "momentum": 0.9}}},
            "momentum applies to sgd and rmsprop",
        ),
        (
            {
                "training": {"schedule": {"name": "cosine"}},
                "callbacks": [{"type": "reduce_lr_on_plateau"}],
            },
            "keep one",
        ),
    ],
)
def test_mistakes_are_user_errors_and_make_no_run_folder(tmp_path, extra, message):
    with pytest.raises(UserError) as info:
        zoo.train(tiny_spec(**extra), out=tmp_path / "runs")
    assert message in str(info.value)
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(HAS_TENSORBOARD, reason="tensorboard is installed")
def test_tensorboard_without_the_package_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="pip install tensorboard"):
        zoo.train(tiny_spec(callbacks=[{"type": "tensorboard"}]), out=tmp_path)


def test_missing_run_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such run folder"):
        zoo.load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a run folder"):
        zoo.evaluate_run(tmp_path / "empty")


# ---- compile-time choices, without training ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls", "options"),
    [
        ("sgd", "SGD", {"momentum": 0.9, "nesterov": True}),
        ("adagrad", "Adagrad", {}),
        ("rmsprop", "RMSprop", {"momentum": 0.5}),
        ("adam", "Adam", {"clipnorm": 1.0}),
        ("adamw", "AdamW", {"weight_decay": 0.01}),
    ],
)
def test_optimizers(name, cls, options):
    training = TrainingSpec(optimizer={"name": name, "learning_rate": 0.01, **options})
    opt = make_optimizer(training.optimizer)
    assert type(opt).__name__ == cls
    assert float(np.asarray(opt.learning_rate)) == pytest.approx(0.01)
    for key, value in options.items():
        assert getattr(opt, key) == pytest.approx(value)


@pytest.mark.parametrize(
    ("training", "activation", "classes", "expected"),
    [
        ({}, "softmax", 10, ("sparse_categorical_crossentropy", "sparse")),
        (
            {"loss": {"name": "categorical_crossentropy"}},
            "softmax",
            10,
            ("categorical_crossentropy", "one_hot"),
        ),
        (
            {"loss": {"name": "sparse_categorical_crossentropy", "label_smoothing": 0.1}},
            "softmax",
            10,
            ("categorical_crossentropy", "one_hot"),
        ),
        ({"metrics": ["auc"]}, "softmax", 10, ("categorical_crossentropy", "one_hot")),
        ({}, "sigmoid", 1, ("binary_crossentropy", "binary")),
        ({}, "sigmoid", 4, ("binary_crossentropy", "one_hot")),
    ],
)
def test_loss_and_targets_follow_the_data(training, activation, classes, expected):
    objective = choose_objective(TrainingSpec(**training), activation, classes)
    assert (objective.loss_name, objective.targets) == expected


def test_impossible_objectives_are_user_errors():
    with pytest.raises(UserError, match="needs a softmax output"):
        choose_objective(TrainingSpec(loss={"name": "categorical_crossentropy"}), "sigmoid", 3)
    with pytest.raises(UserError, match="top-5 accuracy needs more than 3 classes"):
        choose_objective(TrainingSpec(metrics=[{"name": "top_k_accuracy", "k": 5}]), "softmax", 3)


def test_schedules():
    step = schedule_fn(
        TrainingSpec(schedule={"name": "step", "every_epochs": 2, "factor": 0.1}).schedule, 1.0, 6
    )
    assert [step(e) for e in range(5)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    cosine = schedule_fn(
        TrainingSpec(schedule={"name": "cosine", "alpha": 0.1, "warmup_epochs": 2}).schedule, 1.0, 6
    )
    assert [cosine(e) for e in range(6)] == pytest.approx(
        [
            0.5,
            1.0,
            1.0,
            0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4)),
            0.55,
            0.1 + 0.9 * 0.5 * (1 + math.cos(3 * math.pi / 4)),
        ]
    )
    exp = schedule_fn(
        TrainingSpec(schedule={"name": "exponential", "decay_rate": 0.5}).schedule, 1.0, 3
    )
    assert [exp(e) for e in range(3)] == pytest.approx([1, 0.5, 0.25])


def test_monitor_mode_auto():
    assert monitor_mode("val_loss", "auto") == "min"
    assert monitor_mode("val_accuracy", "auto") == "max"
    assert monitor_mode("acc", "auto") == "max"
    assert monitor_mode("top_3_accuracy", "auto") == "max"
    assert monitor_mode("val_loss", "max") == "max"
