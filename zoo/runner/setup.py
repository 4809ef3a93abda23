"""Everything a run trains with, made before its folder exists: :func:`set_up`.

Seeds, the prepared data and its pipelines, the strategy, the model, the objective and the
class weights. A mistake found here (a monitor the spec does not log, a model with the wrong
number of outputs, an unknown class in ``class_weight``) is a located error and no run folder
is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zoo.data.hosts import HostShare
from zoo.data.pipeline import build_pipelines
from zoo.data.prepare import prepare_data
from zoo.data.prepared import Pipelines, PreparedData
from zoo.errors import Problem, UserError
from zoo.record.run import RunRecord
from zoo.runner.aux_outputs import with_auxiliary_losses
from zoo.runner.build import build_model
from zoo.runner.compile import Objective, choose_objective, make_loss, with_targets
from zoo.runner.distribute import clear_keras_session, float32_outputs, make_strategy, precision
from zoo.runner.even_batches import even_batches
from zoo.runner.reproducibility import seed_everything
from zoo.spec.callback_checks import check_callbacks
from zoo.spec.loader import LoadedSpec
from zoo.spec.sections import ClassWeight, SpecBase


@dataclass
class Workbench:
    """The data, pipelines, model and objective of one run, and how it feeds the model."""

    loaded: LoadedSpec
    deterministic: bool
    prepared: PreparedData
    pipelines: Pipelines
    strategy: Any  # a tf.distribute strategy or zoo.runner.distribute.KerasDistribution
    model: Any  # the keras.Model being trained (with any auxiliary outputs)
    objective: Objective
    class_weight: dict[int, float] | None
    train_ds: Any = None
    val_ds: Any = None
    train_first: int = 0  # the epoch train_ds starts at
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_validation(self) -> bool:
        return self.prepared.validation is not None and len(self.prepared.validation) > 0

    @property
    def replicas(self) -> int:
        """Devices a keras.distribution shards every batch over (1: no even batches needed)."""
        if getattr(self.strategy, "distribution", None) is None:
            return 1
        return int(getattr(self.strategy, "num_replicas_in_sync", 1))

    def even(self, dataset: Any, class_weight: dict[int, float] | None = None) -> Any:
        """Batches padded to divide by the devices (class weights as sample weights)."""
        return even_batches(
            dataset, self.replicas, class_weight, self.strategy.processes, self.strategy.process_id
        )

    @property
    def share(self) -> HostShare | None:
        """This host's share of every global batch in a run over several hosts, else None."""
        return host_share(self.strategy)

    def feed(self, dataset: Any, training: bool) -> Any:
        """A split as fit/evaluate take it: targets, and under keras.distribution batches
        padded to divide by the devices (class weights then travel as sample weights)."""
        if self.replicas > 1:
            dataset = self.even(dataset, self.class_weight if training else None)
        return with_targets(dataset, self.objective)

    def train_from(self, epoch: int) -> Any:
        """Training batches from ``epoch`` on: each epoch's order and augmentation come from
        (seed, epoch) alone, so a resumed run or a later phase sees what one uninterrupted
        run would."""
        if epoch != self.train_first:
            scaling = self.pipelines.scaling
            train = build_pipelines(
                self.prepared,
                self.loaded,
                scaling_state=scaling.state(),
                first_epoch=epoch,
                share=self.share,
            ).train
            self.train_ds = self.feed(train, training=True)
            self.train_first = epoch
        return self.train_ds


def host_share(strategy: Any) -> HostShare | None:
    """A multi-host run's share for this process (each host reads only its rows), or None."""
    hosts = int(getattr(strategy, "processes", 1))
    if hosts <= 1:
        return None
    return HostShare(hosts, int(strategy.process_id), int(strategy.num_replicas_in_sync))


def check_same_hosts(record: RunRecord, hosts: int, loaded: LoadedSpec) -> None:
    """Each host augments its own rows with seeds of its own, so a run resumed on another
    number of hosts would go on with other batches than it started with."""
    started = record.strategy.hosts
    if started == hosts:
        return
    raise UserError(
        [
            Problem(
                f"the run trained on {started} host{'s' if started > 1 else ''} and would "
                f"resume on {hosts}: each host reads and augments its own share of every "
                f"batch, so resume it on {started} (KERAS_DISTRIBUTION_NUM_PROCESSES={started})",
                loaded.file,
            )
        ]
    )


def threshold_problems(spec: SpecBase, has_validation: bool, num_classes: int) -> list[Problem]:
    """A decision threshold needs two classes, and choosing one needs a validation split."""
    threshold = spec.evaluation.threshold
    if threshold is None:
        return []
    if num_classes != 2:
        return [
            Problem(
                f"a threshold applies to two classes; the data has {num_classes} (remove "
                "evaluation.threshold: the most probable class is the answer)",
                key_path="evaluation.threshold",
            )
        ]
    if not isinstance(threshold, float) and not has_validation:
        return [
            Problem(
                "choosing a threshold needs a validation split (set data.split.validation, "
                "or give the threshold as a number)",
                key_path="evaluation.threshold",
            )
        ]
    return []


