"""Where a variant's weights come from: a KerasHub preset, a local preset folder, or none.

``weights:`` is read as a preset name when KerasHub's table has it, as a folder when it
looks like a path, and anything else is an unknown preset (with a did-you-mean). A preset
is downloaded by KerasHub's own path (``keras_hub``'s ``get_file``: kagglehub and its cache,
``$KAGGLEHUB_CACHE`` or ``~/.cache/kagglehub``), never by zoo; a cached preset is used
without the network. Folders are read here as JSON (``config.json``, the image converter):
cheap enough for ``zoo validate``; only :func:`download` imports KerasHub.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zoo
from zoo import plugin

from zoo_hub import scaling
from zoo_hub.table import PRESETS, VARIANTS, Preset, Variant, unknown_preset

KEY = "model.params.weights"
CONFIG = "config.json"
WEIGHT_FILES = ("model.weights.h5", "model.weights.json")  # one file, or a sharded index
CONVERTER_FILES = ("image_converter.json", "preprocessor.json")
# config keys that do not change the architecture (the input size is zoo's to choose)
IGNORED_KEYS = frozenset(
    {
        "image_shape",
        "name",
        "trainable",
        "dtype",
        "data_format",
        "dropout_rate",
        "attention_dropout",
        "drop_path",
        "drop_path_rate",
        "max_drop_path_rate",
        "position_embedding_shape",
        "apply_layernorm",
        "out_features",
        "antialias_in_interpolation",
    }
)
INSTALL = "install zoo-hub with KerasHub: pip install ./packages/zoo-hub (or pip install keras-hub)"


@dataclass(frozen=True)
class Folder:
    """A local KerasHub preset folder: which backbone it holds and how it scales pixels."""

    path: Path
    backbone: str
    config: dict[str, Any]
    image_size: int | None = None
    converter: tuple[Any, Any] | None = None  # (scale, offset) of its image converter
    files: tuple[str, ...] = field(default_factory=tuple)

    @property
    def scaling(self) -> str | None:
        """The zoo recipe of its image converter (None: it has none, or none matches)."""
        return None if self.converter is None else scaling.recipe_for(*self.converter)


def is_path(weights: str) -> bool:
    """A folder rather than a preset name: has a separator, or starts with . or ~."""
    return any(sep in weights for sep in ("/", os.sep)) or weights.startswith((".", "~"))


def resolve(weights: str, spec_dir: Path | None) -> Path:
    """A folder reference as a path (relative ones start at the spec's folder when known)."""
    path = Path(weights).expanduser()
    if not path.is_absolute() and spec_dir is not None:
        path = Path(spec_dir) / path
    return path


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise zoo.UserError([zoo.Problem(f"cannot read {path}: {exc}", key_path=KEY)]) from None


def _converter(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The image converter's config in a preset folder, and the file it came from."""
    for name in CONVERTER_FILES:
        file = path / name
        if not file.is_file():
            continue
        data = _json(file)
        config = (data or {}).get("config") or {}
        if name == "preprocessor.json":
            config = ((config.get("image_converter") or {}).get("config")) or None
        if config:
            return config, name
    return None, None


def read_folder(path: Path) -> Folder:
    """What a local preset folder holds, or a UserError saying what is missing."""
    if not path.is_dir():
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"preset folder not found: {path.resolve()} (a folder written by KerasHub's "
                    "save_to_preset, holding config.json and model.weights.h5)",
                    key_path=KEY,
                )
            ]
        )
    if not (path / CONFIG).is_file():
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{path.resolve()} is not a KerasHub preset folder: it has no {CONFIG} "
                    "(save one with backbone.save_to_preset(folder))",
                    key_path=KEY,
                )
            ]
        )
    data = _json(path / CONFIG)
    if not isinstance(data, dict) or "class_name" not in data:
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{path / CONFIG} is not a KerasHub backbone config (no class_name; a Hugging "
                    "Face or timm folder must be converted with KerasHub first)",
                    key_path=KEY,
                )
            ]
        )
    files = tuple(sorted(p.name for p in path.iterdir()))
    if not any(name in files for name in WEIGHT_FILES):
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{path.resolve()} has a {CONFIG} but no weights ({' or '.join(WEIGHT_FILES)})",
                    key_path=KEY,
                )
            ]
        )
    converter, _ = _converter(path)
    size = None
    if converter and converter.get("image_size"):
        size = int(converter["image_size"][0])
    pair = (converter.get("scale"), converter.get("offset")) if converter else None
    return Folder(
        path=path,
        backbone=str(data["class_name"]),
        config=dict(data.get("config") or {}),
        image_size=size,
        converter=pair,
        files=files,
    )


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON, with a number equal to a list of that number (``patch_size: 16`` and
    ``[16, 16]`` are one config: KerasHub stores either)."""
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
    if isinstance(a, list) != isinstance(b, list):
        number, values = (a, b) if isinstance(b, list) else (b, a)
        return bool(values) and all(v == number for v in values)
    return a == b


def differences(folder: Folder, variant: Variant) -> list[str]:
    """How a folder's backbone differs from the variant's (empty: it fits)."""
    if folder.backbone != variant.family.backbone:
        return [f"it holds a {folder.backbone}, not a {variant.family.backbone}"]
    return [
        f"{key}={folder.config[key]!r} (here {value!r})"
        for key, value in variant.config.items()
        if key not in IGNORED_KEYS and key in folder.config and not _same(folder.config[key], value)
    ]


def matching_variant(folder: Folder) -> str | None:
    """The registered architecture a folder's backbone is, if any."""
    for variant in VARIANTS.values():
        if not differences(folder, variant):
            return variant.name
    return None


