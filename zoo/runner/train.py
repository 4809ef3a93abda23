"""``zoo.train(spec)``: from a validated spec to a trained model and a complete run folder.

Order of work, so that a mistake never leaves a half-made run behind:

1. load and check the spec (optimizer options, callbacks' monitors and file names);
2. seed everything, load and split the data, build the pipelines, the model, the loss;
3. only then create the run folder, write the resolved spec and ``run.json``;
4. train phase by phase (fine-tuning phases recompile with their own learning rate),
   writing ``history.csv`` and a backup of the whole training state after every epoch;
5. save ``model.keras``, evaluate on the test split, write ``metrics.json``,
   ``curves.png`` and ``confusion_matrix.png``; drop the backup; mark the run finished.

A :class:`~zoo.errors.UserError` raised after step 3 removes the new run folder. Any other
interruption (a crash, Ctrl-C, a kill) leaves it, resumable with ``resume=RUN`` /
``zoo train --resume RUN``.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import Problem, UserError
from zoo.io import atomic_save, atomic_write_json
from zoo.runner import rundir
from zoo.runner.results import TrainResult


@dataclass(frozen=True)
class Phase:
    """One ``model.fit`` call: phase 0 is ``training.epochs``; then ``training.phases``."""

    index: int
    epochs: int
    learning_rate: float
    unfreeze: int | str | None


def phases_of(training: Any) -> list[Phase]:
    out = [Phase(0, training.epochs, training.optimizer.learning_rate, None)]
    for i, p in enumerate(training.phases, start=1):
        out.append(Phase(i, p.epochs, p.learning_rate, p.unfreeze))
    return out


# ---- the spec ---------------------------------------------------------------------------


def load(spec: Any, overrides: Sequence[str] = (), registry: Any = None) -> Any:
    """A LoadedSpec from a path, a LoadedSpec, a Spec model or a plain mapping."""
    import yaml

    from zoo.spec import LoadedSpec, load_spec, load_spec_text

    if isinstance(spec, (str, Path)):
        return load_spec(spec, overrides, registry)
    if isinstance(spec, LoadedSpec) and not overrides:
        return spec
    if isinstance(spec, LoadedSpec):
        file = str(spec.path) if spec.path else "<spec>"
        loaded = load_spec_text(yaml.safe_dump(spec.raw), file, overrides, registry)
        return loaded
    if isinstance(spec, dict):
        return load_spec_text(yaml.safe_dump(spec), "<spec>", overrides, registry)
    if hasattr(spec, "model_dump"):
        return load_spec_text(
            yaml.safe_dump(spec.model_dump(mode="json")), "<spec>", overrides, registry
        )
    raise TypeError(
        f"train() takes a spec path, LoadedSpec, Spec or dict; got {type(spec).__name__}"
    )


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if a == b else [path or "(root)"]


def located(problems: list[Problem], loaded: Any) -> UserError:
    """A UserError whose problems name the spec file they are about."""
    file = str(loaded.path) if loaded.path else None
    return UserError(
        [p if p.file or not file else dataclasses.replace(p, file=file) for p in problems]
    )


def _static_problems(spec: Any, registry: Any) -> list[Problem]:
    problems: list[Problem] = []
    if spec.training.phases:
        entry = registry.get(spec.model.architecture, "architecture")
        if not callable(entry.extra.get("set_trainable")):
            problems.append(
                Problem(
                    f"architecture '{entry.name}' has no layers to freeze or "
                    "unfreeze, so it cannot have fine-tuning phases",
                    key_path="training.phases",
                )
            )
    return problems


def _verbose(setting: Any) -> int:
    if setting == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(setting)


# ---- training ---------------------------------------------------------------------------


def train(
    spec: Any = None,
    *,
    out: str | Path | None = None,
    run_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    registry: Any = None,
    verbose: int | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Train what ``spec`` describes and write a run folder; returns a :class:`TrainResult`.

    :param spec: a spec file path, a ``LoadedSpec``, a Spec model or a mapping. With
        ``resume`` it may be left out (the run's own spec is used); if given, it must
        resolve to the same spec as the run's.
    :param out: the folder that holds run folders (default ``runs``); a new
        ``<name>-<timestamp>`` folder is made inside, never reusing an existing one.
    :param run_dir: the exact folder for the run instead (must not exist yet).
    :param overrides: ``key.path=value`` strings, validated like the file.
    :param resume: an unfinished run folder to continue from its last backup.
    :param verbose: Keras progress (0 silent, 1 bar, 2 a line per epoch); default from the
        spec (``auto``: a bar on a terminal, a line per epoch otherwise).
    :param callbacks: extra ``keras.callbacks.Callback`` objects, called before the spec's.
    """
    started = time.perf_counter()
    if registry is None:
        from zoo.plugin_manager import default_registry

        registry = default_registry()
    info: dict[str, Any] | None = None
    if resume is not None:
        resume = Path(resume)
        info = rundir.read_info(resume)
        if info.get("status") == "finished":
            raise UserError([Problem("this run already finished; start a new one", str(resume))])
        loaded = load(resume / rundir.SPEC_FILE, (), registry)
        if spec is not None:
            given = load(spec, overrides, registry)
            diff = _differences(given.resolved(), loaded.resolved())
            if diff:
                raise UserError(
                    [
                        Problem(
                            "the spec differs from the run's spec at: "
                            + ", ".join(diff[:10])
                            + "; resume with the run's own spec (leave SPEC out)",
                            str(resume),
                        )
                    ]
                )
        spec_dir = Path(info.get("spec_dir") or resume)
    else:
        if spec is None:
            raise UserError("train() needs a spec (or resume=RUN)")
        loaded = load(spec, overrides, registry)
        spec_dir = (loaded.path.parent if loaded.path else Path.cwd()).resolve()
    s = loaded.spec
    problems = _static_problems(s, registry)
    if problems:
        raise located(problems, loaded)
    session = _Session(loaded, registry, spec_dir, info, verbose, list(callbacks))
    session.prepare()
    session.open_run_dir(out, run_dir, resume)
    try:
        session.fit_all()
        return session.finish(started)
    except UserError:
        session.discard()
        raise
    except KeyboardInterrupt:
        sys.stderr.write(
            f"\nzoo: training interrupted; continue it with: zoo train --resume {session.run_dir}\n"
        )
        raise


