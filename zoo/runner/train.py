"""``zoo.train(spec)``: from a validated spec to a trained model and a complete run folder.

Order of work, so that a mistake never leaves a half-made run behind:

1. load and check the spec (optimizer options, callbacks' monitors and file names);
2. seed everything, load and split the data, build the pipelines, the model, the loss;
3. only then create the run folder, write the resolved spec and ``run.json``;
4. train phase by phase (fine-tuning phases recompile with their own learning rate),
   writing ``history.csv`` after every epoch and a backup of the whole training state
   as ``training.backup`` says (and at the end of each phase);
5. save ``model.keras``, evaluate on the test split, write ``metrics.json``,
   ``curves.png`` and ``confusion_matrix.png``; drop the backup; mark the run finished.

The process holds the run's lock (:class:`zoo.runner.rundir.RunLock`) from step 3 (from
the start when resuming) to the end, and ``run.json`` records how the run ended: a
:class:`~zoo.errors.UserError` before the first epoch removes the new run folder; a NaN
loss or a crash marks it ``failed`` with the reason, Ctrl-C or a full disk ``interrupted``;
a kill leaves it ``running`` with its lock free, which reads as interrupted. Whatever
stopped it, ``resume=RUN`` / ``zoo train --resume RUN`` finishes it, ending exactly where an
uninterrupted run would.
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

from zoo.backend import input_pipeline
from zoo.errors import Problem, UserError
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
    lock: rundir.RunLock | None = None
    if resume is not None:
        resume = Path(resume)
        rundir.read_info(resume)  # a missing or damaged run is a clear error before the lock
        lock = rundir.RunLock.acquire(resume)  # refuses a run another process trains
    session: _Session | None = None
    try:
        if resume is not None:
            info, loaded = _resumable(resume, spec, overrides, registry)
            spec_dir = Path(info.get("spec_dir") or resume)
        else:
            if spec is None:
                raise UserError("train() needs a spec (or resume=RUN)")
            if out is not None and run_dir is None:
                rundir.check_out_dir(out)
            loaded = load(spec, overrides, registry)
            spec_dir = (loaded.path.parent if loaded.path else Path.cwd()).resolve()
        _use_backend(loaded, info, resume)
        session = _Session(loaded, registry, spec_dir, info, verbose, list(callbacks))
        session.lock = lock
        session.prepare()
        session.open_run_dir(out, run_dir, resume)
        from zoo.tracking import run_tracked  # the ZOO_TRACKING trackers; unset: just runs

        return run_tracked(session, started)
    finally:
        held = session.lock if session is not None else lock
        if held is not None:
            held.release()
        strategy = getattr(session, "strategy", None)
        if hasattr(strategy, "close"):
            strategy.close()


def _use_backend(loaded: Any, info: dict[str, Any] | None, run: Path | None) -> None:
    """Switch Keras to the spec's backend before anything imports it; a resumed run keeps
    the backend it started on (its optimizer state and random streams belong to it)."""
    from zoo import backend

    key = "runtime.backend"
    if info is not None:
        wanted = str(info.get("backend") or backend.DEFAULT_BACKEND)
        problems = backend.problems_for(wanted, key)
        if problems:
            raise UserError([Problem(f"the run trained on '{wanted}': {p.message}",
                                     str(run)) for p in problems])
        backend.activate(wanted, key)
        _join_hosts(loaded)
        return
    try:
        backend.activate(backend.requested(loaded.spec.runtime.backend), key)
    except UserError as exc:
        raise located(exc.problems, loaded) from None
    _join_hosts(loaded)


def _join_hosts(loaded: Any) -> None:
    """A multi-host JAX run joins its peers before JAX computes anything."""
    from zoo.runner.distribute import initialize_hosts

    try:
        initialize_hosts(loaded.spec.runtime)
    except UserError as exc:
        raise located(exc.problems, loaded) from None


def _resumable(
    run: Path, spec: Any, overrides: Sequence[str], registry: Any
) -> tuple[dict[str, Any], Any]:
    """run.json and the spec of a run to resume (read under its lock), or a UserError."""
    info = rundir.read_info(run)
    if info["status"] == rundir.FINISHED:
        if info.get("backup_dir") and (run / info["backup_dir"]).exists():
            rundir.remove_backup(run, info["backup_dir"])  # killed just after it finished
        raise UserError([Problem("this run already finished; start a new one", str(run))])
    rundir.check_spec_unchanged(run, info)
    if info.get("backup_dir"):
        from zoo.runner.callbacks import Backup

        backup = Backup(run / info["backup_dir"])
        if backup.exists():
            backup.load()  # a damaged backup: a clear error now, before data and model
    loaded = load(run / rundir.SPEC_FILE, (), registry)
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
                        str(run),
                    )
                ]
            )
    return info, loaded


def _say_resumed(backed_up: int, recorded: int) -> None:
    """On stderr: the epoch the backup holds, and the epochs after it trained again."""
    where = f"epoch {backed_up}" if backed_up else "the start (no backup yet)"
    lost = (
        f"; epoch {recorded} is trained again" if recorded == backed_up + 1
        else f"; epochs {backed_up + 1}-{recorded} are trained again" if recorded > backed_up
        else ""
    )
    sys.stderr.write(f"zoo: resumed from {where}{lost}\n")


def _backend_name() -> str:
    import keras

    return str(keras.backend.backend())


def _backup_dir(spec: Any) -> str:
    return next(
        (c.backup_dir for c in spec.callbacks if c.type == "backup_and_restore"),
        rundir.DEFAULT_BACKUP_DIR,
    )


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
        loaded.spec_dir = spec_dir  # a resumed run's spec lives in the run: paths start here
        self.info = info  # run.json of the run being resumed
        self.verbose = _verbose(self.spec.training.verbose) if verbose is None else verbose
        self.quiet = verbose == 0  # asked for no progress output (zoo train --quiet)
        self.created = False
        self.history_rows: list[dict[str, Any]] = []
        self.extra_callbacks = extra_callbacks
        self.lock: rundir.RunLock | None = None
        self.train_first = 0  # the epoch self.train_ds starts at

    # -- step 2: data, pipelines, model ---------------------------------------------------
    def prepare(self) -> None:
        from zoo.data.pipeline import build_pipelines
        from zoo.data.prepare import prepare_data
        from zoo.runner.build import build_model
        from zoo.runner.callbacks import check_callbacks
        from zoo.runner.compile import choose_objective, metric_name
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
        self.strategy = make_strategy(s.training.distribute, s.runtime)
        state = ((self.info or {}).get("scaling") or {}).get("state")
        self.pipelines = build_pipelines(
            p, s, self.registry, batch_size=s.training.batch_size, scaling_state=state,
            first_epoch=0,
        )
        mixed = s.training.distribute.mixed_precision
        with precision(mixed), self.strategy.scope():
            model = build_model(
                self.loaded, num_classes=p.num_classes, image_shape=p.image_shape
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
        self._train_auxiliary_outputs()
        self.class_weight = class_weights(s.training.class_weight, p, self.loaded)
        if self.class_weight and len(self.model.outputs) > 1:
            raise located([Problem("class_weight needs a model with one output (this one has "
                                   f"{len(self.model.outputs)}: auxiliary classifiers)",
                                   key_path="training.class_weight")], self.loaded)
        pl = self.pipelines
        self.train_ds = self._feed(pl.train, training=True)
        self.val_ds = None
        if self.has_validation and pl.validation is not None:
            self.val_ds = self._feed(pl.validation, training=False)

    @property
    def replicas(self) -> int:
        """Devices a keras.distribution shards every batch over (1: no even batches needed)."""
        return int(getattr(self.strategy, "num_replicas_in_sync", 1)) if getattr(
            self.strategy, "distribution", None) is not None else 1

    def _even(self, dataset: Any, class_weight: dict[int, float] | None = None) -> Any:
        from zoo.runner.even_batches import even_batches

        return even_batches(dataset, self.replicas, class_weight, self.strategy.processes,
                            self.strategy.process_id)

    def _feed(self, dataset: Any, training: bool) -> Any:
        """A split as fit/evaluate take it: targets, and under keras.distribution batches
        padded to divide by the devices (class weights then travel as sample weights)."""
        from zoo.runner.compile import with_targets

        if self.replicas > 1:
            dataset = self._even(dataset, self.class_weight if training else None)
        return with_targets(dataset, self.objective)

    def _train_auxiliary_outputs(self) -> None:
        """A model with auxiliary outputs trains them all with the plugin's loss weights."""
        if len(self.model.outputs) == 1:
            return
        from zoo.runner.aux_outputs import with_auxiliary_losses
        from zoo.runner.compile import make_loss

        entry = self.loaded.entry("model")
        weights = entry.capabilities.loss_weights(self.spec.model.params)  # type: ignore[misc]
        with self.strategy.scope():
            self.model = with_auxiliary_losses(
                self.model, weights or {}, make_loss(self.objective), entry.owner)

    # -- step 3: the run folder -----------------------------------------------------------
    def open_run_dir(
        self, out: str | Path | None, run_dir: str | Path | None, resume: Path | None
    ) -> None:
        s = self.spec
        if resume is not None:
            self.run_dir = resume
            rundir.remove_leftovers(resume)  # temporary files of writes a kill cut short
            info = {k: v for k, v in (self.info or {}).items() if k not in ("reason", "ended")}
            info["status"] = rundir.RUNNING
            info.setdefault("resumed", []).append(rundir.now())
            info.setdefault("backup_dir", _backup_dir(s))
            rundir.write_info(self.run_dir, info)
        else:
            host = int(getattr(self.strategy, "process_id", 0))  # a multi-host run's process
            suffix = f"-host{host}" if host else ""  # each host writes a run folder of its own
            if run_dir is not None:
                self.run_dir = rundir.make_run_dir(str(run_dir) + suffix)
            else:
                self.run_dir = rundir.create_run_dir(
                    out or rundir.DEFAULT_RUNS_DIR, s.name + suffix)
            self.created = True
            try:
                self.lock = rundir.RunLock.acquire(self.run_dir)
                info = self._new_info()
                info["spec_sha256"] = rundir.write_spec(self.run_dir, self.loaded.resolved())
                rundir.write_info(self.run_dir, info)
            except UserError:
                self.discard()
                raise
        self.run_info = info

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
            "backend": _backend_name(),
            "input": input_pipeline(s.runtime.input),
            "strategy": {
                "name": (s.training.distribute.strategy if _backend_name() == "tensorflow"
                         else s.runtime.distribution),
                "replicas": int(self.strategy.num_replicas_in_sync),
                "hosts": int(getattr(self.strategy, "processes", 1)),
                "mixed_precision": s.training.distribute.mixed_precision,
            },
            "class_weight": (
                {p.class_names[i]: w for i, w in self.class_weight.items()}
                if self.class_weight else None
            ),
            "epochs_done": 0,
            "best_checkpoint": None,
            "backup_dir": _backup_dir(s),
        }

    # -- steps 4 and 5, and how they ended ------------------------------------------------
    def run(self, started: float) -> TrainResult:
        """Train and write the final files; whatever stops that is recorded in run.json."""
        try:
            self.fit_all()
            return self.finish(started)
        except rundir.DiskFull as exc:
            self._ended(rundir.INTERRUPTED, exc.problems[0].message)
            raise
        except UserError as exc:
            if self.created and not self.history_rows:
                self.discard()  # nothing trained yet: leave nothing half-made behind
            else:
                self._ended(rundir.FAILED, "; ".join(str(p) for p in exc.problems))
            raise
        except rundir.RunFailed as exc:
            exc.run_dir = self.run_dir
            self._ended(rundir.FAILED, exc.reason)
            raise
        except KeyboardInterrupt:
            self._ended(rundir.INTERRUPTED, "interrupted (Ctrl-C)")
            sys.stderr.write(
                "\nzoo: training interrupted; continue it with: "
                f"zoo train --resume {self.run_dir}\n"
            )
            raise
        except BaseException as exc:
            self._ended(rundir.FAILED, f"{type(exc).__name__}: {exc}"[:500])
            raise

    def _ended(self, status: str, reason: str) -> None:
        self.run_info = rundir.mark(self.run_dir, self.run_info, status, reason)

    # -- step 4: training -----------------------------------------------------------------
    def fit_all(self) -> None:
        from zoo.runner.callbacks import Backup, make_checkpoints
        from zoo.runner.compile import compile_model

        s = self.spec
        self.backup = Backup(self.run_dir / _backup_dir(s))
        self.checkpoints = make_checkpoints(s, self.run_dir, self.has_validation)

        restore = self.backup.load() if self.info is not None and self.backup.exists() else None
        phases = phases_of(s.training)
        first, epoch = 0, 0
        if restore is not None:
            meta, arrays = restore
            self.history_rows = list(meta.get("history", []))
            first, epoch = int(meta["phase"]), int(meta["next_epoch"])
            Backup.restore_callbacks(self.checkpoints, meta, arrays)  # they come first
            if meta.get("phase_done") and first + 1 < len(phases):
                first += 1  # that phase had ended: the next one starts
        if self.info is not None and not self.quiet:
            _say_resumed(len(self.history_rows), rundir.history_epochs(self.run_dir) or 0)
        # A backup of the last phase after its end (killed while writing the final files)
        # still enters that phase: its model is compiled and restored, and nothing trains.
        for phase in phases[first:]:
            same = restore is not None and int(restore[0]["phase"]) == phase.index
            start = int(restore[0]["phase_start"]) if same else epoch  # type: ignore[index]
            if phase.unfreeze is not None:
                set_trainable = self.loaded.entry("model").capabilities.set_trainable
                assert set_trainable is not None  # zoo validate refuses phases without it
                set_trainable(self.model, phase.unfreeze)
            with self.strategy.scope():
                compile_model(self.model, s.training, self.objective, phase.learning_rate,
                              weighted=self.replicas > 1)
                if restore is not None:
                    self.backup.restore_model(self.model, restore[1], with_optimizer=same)
            if restore is not None:
                Backup.restore_random(restore[0])
            self._fit(phase, start, epoch, restore if same else None)
            restore = None
            epoch = int(self.history_rows[-1]["epoch"]) if self.history_rows else epoch
        for checkpoint in self.checkpoints:
            checkpoint.set_model(self.model)  # also when no fit ran (resumed after the last)

    def _fit(self, phase: Phase, start: int, initial: int, restore: Any) -> None:
        from zoo.runner.callbacks import end_phase, fit_callbacks

        end = start + phase.epochs
        meta = restore[0] if restore is not None else {}
        if meta.get("phase_done"):
            return  # backed up after the phase had ended
        callbacks, stateful = fit_callbacks(
            self.spec,
            self.run_dir,
            phase,
            start,
            initial,
            extra=self.extra_callbacks,
            checkpoints=self.checkpoints,
            rows=self.history_rows,
            backup=self.backup,
            restore=restore,
        )
        if restore is not None and (meta.get("stopped") or initial >= end):
            # killed after the phase's last (or early-stopped) epoch, before its end
            end_phase(self.model, stateful, self.backup, *restore)
            return
        if initial >= end:
            return
        try:
            self._fit_keras(callbacks, initial, end)
        except BaseException as exc:
            for cb in callbacks:  # back up the last epoch if it ended before the error
                if hasattr(cb, "rescue"):
                    cb.rescue(exc)
            raise

    def _fit_keras(self, callbacks: list[Any], initial: int, end: int) -> None:
        self.model.fit(
            self._train_from(initial),
            validation_data=self.val_ds,
            epochs=end,
            initial_epoch=initial,
            steps_per_epoch=self.pipelines.steps_per_epoch,
            callbacks=callbacks,
            verbose=self.verbose,
            shuffle=False,
            class_weight=self.class_weight if self.replicas == 1 else None,  # else in batches
        )

    def _train_from(self, epoch: int) -> Any:
        """Training batches from ``epoch`` on: each epoch's order and augmentation come from
        (seed, epoch) alone, so a resumed run or a later phase sees what one uninterrupted
        run would."""
        if epoch != self.train_first:
            from zoo.data.pipeline import build_pipelines

            s, scaling = self.spec, self.pipelines.scaling
            train = build_pipelines(
                self.prepared,
                s,
                self.registry,
                batch_size=s.training.batch_size,
                scaling_state=scaling.state() if scaling else None,
                first_epoch=epoch,
            ).train
            self.train_ds = self._feed(train, training=True)
            self.train_first = epoch
        return self.train_ds

    # -- step 5: model, evaluation, pictures ----------------------------------------------
    def finish(self, started: float) -> TrainResult:
        from zoo.runner.artifacts import plot_confusion, plot_curves
        from zoo.runner.aux_outputs import inference_model
        from zoo.runner.callbacks import read_history
        from zoo.runner.evaluate import evaluate_model

        run = self.run_dir
        for checkpoint in self.checkpoints:
            checkpoint.flush()
        weights_used = self._evaluated_weights()
        saved = inference_model(self.model)
        rundir.save_file(run, rundir.MODEL_FILE, lambda tmp: saved.save(str(tmp)), "model")
        pl = self.pipelines
        split, ds = ("test", pl.test) if pl.test is not None else ("validation", pl.validation)
        evaluation = None
        metrics: dict[str, Any] = {}
        outputs: dict[str, Any] = {}
        if ds is not None:
            evaluation = evaluate_model(
                self.model, ds, self.objective, self.prepared.class_names, split, outputs,
                even=self._even if self.replicas > 1 else None,
            )
            metrics = {
                "split": split,
                "count": evaluation.count,
                split: evaluation.metrics,
                "per_class": evaluation.per_class,
                "confusion_matrix": evaluation.confusion_matrix,
                "class_names": evaluation.class_names,
            }
        metrics["weights"] = weights_used
        history = (
            read_history(run / rundir.HISTORY_FILE) if (run / rundir.HISTORY_FILE).exists() else {}
        )
        if self.history_rows:
            last = self.history_rows[-1]
            metrics["final_epoch"] = {k: v for k, v in last.items() if k not in ("epoch", "phase")}
        seconds = time.perf_counter() - started
        metrics["epochs"] = len(self.history_rows)
        rundir.write_json(run, rundir.METRICS_FILE, metrics, "metrics")
        from zoo.progress import progress

        with progress("drawing curves, confusion matrix, errors", 3) as bar:
            if history:
                rundir.save_file(
                    run,
                    rundir.CURVES_FILE,
                    lambda tmp: plot_curves(history, tmp, title=self.spec.name),
                    "curves",
                )
            bar.update()
            if evaluation is not None:
                rundir.save_file(
                    run,
                    rundir.CONFUSION_FILE,
                    lambda tmp: plot_confusion(
                        evaluation.confusion_matrix,
                        evaluation.class_names,
                        tmp,
                        title=f"{self.spec.name}: {split} set",
                    ),
                    "confusion",
                )
                bar.update()
                self._plot_errors(split, outputs)
            bar.update()
        best = next(
            (c.best_path for c in self.checkpoints if c.spec.save_best_only and c.best_path), None
        )
        info = {k: v for k, v in self.run_info.items() if k not in ("reason", "ended")}
        info.update(
            status=rundir.FINISHED,
            finished=rundir.now(),
            epochs_done=len(self.history_rows),
            best_checkpoint=best,
        )
        info["train_seconds"] = round(info.get("train_seconds", 0) + seconds, 3)
        rundir.write_info(run, info, "finish")
        self.run_info = info
        rundir.remove_backup(run, self.backup.directory.relative_to(run))
        files = sorted(
            str(p.relative_to(run))
            for p in run.rglob("*")
            if p.is_file() and p.name != rundir.LOCK_FILE
        )
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

    def _plot_errors(self, split: str, outputs: dict[str, Any]) -> None:
        """errors.png: the most confidently misclassified images of the evaluated split."""
        import numpy as np

        from zoo.runner.artifacts import plot_errors, worst_errors

        part = self.prepared.splits().get(split)
        labels = outputs.get("labels")
        if part is None or labels is None or not np.array_equal(
            np.asarray(part.labels, dtype=np.int64), labels
        ):
            return  # not in the split's order: no picture rather than a wrong one
        errors = worst_errors(outputs["probs"], labels)
        index = [i for i, _, _ in errors]
        if part.images is not None:
            images = np.asarray(part.images)[index]
        else:
            from zoo.data.images import load_images

            h, w, c = self.prepared.image_shape
            images = load_images([part.paths[i] for i in index], (h, w), c,
                                 self.spec.data.resize).images if index else []
        from zoo.run_files import ERRORS_FILE

        rundir.save_file(
            self.run_dir,
            ERRORS_FILE,
            lambda tmp: plot_errors(images, labels, errors, self.prepared.class_names, tmp,
                                    title=f"{self.spec.name}: worst {split} errors"),
            "errors",
        )

    def _evaluated_weights(self) -> dict[str, Any]:
        """Put the weights ``evaluation.weights`` asks for into the model; say which.

        best: the first save-best checkpoint (on a validation metric, for auto) that saved
        something; the last epoch's weights are then kept in ``checkpoints/last.weights.h5``
        so ``zoo evaluate --weights last`` can still evaluate them.
        """
        from zoo.runner.aux_outputs import inference_model

        setting = self.spec.evaluation.weights
        last_epoch = int(self.history_rows[-1]["epoch"]) if self.history_rows else 0
        last = {"used": "last", "epoch": last_epoch, "setting": setting}
        if setting == "last":
            return last
        best = [c for c in self.checkpoints if c.spec.save_best_only and c.best_path]
        if setting == "auto":
            best = [c for c in best if c.monitor.startswith("val_")]
        if not best:
            if setting == "best":
                last["note"] = "no checkpoint kept a best epoch; the last epoch's weights are used"
            return last
        checkpoint = best[0]
        used = {
            "used": "best",
            "epoch": _best_epoch(self.history_rows, checkpoint),
            "monitor": checkpoint.monitor,
            "value": checkpoint.best,
            "checkpoint": checkpoint.best_path,
            "last_epoch": last_epoch,
            "last_weights": LAST_WEIGHTS_FILE,
            "setting": setting,
        }
        current = inference_model(self.model)
        rundir.save_file(self.run_dir, LAST_WEIGHTS_FILE,
                         lambda tmp: current.save_weights(str(tmp)), "checkpoint")
        load_checkpoint_weights(self.model, checkpoint, self.run_dir)
        return used

    def discard(self) -> None:
        """A user error after the folder was made: leave nothing half-written behind."""
        if self.created and getattr(self, "run_dir", None) is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)