def check_folder(folder: Folder, variant: Variant) -> None:
    """A UserError unless the folder holds this variant's backbone."""
    diff = differences(folder, variant)
    if diff:
        other = matching_variant(folder)
        hint = f"; it is the architecture '{other}'" if other else ""
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"the preset folder {folder.path} does not fit {variant.name}: "
                    + ", ".join(diff[:4])
                    + (" ..." if len(diff) > 4 else "")
                    + hint,
                    key_path=KEY,
                )
            ]
        )


def preset_of(weights: str, variant: Variant) -> Preset:
    """The named preset, which must be one of this variant's (else a located error)."""
    preset = PRESETS.get(weights)
    if preset is None:
        raise zoo.UserError([zoo.Problem(unknown_preset(weights, variant), key_path=KEY)])
    if preset.variant != variant.name:
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"the KerasHub preset {weights!r} is a {preset.variant}, not a "
                    f"{variant.name}: set model.architecture: {preset.variant} (or weights: one of "
                    f"{', '.join(variant.presets)})",
                    key_path=KEY,
                )
            ]
        )
    return preset


# ---------------------------------------------------------------- KerasHub's download cache


def cache_dir(preset: Preset) -> Path:
    """Where kagglehub keeps ``preset`` (its own layout: models/owner/model/framework/
    variation/version)."""
    base = Path(os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub")
    parts = preset.handle.removeprefix("kaggle://").split("/")
    return base.joinpath("models", *parts)


def cached(preset: Preset) -> Path | None:
    """The cached preset folder when config and weights are there (no network needed)."""
    folder = cache_dir(preset)
    if (folder / CONFIG).is_file() and any((folder / f).is_file() for f in WEIGHT_FILES):
        return folder
    return None


def _offline_problem(preset: Preset, reason: str) -> zoo.Problem:
    return zoo.Problem(
        f"cannot download the KerasHub preset {preset.name!r} ({reason}): {cache_dir(preset)} "
        f"has no {CONFIG} and weights. Where the network is reachable, either run `zoo fetch "
        f"SPEC` (KerasHub puts {preset.handle} in that folder) and copy the folder to the same "
        "place here (or point KAGGLEHUB_CACHE at a copy), or save a preset folder with "
        f"keras_hub.models.Backbone.from_preset({preset.name!r}).save_to_preset(DIR), copy DIR "
        "here and set model.params.weights: DIR",
        key_path=KEY,
    )


def download(preset: Preset) -> Path:
    """The preset folder, downloaded by KerasHub when it is not cached yet."""
    found = cached(preset)
    if found is not None:
        return found
    if plugin.offline():
        raise zoo.OfflineError([_offline_problem(preset, "ZOO_OFFLINE is set")])
    try:
        from keras_hub.src.utils import preset_utils
    except ImportError as exc:
        raise zoo.UserError(
            [zoo.Problem(f"KerasHub is not installed ({exc}); {INSTALL}", key_path=KEY)]
        ) from None
    try:
        config = Path(preset_utils.get_file(preset.name, CONFIG))
        for name in WEIGHT_FILES:
            if preset_utils.check_file_exists(preset.name, name):
                index = Path(preset_utils.get_file(preset.name, name))
                if name.endswith(".json"):  # sharded: the index names the shards
                    for shard in sorted(set(_json(index).get("weight_map", {}).values())):
                        preset_utils.get_file(preset.name, shard)
                break
        for name in CONVERTER_FILES:
            if preset_utils.check_file_exists(preset.name, name):
                preset_utils.get_file(preset.name, name)
    except Exception as exc:  # kagglehub's network and HTTP errors: all one message
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise zoo.OfflineError([_offline_problem(preset, reason)]) from None
    return config.parent
