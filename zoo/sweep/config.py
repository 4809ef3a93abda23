"""The sweep file: which spec, the search space over its key paths, the objective, the budget.

A sweep file is YAML validated like a spec (every mistake one located line)::

    spec: digits_mlp.yaml              # relative to the sweep file
    overrides: [training.epochs=2]     # fixed --set overrides applied to every trial
    space:                             # key paths as --set writes them
      training.optimizer.learning_rate: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
      model.params.dropout: {type: float, low: 0.0, high: 0.5}
      model.params.hidden_units[0]: {type: int, low: 16, high: 128, step: 16}
      training.batch_size: {type: choice, values: [16, 32, 64]}
    objective: {metric: accuracy, split: validation, direction: maximize}
    trials: 20                         # and/or timeout: seconds per worker
    sampler: {name: tpe, seed: 0}
    pruner: {name: median, warmup_epochs: 1}

Reading and checking it never imports TensorFlow or Optuna.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zoo.data.prepare import load_source
from zoo.data.split import plan_splits
from zoo.errors import Problem, UserError
from zoo.io import FileError, read_text
from zoo.plugin.manager import default_registry
from zoo.record.results import Results
from zoo.spec import load_spec
from zoo.spec.loader import LoadedSpec
from zoo.spec.metrics import PER_CLASS, logged_names, monitor_mode, watchable
from zoo.spec.problems import format_path, parse_path, problems_from_validation
from zoo.spec.yaml_source import YamlDocument, locate, parse_yaml
from zoo.suggest import did_you_mean


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class FloatRange(_Strict):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0, description="Quantization step (not with log).")

    @model_validator(mode="after")
    def _ordered(self) -> FloatRange:
        _check_range(self.low, self.high, self.log, self.step)
        return self


class IntRange(_Strict):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> IntRange:
        _check_range(self.low, self.high, self.log, self.step if self.step != 1 else None)
        return self


class Choice(_Strict):
    type: Literal["choice"]
    values: list[Any] = Field(min_length=1)


def _check_range(low: float, high: float, log: bool, step: float | None) -> None:
    if low > high:
        raise ValueError(f"low ({low}) must not be above high ({high})")
    if log and low <= 0:
        raise ValueError(f"a log range needs low > 0 (got {low})")
    if log and step is not None:
        raise ValueError("step and log cannot be combined")


Param = Annotated[FloatRange | IntRange | Choice, Field(discriminator="type")]


class Objective(_Strict):
    metric: str = Field("accuracy", description="A metric of the spec (accuracy, loss, ...).")
    split: Literal["validation", "test"] = "validation"
    direction: Literal["maximize", "minimize"] | None = Field(
        None, description="Default: minimize for loss-like metrics, else maximize."
    )
    weights: Literal["kept", "best", "last"] = Field(
        "kept",
        description="Which epoch's value scores a trial: kept (the weights the trial's "
        "model.keras holds, so the winner, best_spec.yaml and its model agree), best (the best "
        "checkpoint's epoch) or last (the last epoch). The test split is evaluated on the kept "
        "weights only.",
    )

    @model_validator(mode="after")
    def _test_is_kept(self) -> Objective:
        if self.split == "test" and self.weights != "kept":
            raise ValueError(
                "the test split is evaluated on the kept weights only; use "
                "weights: kept (or split: validation)"
            )
        return self

    @property
    def resolved_direction(self) -> str:
        if self.direction:
            return self.direction
        return "minimize" if monitor_mode(self.metric, "auto") == "min" else "maximize"

    @property
    def history_key(self) -> str:
        """The per-epoch log name the pruner watches (``val_accuracy``)."""
        return f"val_{self.metric}"

    def score(self, results: Results) -> tuple[float | None, int | None]:
        """A trial's score and the epoch it comes from, read from its record
        (``metrics.json``): by default the value at the epoch whose weights the trial kept,
        so the winner, ``best_spec.yaml`` and the trial's ``model.keras`` agree. The value
        is None when the record has no such metric. The sweep and ``zoo runs --compare``
        both score with this, so they cannot disagree."""
        if self.split == "test":
            value = results.scores.get(self.metric) if results.split == "test" else None
            return value, results.weights.kept_weights.epoch
        epoch = results.weights.of(self.weights)
        if epoch is None:  # weights: best, and no checkpoint kept a best epoch
            epoch = results.weights.last
        return epoch.metrics.get(self.history_key), epoch.epoch

    def label(self) -> str:
        return f"{self.split} {self.metric}"


class Sampler(_Strict):
    name: Literal["tpe", "random"] = "tpe"
    seed: int | None = 0


class Pruner(_Strict):
    name: Literal["none", "median", "hyperband"] = "none"
    warmup_epochs: int = Field(1, ge=0, description="median: epochs before pruning may start")
    startup_trials: int = Field(2, ge=0, description="median: trials before pruning may start")


class SweepFile(_Strict):
    spec: str
    name: str | None = Field(None, description="The study name (default: the sweep file's stem).")
    overrides: list[str] = Field(default_factory=list)
    space: dict[str, Param] = Field(min_length=1)
    objective: Objective = Field(default_factory=Objective)
    trials: int | None = Field(None, ge=1)
    timeout: float | None = Field(None, gt=0, description="Seconds per worker.")
    sampler: Sampler = Field(default_factory=Sampler)
    pruner: Pruner = Field(default_factory=Pruner)

    @model_validator(mode="after")
    def _budget(self) -> SweepFile:
        if self.trials is None and self.timeout is None:
            raise ValueError("give trials or timeout (or both): a sweep needs a budget")
        return self


class Sweep:
    """A validated sweep file, with its spec path resolved and its document for locating."""

    def __init__(self, model: SweepFile, path: Path, doc: YamlDocument) -> None:
        self.model, self.path, self.doc = model, path, doc
        self.spec_path = (path.parent / model.spec).resolve()
        self.name = model.name or path.stem

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("model",):
            raise AttributeError(name)
        return getattr(self.model, name)

    def located(self, message: str, key_path: list[str | int], key: bool = False) -> Problem:
        pos = locate(self.doc.root, key_path, key=key)
        line, col = pos if pos else (None, None)
        return Problem(message, str(self.path), line, col, format_path(key_path))


def override(path: str, value: Any) -> str:
    """``path=value`` that ``--set`` reads back as exactly ``value`` (YAML 1.1 floats)."""
    return f"{path}={dump_value(value)}"


def dump_value(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:
            mantissa, exp = text.split("e")
            text = f"{mantissa}.0e{exp if exp[0] in '+-' else '+' + exp}"
        return text
    return json.dumps(value)


def endpoints(param: Any) -> list[Any]:
    """The values at the ends of a range (each value of a choice), for ``--check``."""
    if isinstance(param, Choice):
        return list(param.values)
    return [param.low, param.high]


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; raises :class:`UserError` with located problems."""

    path = Path(path)
    try:
        text = read_text(path)  # the YAML reader bounds its size itself, with its message
    except FileError as exc:
        why = exc.problems[0].message
        why = "no such sweep file" if why == "no such file" else f"cannot read sweep file: {why}"
        raise UserError([Problem(why, str(path))]) from None
    doc = parse_yaml(text, str(path))
    if not isinstance(doc.data, dict):
        raise UserError(
            [Problem("a sweep file must be a mapping of keys to values", str(path), 1, 1)]
        )
    try:
        model = SweepFile.model_validate(doc.data)
    except ValidationError as exc:
        raise UserError(problems_from_validation(exc, doc, SweepFile, default_registry())) from None
    sweep = Sweep(model, path, doc)
    problems = [
        sweep.located(
            "not a key path (write it like training.epochs or callbacks[0].patience)",
            ["space", key],
            key=True,
        )
        for key in model.space
        if parse_path(key) is None
    ]
    if problems:
        raise UserError(problems)
    return sweep