LAST_WEIGHTS_FILE = "checkpoints/last.weights.h5"


def _best_epoch(rows: list[dict[str, Any]], checkpoint: Any) -> int | None:
    """The epoch whose monitored value the checkpoint kept (its first occurrence)."""
    from zoo.runner.callbacks import _aliased

    if checkpoint.best is None:
        return None
    for row in rows:
        value = _aliased(row).get(checkpoint.monitor)
        if value is not None and float(value) == float(checkpoint.best):
            return int(row["epoch"])
    return None


def load_checkpoint_weights(model: Any, checkpoint: Any, run_dir: Path) -> None:
    """The best weights a checkpoint kept, into ``model`` (in memory, a weights file or a
    whole saved model)."""
    if getattr(checkpoint, "lazy", False) and checkpoint.best_weights is not None:
        model.set_weights(checkpoint.best_weights)
        return
    path = run_dir / checkpoint.best_path
    if str(path).endswith(".weights.h5"):
        model.load_weights(str(path))
    else:
        import keras

        model.set_weights(keras.saving.load_model(str(path), compile=False).get_weights())


def class_weights(setting: Any, prepared: Any, loaded: Any) -> dict[int, float] | None:
    """``training.class_weight`` as Keras wants it: {class index: weight}, every class.

    balanced: total / (classes x count) over the training split (scikit-learn's formula);
    a class without training images weighs 1. A mapping names classes; unlisted ones weigh
    1, unknown names are a located error listing the classes.
    """
    import numpy as np

    if setting is None:
        return None
    names = list(prepared.class_names)
    if setting == "balanced":
        counts = np.bincount(np.asarray(prepared.train.labels, dtype=np.int64),
                             minlength=len(names))
        total = float(counts.sum())
        return {i: (total / (len(names) * int(c)) if c else 1.0) for i, c in enumerate(counts)}
    unknown = [k for k in setting if k not in names]
    if unknown:
        shown = ", ".join(names[:50]) + (", ..." if len(names) > 50 else "")
        problems = [Problem(f"unknown class '{k}' (the data's classes: {shown})",
                            key_path=f"training.class_weight.{k}") for k in unknown]
        raise _with_lines(problems, loaded)
    return {i: float(setting.get(name, 1.0)) for i, name in enumerate(names)}


def _with_lines(problems: list[Problem], loaded: Any) -> UserError:
    """Problems located in the spec file (line and column of their key path) when it can be
    read again, else by file name alone."""
    try:
        from zoo.spec.loader import _located
        from zoo.spec.yaml_source import parse_yaml

        doc = parse_yaml(loaded.path.read_text(encoding="utf-8"), str(loaded.path))
        return UserError([_located(p, doc) for p in problems])
    except Exception:  # noqa: BLE001 - no file, or it changed: the key path still says where
        return located(problems, loaded)
