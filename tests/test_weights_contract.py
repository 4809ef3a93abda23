"""The weights contract, against the weights each epoch really had.

``checkpoints/last.weights.h5`` must hold the last trained epoch's weights and the best
checkpoint the best epoch's by its monitor, whatever early stopping restores; the record
(metrics.json) must name both epochs, and ``model.keras`` must hold the ones it says it
kept. Every combination: early stopping restoring or not, a spec checkpoint or the run's
own, ``evaluation.weights`` best/last/auto, one phase or two.

Early stopping and the spec's checkpoint watch ``val_accuracy`` in ``min`` mode: accuracy
rises from epoch 1, so the "best" epoch is the first and training stops after patience
epochs. Best and last then differ for sure, which a run trained only to improve would not
guarantee.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.plugin.manager import build_registry

EPOCHS = 6
PATIENCE = 2


def digest(weights: list[np.ndarray]) -> str:
    """A hash of a model's weights that does not depend on their order (a frozen layer's
    variables may come later in the list)."""
    parts = sorted(hashlib.sha256(np.ascontiguousarray(w).tobytes()).hexdigest() for w in weights)
    return hashlib.sha256("".join(parts).encode()).hexdigest()


class EpochWeights:
    """An extra callback (called before the spec's): each epoch's weights, by epoch."""

    def __new__(cls):
        import keras

        class Capture(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.by_epoch: dict[int, str] = {}

            def on_epoch_end(self, epoch, logs=None):
                self.by_epoch[epoch + 1] = digest(self.model.get_weights())

        return Capture()


class TwoPhase:
    """An MLP whose first Dense layer is a 'base' a fine-tuning phase unfreezes."""

    @staticmethod
    def build(params, ctx):
        import keras

        inputs = keras.Input(ctx.input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(16, activation="relu", name="base_dense")(x)
        outputs = keras.layers.Dense(ctx.num_classes, activation=ctx.output_activation)(x)
        model = keras.Model(inputs, outputs, name=ctx.name)
        model.get_layer("base_dense").trainable = False
        return model

    @staticmethod
    def set_trainable(model, unfreeze):
        model.get_layer("base_dense").trainable = unfreeze != "none"
        return int(unfreeze != "none")

    @zoo.hookimpl
    def zoo_register_architectures(self, registry):
        registry.add_architecture(
            "two_phase",
            params=zoo.NoParams,
            factory=self.build,
            description="Test model with a base to unfreeze.",
            set_trainable=self.set_trainable,
        )


REGISTRY = build_registry([("two_phase", TwoPhase())])


def spec(restore: bool, own_checkpoint: bool, setting: str, phases: bool) -> dict:
    callbacks = [
        {
            "type": "early_stopping",
            "monitor": "val_accuracy",
            "mode": "min",
            "patience": PATIENCE,
            "restore_best_weights": restore,
        }
    ]
    if not own_checkpoint:
        callbacks.append(
            {
                "type": "model_checkpoint",
                "monitor": "val_accuracy",
                "mode": "min",
                "filepath": "checkpoints/kept.{epoch:02d}.weights.h5",
            }
        )
    training = {
        "epochs": EPOCHS,
        "batch_size": 32,
        "verbose": 0,
        "optimizer": {"name": "adam", "learning_rate": 0.01},
    }
    if phases:
        training["epochs"] = 2
        training["phases"] = [{"epochs": EPOCHS, "learning_rate": 0.005, "unfreeze": "all"}]
    return {
        "name": "weights",
        "seed": 3,
        "data": {"source": "digits", "params": {"limit": 400}},
        "model": {"architecture": "two_phase" if phases else "mlp"},
        "training": training,
        "callbacks": callbacks,
        "evaluation": {"weights": setting},
    }


def file_digest(run_dir: Path, name: str, model) -> str:
    path = run_dir / name
    if str(path).endswith(".weights.h5"):
        model.load_weights(str(path))
    else:
        import keras

        model.set_weights(keras.saving.load_model(str(path)).get_weights())
    return digest(model.get_weights())


def expected_best(history: dict, monitor: str, mode: str) -> int:
    values = history[monitor]
    pick = np.argmin if mode == "min" else np.argmax
    return int(history["epoch"][int(pick(values))])


CASES = [
    pytest.param(restore, own, setting, False, id=f"restore={restore}-own={own}-{setting}")
    for restore in (True, False)
    for own in (True, False)
    for setting in ("best", "last", "auto")
] + [
    pytest.param(True, False, "auto", True, id="phases-spec-checkpoint"),
    pytest.param(True, True, "last", True, id="phases-own-checkpoint"),
]


@pytest.mark.parametrize(("restore", "own", "setting", "phases"), CASES)
def test_the_files_and_the_record_hold_the_epochs_they_name(
    tmp_path, restore, own, setting, phases
):
    import keras

    capture = EpochWeights()
    result = zoo.train(
        spec(restore, own, setting, phases), out=tmp_path, registry=REGISTRY, callbacks=[capture]
    )
    run = result.run_dir
    record = json.loads((run / "metrics.json").read_text())["weights"]
    history = result.history
    last_epoch = int(history["epoch"][-1])
    assert last_epoch < EPOCHS + (2 if phases else 0)  # early stopping did stop the run
    model = keras.saving.load_model(run / "model.keras")

    # checkpoints/last.weights.h5: the last epoch's weights, whatever early stopping restored
    assert record["last"]["epoch"] == last_epoch
    assert record["last"]["file"] == "checkpoints/last.weights.h5"
    assert record["last"]["metrics"]["val_accuracy"] == history["val_accuracy"][-1]
    assert file_digest(run, record["last"]["file"], model) == capture.by_epoch[last_epoch]

    # the best checkpoint: the best epoch by its monitor, with that epoch's logs
    monitor, mode = ("val_loss", "min") if own else ("val_accuracy", "min")
    best_epoch = expected_best(history, monitor, mode)
    assert record["best"]["epoch"] == best_epoch and record["monitor"] == monitor
    assert record["best"]["metrics"][monitor] == pytest.approx(
        history[monitor][history["epoch"].index(best_epoch)]
    )
    assert file_digest(run, record["best"]["file"], model) == capture.by_epoch[best_epoch]

    # model.keras holds what the record says it kept
    kept = "last" if setting == "last" else "best"  # every monitor here is a validation one
    assert record["kept"] == kept and record["setting"] == setting
    kept_epoch = record[kept]["epoch"]
    saved = digest(keras.saving.load_model(run / "model.keras").get_weights())
    assert saved == capture.by_epoch[kept_epoch]

    # zoo evaluate --weights best|last loads the epochs the record names
    reopened = zoo.load_run(run, registry=REGISTRY)
    for which in ("best", "last"):
        assert reopened.use_weights(which)["epoch"] == record[which]["epoch"]
        assert digest(reopened.model.get_weights()) == capture.by_epoch[record[which]["epoch"]]


SWEEP = """\
spec: {spec}
overrides: [training.verbose=0]
space:
  training.optimizer.learning_rate: {{type: choice, values: [0.01, 0.005]}}
objective: {{metric: accuracy, split: validation, weights: {weights}}}
trials: 2
sampler: {{name: random, seed: 0}}
"""


@pytest.mark.parametrize("weights", ["kept", "last"])
def test_a_sweep_scores_each_trial_by_the_weights_it_kept(tmp_path, weights):
    import csv

    import yaml

    from zoo.sweep import load_sweep, run_sweep

    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(
        yaml.safe_dump(spec(restore=True, own_checkpoint=False, setting="best", phases=False))
    )
    sweep_path = tmp_path / "sweep.yaml"
    sweep_path.write_text(SWEEP.format(spec=spec_path, weights=weights))
    result = run_sweep(load_sweep(sweep_path), tmp_path / "sweep")
    with (tmp_path / "sweep" / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        record = json.loads((Path(row["run_dir"]) / "metrics.json").read_text())["weights"]
        which = "best" if weights == "kept" else "last"  # the trials keep their best epoch
        assert record["kept"] == "best" and record["best"]["epoch"] < record["last"]["epoch"]
        assert float(row["value"]) == pytest.approx(record[which]["metrics"]["val_accuracy"])
        assert row["weights"] == weights and int(row["epoch"]) == record[which]["epoch"]
    best = max(rows, key=lambda r: float(r["value"]))
    assert result.best_run == best["run_dir"]