def check_sweep(sweep: Sweep) -> list[Problem]:
    """Every problem of the sweep against its spec: the spec itself, each key path exists in
    the resolved spec, and the spec is valid at each range's ends and with each choice."""

    try:
        base = load_spec(sweep.spec_path, sweep.overrides)
    except UserError as exc:
        if not sweep.spec_path.exists():
            return [sweep.located(f"no such spec file: {sweep.spec_path}", ["spec"])]
        return exc.problems
    resolved = base.resolved()
    problems = []
    for key, param in sweep.space.items():
        where = ["space", key]
        missing = _missing_step(resolved, parse_path(key) or [])
        if missing is not None:
            problems.append(sweep.located(missing, where, key=True))
            continue
        for value in endpoints(param):
            text = override(key, value)
            try:
                load_spec(sweep.spec_path, [*sweep.overrides, text])
            except UserError as exc:
                why = "; ".join(p.message for p in exc.problems[:3])
                problems.append(
                    sweep.located(f"the spec is not valid with {text}: {why}", where, key=True)
                )
    return problems + objective_problems(sweep, base)


def objective_problems(sweep: Sweep, base: LoadedSpec) -> list[Problem]:
    """The objective must be a metric the runs log, on a split they have: else every trial
    would train in full and then have nothing to be scored by."""
    obj, spec = sweep.objective, base.spec
    problems = []
    logged = logged_names(spec.training.metrics)
    per_class = any(m == PER_CLASS for m in spec.training.metrics)
    if not watchable(obj.metric, logged, per_class, None):
        hint = did_you_mean(obj.metric, logged)
        if per_class:
            logged.append("f1_class<i>")
        problems.append(
            sweep.located(
                f"the runs log no metric {obj.metric!r}"
                + (f"; {hint}" if hint else "")
                + f" (they log: {', '.join(logged)}; add it to training.metrics)",
                ["objective", "metric"],
            )
        )
    share = getattr(spec.data.split, obj.split)
    has = _splits_present(base) if not share else None  # a share > 0 carves the split
    if has is not None and not has.get(obj.split, False):
        how = (
            "data.split.validation is 0 and the data source ships no validation split"
            if obj.split == "validation"
            else "data.split.test is 0 and the data source ships no test split"
        )
        problems.append(
            sweep.located(
                f"the runs have no {obj.split} split to score on: {how}", ["objective", "split"]
            )
        )
    return problems