def check_same_data(record: RunRecord, prepared: PreparedData, loaded: LoadedSpec) -> None:
    """A resumed run must go on with the images it started with: a changed file, label or
    split would make it a different run that looks like the same one."""
    if record.data is None:  # recorded by an older zoo
        return
    changed = [
        split
        for split, fingerprint in record.data.splits.items()
        if prepared.fingerprints.get(split) != fingerprint
    ]
    if changed:
        raise UserError(
            [
                Problem(
                    f"the data changed since the run started (the {', '.join(changed)} split "
                    f"{'differs' if len(changed) == 1 else 'splits differ'}: a file, label or "
                    "split seed is not what it was); resuming would mix two data sets, so "
                    "train a new run instead",
                    loaded.file,
                )
            ]
        )


def set_up(loaded: LoadedSpec, record: RunRecord | None) -> Workbench:
    """Seed, prepare the data, build pipelines and the model (``record``: the run being
    resumed, whose scaling state is restored rather than fitted again)."""
    spec = loaded.spec
    clear_keras_session()
    deterministic = seed_everything(spec.seed)
    prepared = prepare_data(loaded)
    if record is not None:
        check_same_data(record, prepared, loaded)
    has_validation = prepared.validation is not None and len(prepared.validation) > 0
    problems = check_callbacks(spec, has_validation, prepared.num_classes)
    problems += threshold_problems(spec, has_validation, prepared.num_classes)
    if problems:
        raise loaded.located(problems)
    strategy = make_strategy(spec.training.distribute, spec.runtime)
    if record is not None:
        check_same_hosts(record, int(getattr(strategy, "processes", 1)), loaded)
    state = record.scaling.state if record is not None else None
    pipelines = build_pipelines(
        prepared, loaded, scaling_state=state, first_epoch=0, share=host_share(strategy)
    )
    mixed = spec.training.distribute.mixed_precision
    with precision(mixed), strategy.scope():
        model = build_model(
            loaded, num_classes=prepared.num_classes, image_shape=prepared.image_shape
        )
        model = float32_outputs(model) if mixed else model
    units = int(model.outputs[0].shape[-1])
    binary = spec.model.output_activation == "sigmoid" and units == 1
    if not binary and units != prepared.num_classes:
        raise loaded.located(
            [
                Problem(
                    f"the model has {units} outputs but the data has {prepared.num_classes} "
                    "classes",
                    key_path="model.num_classes",
                )
            ]
        )
    objective = choose_objective(spec.training, spec.model.output_activation, units)
    if len(model.outputs) > 1:
        model = _with_auxiliary_outputs(loaded, model, objective, strategy)
    weights = class_weights(spec.training.class_weight, prepared, loaded)
    if weights and len(model.outputs) > 1:
        raise loaded.located(
            [
                Problem(
                    "class_weight needs a model with one output (this one has "
                    f"{len(model.outputs)}: auxiliary classifiers)",
                    key_path="training.class_weight",
                )
            ]
        )
    bench = Workbench(
        loaded, deterministic, prepared, pipelines, strategy, model, objective, weights
    )
    bench.train_ds = bench.feed(pipelines.train, training=True)
    validation = pipelines.validation_share or pipelines.validation  # each epoch: a share
    if has_validation and validation is not None:
        bench.val_ds = bench.feed(validation, training=False)
    return bench


def _with_auxiliary_outputs(
    loaded: LoadedSpec, model: Any, objective: Objective, strategy: Any
) -> Any:
    """A model with auxiliary outputs trains them all with the plugin's loss weights."""
    entry = loaded.entry("model")
    assert entry.capabilities.loss_weights is not None  # build_model checked it
    weights = entry.capabilities.loss_weights(loaded.spec.model.params)
    with strategy.scope():
        return with_auxiliary_losses(model, weights or {}, make_loss(objective), entry.owner)


def class_weights(
    setting: ClassWeight | None, prepared: PreparedData, loaded: LoadedSpec
) -> dict[int, float] | None:
    """``training.class_weight`` as Keras wants it: {class index: weight}, every class.

    balanced: total / (classes x count) over the training split (scikit-learn's formula);
    a class without training images weighs 1. A mapping names classes; unlisted ones weigh
    1, unknown names are a located error listing the classes.
    """
    if setting is None:
        return None
    names = list(prepared.class_names)
    if setting == "balanced":
        counts = np.bincount(
            np.asarray(prepared.train.labels, dtype=np.int64), minlength=len(names)
        )
        total = float(counts.sum())
        return {i: (total / (len(names) * int(c)) if c else 1.0) for i, c in enumerate(counts)}
    assert isinstance(setting, dict)
    unknown = [k for k in setting if k not in names]
    if unknown:
        shown = ", ".join(names[:50]) + (", ..." if len(names) > 50 else "")
        raise loaded.located(
            [
                Problem(
                    f"unknown class '{k}' (the data's classes: {shown})",
                    key_path=f"training.class_weight.{k}",
                )
                for k in unknown
            ]
        )
    return {i: float(setting.get(name, 1.0)) for i, name in enumerate(names)}
