"""A run's scaling, rebuilt for prediction and export from its record alone.

Prediction must not need the data-source plugin that trained a run, and should survive
without the scaling plugin too. So the scaling comes from the run's own files:

1. the registered recipe (its factory, the spec's ``scaling.params`` read as plain YAML,
   and the saved ``state``): the plugin stays the authority whenever it is installed;
2. otherwise, when the saved state is in the *affine form* (only the keys ``recipe``,
   ``divisor``, ``mean``, ``std``, ``bgr``; zoo's built-in recipes write it, and any scaling
   plugin may: ``docs/plugins.md``), :class:`~zoo.plugin.AffineScaling` from it, which
   spells out the whole computation;
3. otherwise a :class:`UserError` naming the missing plugin.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import Problem, UnknownPluginError, UserError
from zoo.plugin.contracts import Scaling
from zoo.plugin.guards import check_scaling
from zoo.plugin.registry import Registry
from zoo.plugin.scaling import AFFINE_KEYS, AffineScaling
from zoo.record.run import RunRecord, ScalingRecord


def is_affine_state(scaling: ScalingRecord) -> bool:
    """True when the saved state is in the affine form (a public contract of the Scaling
    protocol, not a property of one plugin)."""
    state = scaling.state
    return (
        isinstance(state, dict)
        and set(state) <= AFFINE_KEYS
        and bool(set(state) & {"divisor", "mean", "std", "bgr"})
    )


def run_scaling(
    record: RunRecord, section: dict[str, Any] | None, registry: Registry, where: str
) -> Scaling:
    """The run's scaling object (see the module docstring for the order tried)."""
    recipe, state = record.scaling.recipe, record.scaling.state
    try:
        entry = registry.get(recipe, "recipe", "scaling")
    except UnknownPluginError:
        entry = None
    if entry is not None:
        params = entry.params.model_validate((section or {}).get("params") or {})
        return check_scaling(entry.factory(params, state), entry)
    if is_affine_state(record.scaling):
        assert state is not None
        return AffineScaling.from_state(state)
    use = record.plugins.get("scaling")
    plugin = use.distribution if use is not None else None
    raise UserError(
        [
            Problem(
                f"the run's scaling recipe '{recipe}' is not installed"
                + (f" (it came from the '{plugin}' package)" if plugin else ""),
                where,
            )
        ]
    )


def describe_scaling(record: RunRecord, section: dict[str, Any] | None) -> dict[str, Any]:
    """What an export's manifest says about the scaling inside it."""
    out: dict[str, Any] = {
        "recipe": record.scaling.recipe,
        "params": (section or {}).get("params") or {},
        "state": record.scaling.state,
        "input_range": [0, 255],
    }
    if is_affine_state(record.scaling) and record.scaling.state is not None:
        out["formula"] = affine_formula(record.scaling.state)
    return out


def affine_formula(state: dict[str, Any]) -> str:
    """The computation a built-in recipe's state describes, e.g. ``(x - mean) / std``."""
    x = "x[..., ::-1]" if state.get("bgr") else "x"
    if state.get("divisor") is not None:
        x = f"{x} / {state['divisor']:g}"
    if state.get("mean") is not None:
        x = f"{x} - mean"
    if state.get("std") is not None:
        x = f"({x}) / std" if " " in x else f"{x} / std"
    return x
