"""What each hub architecture declares besides its factory: the checks ``zoo validate`` runs,
the scaling its weights need, what ``zoo fetch`` downloads and the smallest input.

All of it runs without TensorFlow (only :func:`fetch` may import KerasHub, to download).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import zoo
from zoo import plugin

from zoo_hub import scaling, sizes, weights
from zoo_hub.params import HubParams
from zoo_hub.table import PRESETS, Variant


def keras_hub_installed() -> bool:
    """Whether KerasHub can be imported (found without importing it: no TensorFlow)."""
    try:
        return importlib.util.find_spec("keras_hub") is not None
    except (ImportError, ValueError):  # a module entry set to None, a broken package
        return False


def _folder(params: HubParams, spec_dir: Path | None) -> weights.Folder:
    return weights.read_folder(weights.resolve(str(params.weights), spec_dir))


def required_scaling(params: HubParams, variant: Variant) -> str | None:
    """The recipe the weights were trained with: the preset's, or the local folder's image
    converter's (a relative folder is looked up from the working directory here; check_spec
    also looks from the spec's folder). None for random weights or an unknown scaling."""
    if params.weights is None:
        return None
    if not weights.is_path(params.weights):
        preset = PRESETS.get(params.weights)
        return preset.scaling if preset is not None else None
    try:
        return _folder(params, None).scaling
    except zoo.UserError:
        return None


def _image_size(spec: Any) -> tuple[int, int] | None:
    size = getattr(getattr(spec, "data", None), "image_size", None)
    return (int(size[0]), int(size[1])) if size else None


def _check_weights(
    params: HubParams, variant: Variant, spec: Any, spec_dir: Path
) -> tuple[int | None, list[str]]:
    """The trained size of the weights, and warnings; a UserError for bad weights."""
    if params.weights is None:
        return None, []
    if not weights.is_path(params.weights):
        return weights.preset_of(params.weights, variant).image_size, []
    folder = _folder(params, spec_dir)
    weights.check_folder(folder, variant)
    notes = []
    recipe = getattr(getattr(spec, "scaling", None), "recipe", None)
    if folder.converter is None:
        notes.append(
            f"the preset folder {folder.path} has no image converter, so the scaling "
            f"its weights expect is unknown; {variant.name}'s presets use "
            f"'{PRESETS[variant.default_preset].scaling}'"
        )
    elif folder.scaling is None:
        notes.append(
            f"the preset folder's image converter computes "
            f"{scaling.describe(*folder.converter)}, which no registered scaling "
            "recipe matches; choose scaling.recipe yourself"
        )
    elif (
        recipe is not None
        and recipe != folder.scaling
        and required_scaling(params, variant) is None
    ):
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"the preset folder {folder.path} was trained with the "
                    f"'{folder.scaling}' scaling, not '{recipe}'; set scaling: "
                    f"{{recipe: {folder.scaling}}} (or use an absolute folder path and "
                    "recipe: auto)",
                    key_path="scaling.recipe",
                )
            ]
        )
    trained = folder.image_size or (folder.config.get("image_shape") or [None])[0]
    return (int(trained) if trained else None), notes


def check_spec(params: HubParams, spec: Any, *, spec_dir: Path, variant: Variant) -> list[str]:
    """Validate-time checks: KerasHub installed, weights that exist and fit, a size the
    backbone can take, channels pretrained weights can use."""
    if not keras_hub_installed():
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{variant.name} needs KerasHub, which is not installed: {weights.INSTALL}",
                    key_path="model.architecture",
                )
            ]
        )
    trained, notes = _check_weights(params, variant, spec, spec_dir)
    size = _image_size(spec)
    if size is not None:
        why = sizes.problem(variant, *size)
        if why:
            raise zoo.UserError([zoo.Problem(f"{variant.name}: {why}", key_path="data.image_size")])
        note = sizes.resampling_note(variant, trained, *size) if trained else None
        if note:
            notes.append(note)
    channels = getattr(getattr(spec, "data", None), "channels", None)
    if params.weights is not None and channels not in (None, 1, 3):
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{variant.name}: pretrained weights need 1 (repeated) or 3 channels. "
                    f"Received: channels={channels}",
                    key_path="data.channels",
                )
            ]
        )
    if params.weights is None and params.unfreeze != "all":
        notes.append(
            f"weights: none with unfreeze: {params.unfreeze}: {variant.name}'s "
            "backbone keeps its random weights; set unfreeze: all to train it"
        )
    return notes


def fetch(params: HubParams, ctx: plugin.FetchContext, *, variant: Variant) -> list[Path]:
    """Make the weights local now: a preset through KerasHub's download and cache (offline:
    an OfflineError saying what is missing and where a preset folder can go)."""
    if params.weights is None:
        return []
    if weights.is_path(params.weights):
        folder = _folder(params, ctx.spec_dir)
        weights.check_folder(folder, variant)
        return [folder.path]
    preset = weights.preset_of(params.weights, variant)
    if ctx.offline and weights.cached(preset) is None:
        raise zoo.OfflineError([weights._offline_problem(preset, "ZOO_OFFLINE is set")])
    return [weights.download(preset)]


def smallest_input(params: HubParams, variant: Variant) -> tuple[int, int]:
    return sizes.smallest(variant)
