"""Running a sweep on Optuna: each trial is an ordinary zoo run folder under ``DIR/trials``.

The sweep folder ``DIR`` holds the study storage (``study.journal``: an Optuna
``JournalStorage`` safe for several processes on one machine, unless ``storage=`` names a
database URL), ``trials.csv``, ``best_spec.yaml`` and the plots. Several workers share one
study (``join=True``: ``load_if_exists``); the trial budget is counted across all of them.

Interrupted trials: each trial records the worker's host and pid. A worker starting on the
journal marks the RUNNING trials of dead processes on its host FAIL (``zoo_interrupted``)
and queues their parameters again, so the configuration runs once more and is never
counted twice. Database storages get Optuna's heartbeat (a dead worker's trial is failed
by the next worker after the grace period) and the same retry.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zoo import backend
from zoo.errors import Problem, UserError
from zoo.record.results import Results
from zoo.record.run import now
from zoo.runner.train import train
from zoo.spec.loader import load_spec
from zoo.sweep.config import Choice, FloatRange, IntRange, Sweep, override

JOURNAL_FILE = "study.journal"
TRIALS_DIR = "trials"
TRIALS_CSV = "trials.csv"
BEST_SPEC = "best_spec.yaml"
SWEEP_INFO = "sweep.json"
BUDGET_LOCK = ".budget.lock"
PLOTS = ("optimization_history", "param_importances", "parallel_coordinate")
HEARTBEAT_SECONDS, GRACE_SECONDS = 30, 120


@dataclass
class SweepResult:
    """What one worker leaves behind: the study's state when it stopped."""

    out: Path
    study_name: str
    storage: str
    trials: int  # trials in the study counted against the budget
    ran: int  # trials this worker ran
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_run: str | None = None
    files: list[str] = field(default_factory=list)
    skipped_plots: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


# ---- storage -------------------------------------------------------------------------------


def open_storage(out: Path, url: str | None) -> tuple[Any, str]:
    """The Optuna storage and how to name it; an unreachable URL is one clear UserError."""
    import optuna

    if url is None:
        path = out / JOURNAL_FILE
        from optuna.storages.journal import JournalFileBackend

        with damaged_journal(path):
            return optuna.storages.JournalStorage(JournalFileBackend(str(path))), str(path)
    if url.split("?")[0].rstrip("/") in ("sqlite:", "sqlite:/", "sqlite://") or ":memory:" in url:
        raise UserError(
            [
                Problem(
                    "an in-memory database keeps no study: every trial would be "
                    "lost when this worker ends; give a file (sqlite:////abs/study.db)"
                    " or leave --storage out (the sweep folder's study.journal)",
                    f"--storage {url}",
                )
            ]
        )
    try:
        if "://" not in url:
            raise ValueError(
                "not a database URL (like sqlite:////abs/study.db or postgresql://user@host/db)"
            )
        storage = optuna.storages.RDBStorage(
            url,
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=_retry_failed,
        )
        storage.get_all_studies()  # connect now
    except Exception as exc:  # sqlalchemy, a missing driver, a bad URL: all the same to users
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            [
                Problem(
                    f"cannot use the study storage: {type(exc).__name__}: {text[:300]}",
                    f"--storage {_hide_password(url)}",
                )
            ]
        ) from None
    return storage, _hide_password(url)


@contextlib.contextmanager
def damaged_journal(path: Path) -> Iterator[None]:
    """A study journal that cannot be replayed (truncated, random bytes, another tool's
    file) is one line naming it, not Optuna's traceback."""
    try:
        yield
    except UserError:
        raise
    except (ValueError, UnicodeDecodeError, AssertionError, KeyError, TypeError, IndexError) as exc:
        why = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
        raise UserError(
            [
                Problem(
                    f"the study journal is damaged or not a zoo sweep's ({why[:200]}); move it "
                    "away and "
                    "start a new sweep folder, or put back the journal this sweep wrote",
                    str(path),
                )
            ]
        ) from None


def _hide_password(url: str) -> str:
    if "://" in url and "@" in url.split("://", 1)[1]:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}:***@{host}" if ":" in creds else url
    return url


def _retry_failed(study: Any, trial: Any) -> None:
    """Heartbeat expired (database storages): the worker died; run its parameters again."""
    _requeue(study, trial)