class _Session:
    """The state of one training run between the steps of :func:`train`."""

    def __init__(
        self,
        loaded: Any,
        registry: Any,
        spec_dir: Path,
        info: dict | None,
        verbose: int | None,
        extra_callbacks: list[Any],
    ) -> None:
        self.loaded, self.spec, self.registry = loaded, loaded.spec, registry
        self.spec_dir = spec_dir
        self.info = info  # run.json of the run being resumed
        self.verbose = _verbose(self.spec.training.verbose) if verbose is None else verbose
        self.created = False
        self.history_rows: list[dict[str, Any]] = []
        self.extra_callbacks = extra_callbacks

    # -- step 2: data, pipelines, model ---------------------------------------------------
    def prepare(self) -> None:
        from zoo.data.pipeline import build_pipelines
        from zoo.data.prepare import prepare_data
        from zoo.runner.build import build_model
        from zoo.runner.callbacks import check_callbacks
        from zoo.runner.compile import choose_objective, metric_name, targets_fn
        from zoo.runner.distribute import (
            clear_keras_session,
            float32_outputs,
            make_strategy,
            precision,
        )
        from zoo.runner.reproducibility import seed_everything

        s = self.spec
        clear_keras_session()
        self.deterministic = seed_everything(s.seed)
        self.prepared = prepare_data(s, self.registry, spec_dir=self.spec_dir)
        p = self.prepared
        self.has_validation = p.validation is not None and len(p.validation) > 0
        names = [metric_name(m) for m in s.training.metrics]
        problems = check_callbacks(s, names, self.has_validation)
        if problems:
            raise located(problems, self.loaded)
        self.strategy = make_strategy(s.training.distribute)
        state = ((self.info or {}).get("scaling") or {}).get("state")
        self.pipelines = build_pipelines(
            p, s, self.registry, batch_size=s.training.batch_size, scaling_state=state
        )
        mixed = s.training.distribute.mixed_precision
        with precision(mixed), self.strategy.scope():
            model = build_model(
                s, self.registry, num_classes=p.num_classes, image_shape=p.image_shape
            )
            self.model = float32_outputs(model) if mixed else model
        units = int(self.model.outputs[0].shape[-1])
        binary = s.model.output_activation == "sigmoid" and units == 1
        if not binary and units != p.num_classes:
            raise UserError(
                [
                    Problem(
                        f"the model has {units} outputs but the data has {p.num_classes} classes",
                        key_path="model.num_classes",
                    )
                ]
            )
        self.objective = choose_objective(s.training, s.model.output_activation, units)
        fn = targets_fn(self.objective)
        pl = self.pipelines
        self.train_ds = pl.train.map(fn) if fn else pl.train
        self.val_ds = None
        if self.has_validation and pl.validation is not None:
            self.val_ds = pl.validation.map(fn) if fn else pl.validation

    # -- step 3: the run folder -----------------------------------------------------------
    def open_run_dir(
        self, out: str | Path | None, run_dir: str | Path | None, resume: Path | None
    ) -> None:
        s = self.spec
        if resume is not None:
            self.run_dir = resume
            info = dict(self.info or {})
            info["status"] = "running"
            info.setdefault("resumed", []).append(rundir.now())
        else:
            if run_dir is not None:
                self.run_dir = Path(run_dir)
                try:
                    self.run_dir.mkdir(parents=True)
                except FileExistsError:
                    raise UserError(
                        [Problem("already exists; a run never reuses a folder", str(self.run_dir))]
                    ) from None
            else:
                self.run_dir = rundir.create_run_dir(out or rundir.DEFAULT_RUNS_DIR, s.name)
            self.created = True
            rundir.write_spec(self.run_dir, self.loaded.resolved())
            info = self._new_info()
        self.run_info = info
        rundir.write_info(self.run_dir, info)

    def _new_info(self) -> dict[str, Any]:
        s, p = self.spec, self.prepared
        scaling = self.pipelines.scaling
        return {
            "format": rundir.RUN_FORMAT,
            "name": s.name,
            "status": "running",
            "created": rundir.now(),
            "spec_version": s.spec_version,
            "seed": s.seed,
            "deterministic": self.deterministic,
            "spec_dir": str(self.spec_dir),
            "versions": rundir.versions(),
            "plugins": rundir.plugins_used(s, self.registry),
            "class_names": list(p.class_names),
            "image_shape": list(p.image_shape),
            "resize": s.data.resize,
            "sizes": {k: len(v) for k, v in p.splits().items()},
            "skipped_files": list(p.skipped),
            "scaling": {"recipe": s.scaling.recipe, "state": scaling.state() if scaling else None},
            "objective": self.objective.describe(),
            "strategy": {
                "name": s.training.distribute.strategy,
                "replicas": int(self.strategy.num_replicas_in_sync),
                "mixed_precision": s.training.distribute.mixed_precision,
            },
            "epochs_done": 0,
            "best_checkpoint": None,
        }

    # -- step 4: training -----------------------------------------------------------------
    def fit_all(self) -> None:
        from zoo.runner.callbacks import Backup, make_checkpoint
        from zoo.runner.compile import compile_model

        s = self.spec
        backup_dir = next(
            (c.backup_dir for c in s.callbacks if c.type == "backup_and_restore"),
            rundir.DEFAULT_BACKUP_DIR,
        )
        self.backup = Backup(self.run_dir / backup_dir)
        self.checkpoints = [
            make_checkpoint(c, self.run_dir) for c in s.callbacks if c.type == "model_checkpoint"
        ]
        if not any(c.spec.save_best_only for c in self.checkpoints):
            from zoo.spec.sections import ModelCheckpointCallback

            monitor = "val_loss" if self.has_validation else "loss"
            default = ModelCheckpointCallback(
                type="model_checkpoint", monitor=monitor, filepath="checkpoints/best.weights.h5"
            )
            self.checkpoints.append(make_checkpoint(default, self.run_dir, lazy=True))

        restore = self.backup.load() if self.info is not None and self.backup.exists() else None
        first, epoch = 0, 0
        if restore is not None:
            meta, arrays = restore
            self.history_rows = list(meta.get("history", []))
            first, epoch = int(meta["phase"]), int(meta["next_epoch"])
            Backup.restore_callbacks(self.checkpoints, meta, arrays)  # they come first
            if meta.get("phase_done"):
                first += 1
        for phase in phases_of(s.training)[first:]:
            same = (
                restore is not None
                and int(restore[0]["phase"]) == phase.index
                and not restore[0].get("phase_done")
            )
            start = int(restore[0]["phase_start"]) if same else epoch  # type: ignore[index]
            if phase.unfreeze is not None:
                entry = self.registry.get(s.model.architecture, "architecture")
                entry.extra["set_trainable"](self.model, phase.unfreeze)
            with self.strategy.scope():
                compile_model(self.model, s.training, self.objective, phase.learning_rate)
                if restore is not None:
                    Backup.restore_model(self.model, restore[1], with_optimizer=same)
            self._fit(phase, start, epoch, restore if same else None)
            restore = None
            epoch = int(self.history_rows[-1]["epoch"]) if self.history_rows else epoch
        if restore is not None:  # killed after the last phase ended, before the model was saved
            Backup.restore_model(self.model, restore[1], with_optimizer=False)

    def _fit(self, phase: Phase, start: int, initial: int, restore: Any) -> None:
        import keras

        from zoo.runner.callbacks import (
            inside,
            make_backup_callback,
            make_history_writer,
            normalize_monitor,
        )
        from zoo.runner.compile import monitor_mode, schedule_fn

        s = self.spec
        end = start + phase.epochs
        if initial >= end:
            return
        rows = self.history_rows
        callbacks: list[Any] = list(self.extra_callbacks)
        stateful: list[Any] = list(self.checkpoints)
        csv_paths = [self.run_dir / rundir.HISTORY_FILE]
        schedule = s.training.schedule
        for i, c in enumerate(s.callbacks):
            key = f"callbacks.{i}"
            if c.type == "reduce_lr_on_plateau":
                m = normalize_monitor(c.monitor)
                cb = keras.callbacks.ReduceLROnPlateau(
                    monitor=m,
                    factor=c.factor,
                    patience=c.patience,
                    mode=monitor_mode(m, c.mode),
                    min_lr=c.min_lr,
                )
                stateful.append(cb)
                callbacks.append(cb)
            elif c.type == "early_stopping":
                m = normalize_monitor(c.monitor)
                cb = keras.callbacks.EarlyStopping(
                    monitor=m,
                    patience=c.patience,
                    min_delta=c.min_delta,
                    mode=monitor_mode(m, c.mode),
                    restore_best_weights=c.restore_best_weights,
                )
                stateful.append(cb)
                callbacks.append(cb)
            elif c.type == "learning_rate_scheduler":
                schedule = c.schedule
            elif c.type == "tensorboard":
                callbacks.append(
                    keras.callbacks.TensorBoard(
                        log_dir=str(inside(self.run_dir, c.log_dir, f"{key}.log_dir")),
                        histogram_freq=c.histogram_freq,
                    )
                )
            elif c.type == "csv_logger":
                csv_paths.append(inside(self.run_dir, c.filename, f"{key}.filename"))
        if schedule is not None:
            fn = schedule_fn(schedule, phase.learning_rate, phase.epochs)
            callbacks.insert(
                len(self.extra_callbacks),
                keras.callbacks.LearningRateScheduler(lambda epoch, lr: fn(epoch - start)),
            )

        def meta(next_epoch: int | None, done: bool) -> dict[str, Any]:
            return {
                "phase": phase.index,
                "phase_start": start,
                "phase_done": done,
                "next_epoch": next_epoch
                if next_epoch is not None
                else (int(rows[-1]["epoch"]) if rows else initial),
                "history": rows,
            }

        callbacks += self.checkpoints
        callbacks.append(make_history_writer(csv_paths, rows, phase.index))
        callbacks.append(make_backup_callback(self.backup, meta, stateful, restore))
        self.model.fit(
            self.train_ds,
            validation_data=self.val_ds,
            epochs=end,
            initial_epoch=initial,
            callbacks=callbacks,
            verbose=self.verbose,
            shuffle=False,
        )

    # -- step 5: model, evaluation, pictures ----------------------------------------------
    def finish(self, started: float) -> TrainResult:
        from zoo.runner.artifacts import plot_confusion, plot_curves
        from zoo.runner.callbacks import read_history
        from zoo.runner.evaluate import evaluate_model

        run = self.run_dir
        atomic_save(run / rundir.MODEL_FILE, lambda tmp: self.model.save(str(tmp)))
        for checkpoint in self.checkpoints:
            checkpoint.flush()
        pl = self.pipelines
        split, ds = ("test", pl.test) if pl.test is not None else ("validation", pl.validation)
        evaluation = None
        metrics: dict[str, Any] = {}
        if ds is not None:
            evaluation = evaluate_model(
                self.model, ds, self.objective, self.prepared.class_names, split
            )
            metrics = {
                "split": split,
                "count": evaluation.count,
                split: evaluation.metrics,
                "per_class": evaluation.per_class,
                "confusion_matrix": evaluation.confusion_matrix,
                "class_names": evaluation.class_names,
            }
        history = (
            read_history(run / rundir.HISTORY_FILE) if (run / rundir.HISTORY_FILE).exists() else {}
        )
        if self.history_rows:
            last = self.history_rows[-1]
            metrics["final_epoch"] = {k: v for k, v in last.items() if k not in ("epoch", "phase")}
        seconds = time.perf_counter() - started
        metrics["epochs"] = len(self.history_rows)
        atomic_write_json(run / rundir.METRICS_FILE, metrics)
        if history:
            plot_curves(history, run / rundir.CURVES_FILE, title=self.spec.name)
        if evaluation is not None:
            plot_confusion(
                evaluation.confusion_matrix,
                evaluation.class_names,
                run / rundir.CONFUSION_FILE,
                title=f"{self.spec.name}: {split} set",
            )
        best = next(
            (c.best_path for c in self.checkpoints if c.spec.save_best_only and c.best_path), None
        )
        info = dict(self.run_info)
        info.update(
            status="finished",
            finished=rundir.now(),
            epochs_done=len(self.history_rows),
            best_checkpoint=best,
        )
        info["train_seconds"] = round(info.get("train_seconds", 0) + seconds, 3)
        rundir.write_info(run, info)
        shutil.rmtree(self.backup.directory, ignore_errors=True)
        files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
        return TrainResult(
            run_dir=run,
            history=history,
            metrics=metrics,
            evaluation=evaluation,
            epochs=len(self.history_rows),
            seconds=seconds,
            files=files,
            model=self.model,
        )

    def discard(self) -> None:
        """A user error after the folder was made: leave nothing half-written behind."""
        if self.created and getattr(self, "run_dir", None) is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
