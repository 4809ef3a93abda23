"""What zoo checks in a spec's callbacks before anything runs: every monitor and file-name
placeholder names something the run logs, every path stays inside the run folder, and the
callbacks do not contradict each other (two schedules, a schedule and ReduceLROnPlateau).

``zoo validate`` runs these checks without the data (a ``val_`` name passes while it is not
known whether the data has a validation split); the runner runs them again once the data is
loaded. No Keras here.
"""

from __future__ import annotations

import importlib.util
import string
from pathlib import Path

from zoo.errors import Problem, UserError
from zoo.spec.metrics import (
    ALIASES,
    PER_CLASS,
    log_names,
    logged_names,
    normalize_monitor,
    watchable,
)
from zoo.spec.sections import ModelCheckpointCallback, SpecBase, TrainingSpec
from zoo.suggest import did_you_mean

NAME_MAX, PATH_MAX = 255, 4096  # bytes, as on Linux and macOS
FORMAT_ERRORS = (ValueError, KeyError, IndexError, TypeError, AttributeError)


def check_callbacks(
    spec: SpecBase, has_validation: bool | None, num_classes: int | None = None
) -> list[Problem]:
    """Every monitor and filename placeholder the spec's callbacks name must be logged.

    ``has_validation`` and ``num_classes`` are None while the data is not loaded: then any
    ``val_`` twin and any ``f1_class<i>`` passes.
    """
    problems = monitor_problems(spec, has_validation, num_classes)
    known = log_names(logged_names(spec.training.metrics, num_classes), has_validation is not False)

    def check_name(name: str, key: str) -> None:
        problem = name_problem(spec, name, has_validation, num_classes)
        if problem:
            problems.append(Problem(problem, key_path=key))

    schedules = 1 if spec.training.schedule is not None else 0
    for i, cb in enumerate(spec.callbacks):
        key = f"callbacks[{i}]"
        if isinstance(cb, ModelCheckpointCallback):
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(cb.filepath) if f]
            except ValueError as exc:
                problems.append(
                    Problem(f"bad filename template: {exc}", key_path=f"{key}.filepath")
                )
                fields = []
            names = [f.split(".")[0].split("[")[0] for f in fields if f != "epoch"]
            for name in names:
                check_name(name, f"{key}.filepath")
            problem = template_problem(cb.filepath, [*known, *names], total_epochs(spec.training))
            if problem and fields:
                problems.append(Problem(problem, key_path=f"{key}.filepath"))
        for attr in ("filepath", "filename", "log_dir", "backup_dir"):
            value = getattr(cb, attr, None)
            if isinstance(value, str):
                try:
                    inside(Path("."), value, f"{key}.{attr}")
                except UserError as exc:
                    problems.extend(exc.problems)
        if cb.type == "learning_rate_scheduler":
            schedules += 1
        if cb.type == "tensorboard" and not _installed("tensorboard"):
            problems.append(
                Problem(
                    "the tensorboard callback needs the tensorboard package: "
                    "pip install tensorboard",
                    key_path=key,
                )
            )
    if schedules > 1:
        problems.append(
            Problem(
                "two learning-rate schedules (training.schedule and a "
                "learning_rate_scheduler callback): keep one",
                key_path="callbacks",
            )
        )
    if schedules and any(cb.type == "reduce_lr_on_plateau" for cb in spec.callbacks):
        problems.append(
            Problem(
                "a learning-rate schedule sets the rate every epoch, so "
                "reduce_lr_on_plateau would have no effect: keep one",
                key_path="callbacks",
            )
        )
    if sum(cb.type == "backup_and_restore" for cb in spec.callbacks) > 1:
        problems.append(
            Problem("only one backup_and_restore entry is allowed", key_path="callbacks")
        )
    return problems


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):  # a finder that refuses it, a broken __spec__
        return False


def monitor_problems(
    spec: SpecBase, has_validation: bool | None, num_classes: int | None = None
) -> list[Problem]:
    """A callback's ``monitor`` must be something the run logs (see :func:`check_callbacks`)."""
    problems = []
    for i, cb in enumerate(spec.callbacks):
        monitor = getattr(cb, "monitor", None)
        if isinstance(monitor, str):
            problem = name_problem(spec, monitor, has_validation, num_classes)
            if problem:
                problems.append(Problem(problem, key_path=f"callbacks[{i}].monitor"))
    return problems


def name_problem(
    spec: SpecBase, name: str, has_validation: bool | None, num_classes: int | None
) -> str | None:
    """Why a run of ``spec`` does not log ``name`` (with a did-you-mean), or None."""
    known = log_names(logged_names(spec.training.metrics, num_classes), has_validation is not False)
    per_class = any(m == PER_CLASS for m in spec.training.metrics)
    name = normalize_monitor(name)
    if watchable(name, known, per_class, num_classes):
        return None
    if name.startswith("val_") and has_validation is False:
        twin = name.removeprefix("val_")
        if watchable(twin, known, per_class, num_classes):
            return (
                f"unknown metric '{name}' (there is no validation split: set "
                f"data.split.validation, or watch '{twin}')"
            )
    hint = did_you_mean(name, known)
    shown = [n for n in known if not n.startswith(("f1_class", "val_f1_class"))]
    if per_class:
        shown += ["f1_class<i>"] + (["val_f1_class<i>"] if has_validation is not False else [])
    return (
        f"unknown metric '{name}'"
        + (f"; {hint}" if hint else "")
        + f" (the run logs: {', '.join(shown)}; training.metrics adds more)"
    )


def total_epochs(training: TrainingSpec) -> int:
    return int(training.epochs) + sum(int(p.epochs) for p in training.phases)


def inside(run_dir: Path, relative: str, key_path: str) -> Path:
    """``run_dir / relative``, refusing paths that leave the run folder."""
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts or not relative.strip():
        raise UserError(
            [Problem(f"must be a path inside the run folder, got {relative!r}", key_path=key_path)]
        )
    return run_dir / path


def name_length_problem(name: str) -> str | None:
    if len(name.encode()) > PATH_MAX or any(
        len(part.encode()) > NAME_MAX for part in Path(name).parts
    ):
        return f"makes a file name too long for the file system ({name[:40]}...)"
    return None


def template_problem(template: str, names: list[str], epoch: int) -> str | None:
    """Why ``template`` cannot name a checkpoint file at run time, or None.

    Formats it with sample values, as the checkpoint will after an epoch, and checks the
    length of the name it makes.
    """
    sample = {n: 0.123456 for n in names}
    sample.update({alias: 0.123456 for alias in ALIASES})
    try:
        name = template.format(epoch=epoch, **sample)
    except FORMAT_ERRORS as exc:
        return f"cannot make a file name from {template!r}: {exc}"
    return name_length_problem(name)