def _requeue(study: Any, trial: Any) -> None:
    study.enqueue_trial(
        dict(trial.params), user_attrs={"zoo_retry_of": trial.number}, skip_if_exists=False
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_trials(study: Any) -> list[int]:
    """RUNNING trials of dead processes on this host -> FAIL (interrupted), params requeued."""
    import optuna
    from optuna.trial import TrialState

    host = socket.gethostname()
    reaped = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or _pid_alive(pid):
            continue
        try:
            study._storage.set_trial_user_attr(t._trial_id, "zoo_interrupted", True)
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            continue  # another worker reaped it first
        _requeue(study, t)
        reaped.append(t.number)
    return reaped


# ---- the budget ------------------------------------------------------------------------------


def counted(t: Any) -> bool:
    """Does a trial count against the budget? Interrupted and surplus trials do not: a FAIL
    without ``zoo_error`` is a worker that died (reaped here or by the heartbeat)."""
    from optuna.trial import TrialState

    if t.user_attrs.get("zoo_surplus"):
        return False
    return t.state != TrialState.FAIL or "zoo_error" in t.user_attrs


@contextlib.contextmanager
def budget_lock(out: Path) -> Iterator[Callable[[], None]]:
    """Held from counting the trials until the next trial exists (local workers)."""
    fd = os.open(out / BUDGET_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    held = [True]
    fcntl.flock(fd, fcntl.LOCK_EX)

    def release() -> None:
        if held[0]:
            held[0] = False
            fcntl.flock(fd, fcntl.LOCK_UN)

    try:
        yield release
    finally:
        release()
        os.close(fd)


class _Surplus(Exception):
    """Another machine's worker took the last trial between our count and our trial."""


# ---- one trial -------------------------------------------------------------------------------


def suggest(trial: Any, sweep: Sweep) -> list[str]:
    """The trial's ``--set`` overrides, one per search-space key path."""
    out = []
    for key, p in sweep.space.items():
        if isinstance(p, FloatRange):
            value: Any = trial.suggest_float(key, p.low, p.high, log=p.log, step=p.step)
        elif isinstance(p, IntRange):
            value = trial.suggest_int(key, p.low, p.high, log=p.log, step=p.step)
        else:
            assert isinstance(p, Choice)
            labels = [_label(v) for v in p.values]
            value = (
                p.values[labels.index(trial.suggest_categorical(key, labels))]
                if not _primitive(p.values)
                else trial.suggest_categorical(key, p.values)
            )
        out.append(override(key, value))
    return out


def _primitive(values: list[Any]) -> bool:
    return all(v is None or isinstance(v, (bool, int, float, str)) for v in values)


def _label(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def objective_value(sweep: Sweep, results: Results) -> tuple[float, int | None]:
    """A trial's score and its epoch (:meth:`Objective.score`); a record without the
    objective's metric is a located error."""
    obj = sweep.objective
    value, epoch = obj.score(results)
    if value is not None:
        return float(value), epoch
    if obj.split == "test":
        shown = ", ".join(results.scores) if results.split == "test" else ""
        raise UserError(
            [
                sweep.located(
                    f"the runs have no test metric {obj.metric!r} (test metrics: "
                    f"{shown or 'none: the spec has no test split'})",
                    ["objective", "metric"],
                )
            ]
        )
    scored = results.weights.of(obj.weights) or results.weights.last
    logged = ", ".join(sorted(scored.metrics)) or "nothing"
    raise UserError(
        [
            sweep.located(
                f"the runs log no {obj.history_key!r} (logged: {logged})",
                ["objective", "metric"],
            )
        ]
    )


# ---- the sweep -------------------------------------------------------------------------------


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    storage: str | None = None,
    join: bool = False,
    trials: int | None = None,
    timeout: float | None = None,
    report: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run trials until the budget (``trials`` across all workers, ``timeout`` seconds for
    this worker) is spent; write trials.csv, best_spec.yaml and plots; return the state.

    A trial that fails for a reason that will recur (a mistake in the spec or the sweep
    file, an objective the runs do not log) counts against the budget and stops the sweep
    with one line; only a trial whose worker died is queued again.
    """
    import optuna

    base = load_spec(sweep.spec_path, sweep.overrides)
    backend.activate(backend.requested(base.spec.runtime.backend), "runtime.backend")
    from zoo.sweep.pruning import TrialPruning  # imports Keras: after the spec chose a backend

    # zoo reports each trial in one line; Optuna's own warning repeats a failure's traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    out = Path(out)
    budget = trials if trials is not None else sweep.trials
    timeout = timeout if timeout is not None else sweep.timeout
    fresh = _open_folder(out, join)
    store, store_name = open_storage(out, storage)
    seed = sweep.sampler.seed
    if seed is not None and join:
        seed += os.getpid()  # joined workers must not draw the same points
    with damaged_journal(out / JOURNAL_FILE):
        study = _study(sweep, store, store_name, seed, budget, join)
    if fresh:
        _write_sweep_info(sweep, out, store_name)
    reaped = reap_dead_trials(study) if storage is None else []
    if reaped and report:
        report(
            f"trials {', '.join(map(str, reaped))}: their worker died; marked failed, "
            "their parameters queued again"
        )
    runner = _TrialRunner(sweep, study, out, budget, storage is not None, TrialPruning)
    started, ran = time.monotonic(), 0
    while not runner.stop_error:
        if timeout is not None and time.monotonic() - started >= timeout:
            break
        with budget_lock(out) as release:
            if (
                budget is not None
                and sum(counted(t) for t in study.get_trials(deepcopy=False)) >= budget
            ):
                break
            study.optimize(
                lambda t: runner(t, release),
                n_trials=1,
                catch=(Exception,),
                callbacks=[_progress(sweep, report)],
                gc_after_trial=True,
            )
        ran += 1
        write_trials_csv(study, out / TRIALS_CSV)
    if runner.stop_error:
        raise runner.stop_error[0]
    return finish(sweep, study, out, store_name, ran)


def _open_folder(out: Path, join: bool) -> bool:
    """The sweep folder, new (True) or joined; never a folder holding something else."""
    fresh = not (out / SWEEP_INFO).exists()
    if not join and not fresh:
        raise UserError(
            [
                Problem(
                    "this folder already holds a sweep; add --join to add a "
                    "worker to its study, or choose another --out",
                    str(out),
                )
            ]
        )
    if not join and out.exists() and any(out.iterdir()):
        raise UserError([Problem("the folder is not empty; choose a new --out", str(out))])
    (out / TRIALS_DIR).mkdir(parents=True, exist_ok=True)
    return fresh


def _write_sweep_info(sweep: Sweep, out: Path, store_name: str) -> None:
    info = {
        "study": sweep.name,
        "storage": store_name,
        "sweep_file": str(sweep.path.resolve()),
        "spec": str(sweep.spec_path),
        "objective": sweep.objective.model_dump(),
        "direction": sweep.objective.resolved_direction,
        "created": now(),
    }
    _write(out / SWEEP_INFO, json.dumps(info, indent=2))


class _TrialRunner:
    """One trial: a run folder trained with the trial's overrides, scored by its record."""

    def __init__(
        self,
        sweep: Sweep,
        study: Any,
        out: Path,
        budget: int | None,
        shared_storage: bool,
        pruning: Any,
    ) -> None:
        self.sweep, self.study, self.out, self.budget = sweep, study, out, budget
        self.shared_storage, self.pruning = shared_storage, pruning
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.stop_error: list[BaseException] = []

    def __call__(self, trial: Any, release: Callable[[], None]) -> float:
        import optuna

        release()
        trial.set_user_attr("host", self.host)
        trial.set_user_attr("pid", self.pid)
        if self.budget is not None and self.shared_storage:
            before = [
                t
                for t in self.study.get_trials(deepcopy=False)
                if t.number < trial.number and counted(t)
            ]
            if len(before) >= self.budget:
                trial.set_user_attr("zoo_surplus", True)
                raise _Surplus()
        sweep = self.sweep
        overrides = suggest(trial, sweep)
        run_dir = self.out / TRIALS_DIR / f"trial-{trial.number:04d}"
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("run_dir", str(run_dir.resolve()))
        pruner = (
            self.pruning(trial, sweep.objective.history_key)
            if sweep.pruner.name != "none"
            else None
        )
        try:
            result = train(
                sweep.spec_path,
                run_dir=run_dir,
                verbose=0,
                overrides=[*sweep.overrides, *overrides],
                callbacks=[pruner] if pruner else [],
            )
            value, epoch = objective_value(sweep, result.results)
        except UserError as exc:  # it would recur in every trial: counted, and the sweep stops
            trial.set_user_attr("zoo_error", str(exc)[:500])
            self.stop_error.append(exc)
            raise
        except Exception as exc:  # counted as failed (only a dead worker's trial is requeued)
            trial.set_user_attr("zoo_error", f"{type(exc).__name__}: {exc}"[:500])
            raise
        trial.set_user_attr("scored", {"weights": sweep.objective.weights, "epoch": epoch})
        if pruner is not None and pruner.pruned_at is not None:
            trial.set_user_attr("pruned_at_epoch", pruner.pruned_at + 1)
            raise optuna.TrialPruned(f"pruned after epoch {pruner.pruned_at + 1}")
        return value


def _progress(sweep: Sweep, report: Callable[[str], None] | None) -> Callable[[Any, Any], None]:
    def progress(study: Any, t: Any) -> None:
        if report and not t.user_attrs.get("zoo_surplus"):
            value = "" if t.value is None else f" {sweep.objective.metric}={t.value:.4f}"
            why = t.user_attrs.get("zoo_error")
            report(
                f"trial {t.number}: {t.state.name.lower()}{value}"
                + (f" ({why})" if why else "")
                + f"  {t.user_attrs.get('run_dir', '')}"
            )

    return progress


def _study(
    sweep: Sweep, store: Any, store_name: str, seed: int | None, budget: int | None, join: bool
) -> Any:
    import optuna

    s = sweep.sampler
    if s.name == "random":
        sampler: Any = optuna.samplers.RandomSampler(seed=seed)
    else:
        startup = max(2, min(10, budget // 3)) if budget else 10
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    p = sweep.pruner
    pruner: Any = (
        optuna.pruners.MedianPruner(
            n_startup_trials=p.startup_trials, n_warmup_steps=p.warmup_epochs
        )
        if p.name == "median"
        else optuna.pruners.HyperbandPruner(min_resource=1)
        if p.name == "hyperband"
        else optuna.pruners.NopPruner()
    )
    try:
        study = optuna.create_study(
            study_name=sweep.name,
            storage=store,
            sampler=sampler,
            pruner=pruner,
            direction=sweep.objective.resolved_direction,
            load_if_exists=join,
        )
    except optuna.exceptions.DuplicatedStudyError:
        raise UserError(
            [
                Problem(
                    f"the storage already has a study named {sweep.name!r}; add "
                    "--join to add a worker to it",
                    store_name,
                )
            ]
        ) from None
    if study.direction.name.lower() != sweep.objective.resolved_direction:
        raise UserError(
            [
                Problem(
                    f"study {sweep.name!r} {study.direction.name.lower()}s, this "
                    f"sweep file {sweep.objective.resolved_direction}s",
                    store_name,
                )
            ]
        )
    return study


# ---- what the sweep folder holds ---------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_trials_csv(study: Any, path: Path) -> None:
    """One row per trial (surplus ones left out), from the storage: the same in every worker."""
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("zoo_surplus")]
    names: list[str] = []
    for t in trials:
        names += [n for n in t.params if n not in names]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "number",
            "state",
            "value",
            "weights",
            "epoch",
            "seconds",
            *names,
            "run_dir",
            "host",
            "pid",
            "note",
        ]
    )
    for t in trials:
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else ""
        )
        a = t.user_attrs
        note = "; ".join(
            x
            for x in (
                "interrupted (worker died)"
                if t.state.name == "FAIL" and "zoo_error" not in a
                else "",
                f"retry of {a['zoo_retry_of']}" if "zoo_retry_of" in a else "",
                f"pruned after epoch {a['pruned_at_epoch']}" if "pruned_at_epoch" in a else "",
                a.get("zoo_error", ""),
            )
            if x
        )
        scored = a.get("scored") if isinstance(a.get("scored"), dict) else {}
        w.writerow(
            [
                t.number,
                t.state.name,
                "" if t.value is None else t.value,
                scored.get("weights", ""),
                scored.get("epoch", ""),
                f"{seconds:.2f}" if seconds != "" else "",
                *[t.params.get(n, "") for n in names],
                a.get("run_dir", ""),
                a.get("host", ""),
                a.get("pid", ""),
                note,
            ]
        )
    _write(path, buf.getvalue())


def finish(sweep: Sweep, study: Any, out: Path, store_name: str, ran: int) -> SweepResult:
    from optuna.trial import TrialState

    write_trials_csv(study, out / TRIALS_CSV)
    all_trials = study.get_trials(deepcopy=False)
    result = SweepResult(
        out=out,
        study_name=sweep.name,
        storage=store_name,
        trials=sum(counted(t) for t in all_trials),
        ran=ran,
    )
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        result.best_value, result.best_params = best.value, dict(best.params)
        result.best_run = best.user_attrs.get("run_dir")
        overrides = [*sweep.overrides, *best.user_attrs.get("overrides", [])]
        resolved = load_spec(sweep.spec_path, overrides).resolved()
        header = (
            f"# best trial {best.number} of sweep {sweep.name!r}: "
            f"{sweep.objective.split} {sweep.objective.metric} = {best.value:.6g}\n"
            f"# from {sweep.spec_path} with: {' '.join(overrides)}\n"
            f"# train it: zoo train {out / BEST_SPEC}\n"
        )
        _write(out / BEST_SPEC, header + yaml.safe_dump(resolved, sort_keys=False))
    result.skipped_plots = write_plots(study, out)
    result.files = sorted(
        p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")
    )
    return result


def write_plots(study: Any, out: Path) -> dict[str, str]:
    """PNG plots of the study; a plot that cannot be drawn is skipped with the reason."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    skipped = {}
    for name in PLOTS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = getattr(ovm, f"plot_{name}")(study)
            fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
            fig.set_size_inches(9, 5.5)
            fig.tight_layout()
            tmp = out / f".{name}.{os.getpid()}.tmp.png"
            fig.savefig(tmp, dpi=90)
            os.replace(tmp, out / f"{name}.png")
        except Exception as exc:  # e.g. importances with fewer than two finished trials
            skipped[name] = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            plt.close("all")
    return skipped