def _splits_present(base: LoadedSpec) -> dict[str, bool] | None:
    """Which splits the runs will have, from the source's labels alone (no image is
    decoded); None when that cannot be told here (a download is needed, a mistake the
    spec's own check reports)."""
    try:
        source = load_source(base)
        plan = plan_splits(
            {k: v.labels for k, v in source.splits.items()},
            base.spec.data.split,
            base.spec.split_seed,
        )
    except UserError:
        return None
    return {name: where is not None and len(where[1]) > 0 for name, where in plan.items()}


def _missing_step(data: Any, path: list[str | int]) -> str | None:
    """Why ``path`` names nothing in the resolved spec (None when it does)."""
    cur = data
    for i, step in enumerate(path):
        here = format_path(path[:i]) or "the spec"
        if isinstance(cur, dict) and step in cur:
            cur = cur[step]
        elif isinstance(cur, list) and isinstance(step, int) and 0 <= step < len(cur):
            cur = cur[step]
        elif isinstance(cur, dict):
            hint = did_you_mean(str(step), [str(k) for k in cur])
            return (
                f"the spec has no key {format_path(path[: i + 1])!r}"
                + (f"; {hint}" if hint else "")
                + f" ({here} has: {', '.join(map(str, cur)) or 'nothing'})"
            )
        elif isinstance(cur, list):
            return f"{here} has {len(cur)} items; no index {step}"
        else:
            return f"{here} is {cur!r}, not a mapping or list"
    return None
