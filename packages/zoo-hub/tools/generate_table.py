"""Write ``zoo_hub/_presets.py`` from the installed KerasHub's own preset table.

    python tools/generate_table.py            # regenerate after upgrading keras-hub
    python tools/generate_table.py --presets DIR   # also compare with real preset folders

What comes from where:

- the families: every backbone class of a ``keras_hub.models.*ImageClassifier``, plus the
  DINOv2/DINOv3 encoders; those keras.applications already covers are left out
  (``zoo_hub.families.EXCLUDED``), and a family this package does not know stops the
  generator, so a keras-hub upgrade that adds one is noticed;
- the presets of each family, their descriptions, published parameter counts and download
  handles: KerasHub's table (``<Backbone>.presets``);
- each preset's backbone config and normalisation: the upstream model it was converted from
  (``tools/upstream.py``), turned into a KerasHub config by KerasHub's own converter
  functions, since the preset files themselves are on Kaggle. Every config is built once
  (random weights) and its parameter count written next to KerasHub's published one;
  ``--presets DIR`` compares with real preset folders (``DIR/<preset>/config.json`` and
  ``image_converter.json``) where you have them.

The installed plugin reads only the written file (plain data, no TensorFlow);
``tests/test_table.py`` checks that it still matches the installed KerasHub table.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import pprint
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent
OUT = PACKAGE / "zoo_hub" / "_presets.py"
sys.path[:0] = [str(HERE), str(PACKAGE)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import upstream  # noqa: E402

from zoo_hub import families, scaling  # noqa: E402

ALSO = ("DINOV2Backbone", "DINOV3Backbone")  # image encoders without an ImageClassifier
BIG = 400_000_000  # above this, count a transformer from 1- and 2-block builds
CONFIG_IGNORED = {"image_shape", "name", "trainable", "dtype"}


def classification_backbones(keras_hub: Any) -> list[str]:
    """Backbone classes of every KerasHub image classifier, plus the DINO encoders."""
    names = set(ALSO)
    for attr in dir(keras_hub.models):
        obj = getattr(keras_hub.models, attr)
        backbone = getattr(obj, "backbone_cls", None)
        if (
            isinstance(obj, type)
            and issubclass(obj, keras_hub.models.ImageClassifier)
            and backbone is not None
        ):
            names.add(backbone.__name__)
    return sorted(names)


def backbone_config(up: upstream.Upstream) -> dict[str, Any]:
    """KerasHub's own converter applied to the upstream config (image_shape set apart)."""
    if up.converter is None:
        config = dict(up.direct_config)
    else:
        module = importlib.import_module(f"keras_hub.src.utils.{up.converter}")
        config = dict(module.convert_backbone_config(up.source_config))
    config.pop("image_shape", None)
    return json.loads(json.dumps(config))  # tuples to lists: the form config.json has


def _build(cls: Any, config: dict[str, Any], size: int) -> Any:
    return cls(**config, image_shape=(size, size, 3))


def _output_shape(model: Any, cls: Any) -> list[Any]:
    """The shape of the output zoo pools (a backbone with several: its family's key)."""
    output = model.output
    if isinstance(output, dict):
        output = output[families.FAMILIES[cls.__name__].feature_key]
    return list(output.shape)


def measure(cls: Any, config: dict[str, Any], size: int, published: int) -> dict[str, Any]:
    """Parameters, output shape, features and prefix tokens of one config at ``size``."""
    layers = config.get("num_layers")
    if published > BIG and isinstance(layers, int) and layers > 2:
        counts = []
        for n in (1, 2):
            model = _build(cls, {**config, "num_layers": n}, size)
            counts.append(model.count_params())
            shape = _output_shape(model, cls)
            del model
            gc.collect()
        params = counts[0] + (counts[1] - counts[0]) * (layers - 1)
    else:
        model = _build(cls, config, size)
        params, shape = model.count_params(), _output_shape(model, cls)
        del model
        gc.collect()
    return {"params": int(params), "output_shape": [d for d in shape]}


def prefix_tokens(
    family: families.Family, shape: list[Any], size: int, config: dict[str, Any]
) -> int:
    if family.output != "tokens" or family.size_rule == "window":
        return 0
    patch = config["patch_size"]
    patch = patch[0] if isinstance(patch, list) else patch
    return int(shape[1]) - (size // patch) ** 2


def variant_row(
    cls: Any,
    family: families.Family,
    up: upstream.Upstream,
    config: dict[str, Any],
    presets: list[str],
    published: int,
) -> dict[str, Any]:
    size = up.image_size
    measured = measure(cls, config, size, published)
    shape = measured["output_shape"]
    patch = config.get("patch_size")
    row = {
        "backbone": cls.__name__,
        "family": family.key,
        "config": config,
        "image_size": size,
        "patch_size": (patch[0] if isinstance(patch, list) else patch),
        "window_size": config.get("window_size"),
        "stages": len(config["depths"]) if family.size_rule == "window" else None,
        "params": measured["params"],
        "features": int(shape[-1]),
        "prefix_tokens": prefix_tokens(family, shape, size, config),
        "presets": presets,
    }
    print(
        f"  {presets[0]:45s} -> {family.key}: {measured['params']:,} parameters "
        f"(KerasHub: {published:,}), output {shape}",
        file=sys.stderr,
    )
    return row


def compare_folder(
    folder: Path, preset: str, row: dict[str, Any], preset_row: dict[str, Any]
) -> list[str]:
    """Differences between a real preset folder and what the table derived."""
    from zoo_hub import weights

    found = []
    info = weights.read_folder(folder)
    if info.backbone != row["backbone"]:
        found.append(f"{preset}: folder holds {info.backbone}, table says {row['backbone']}")
    for key, value in row["config"].items():
        if key in info.config and json.loads(json.dumps(info.config[key])) != value:
            found.append(f"{preset}: config {key}={info.config[key]!r}, table says {value!r}")
    if info.scaling is not None and info.scaling != preset_row["scaling"]:
        found.append(
            f"{preset}: image converter is '{info.scaling}', table says '{preset_row['scaling']}'"
        )
    return found


def generate(presets_dir: Path | None) -> tuple[str, list[str]]:
    import keras_hub

    excluded, variants, presets, problems = {}, {}, {}, []
    for name in classification_backbones(keras_hub):
        if name in families.EXCLUDED:
            excluded[name] = families.EXCLUDED[name]
            continue
        family = families.FAMILIES.get(name)
        if family is None:
            raise SystemExit(
                f"keras-hub {keras_hub.__version__} has an image-classification "
                f"backbone zoo_hub does not know: {name}. Add it to "
                "zoo_hub/families.py (or EXCLUDED) and tools/upstream.py"
            )
        cls = getattr(keras_hub.models, name)
        print(f"{name}:", file=sys.stderr)
        grouped: dict[str, list[tuple[str, upstream.Upstream, dict[str, Any]]]] = {}
        for preset, entry in cls.presets.items():
            up = upstream.resolve(name, preset)
            config = backbone_config(up)
            recipe = scaling.recipe_for_stats(up.mean, up.std)
            if recipe is None:
                raise SystemExit(
                    f"{preset}: normalisation mean={up.mean} std={up.std} "
                    "matches no recipe; add one to zoo_hub/scaling.py"
                )
            meta = entry["metadata"]
            presets[preset] = {
                "variant": up.variant,
                "handle": entry["kaggle_handle"],
                "description": " ".join(str(meta.get("description", "")).split()),
                "kerashub_params": int(meta["params"]),
                "image_size": up.image_size,
                "mean": list(up.mean),
                "std": list(up.std),
                "scaling": recipe,
                "source": up.source,
            }
            group = grouped.setdefault(up.variant, [])
            if group and group[0][2] != config:
                raise SystemExit(
                    f"{preset} and {group[0][0]} share the variant name "
                    f"{up.variant} but not their config"
                )
            group.append((preset, up, config))
        for variant, group in grouped.items():
            first, up, config = group[0]
            row = variant_row(
                cls, family, up, config, [p for p, _, _ in group], presets[first]["kerashub_params"]
            )
            variants[variant] = row
            for preset, _, _ in group:
                folder = presets_dir / preset if presets_dir else None
                if folder is not None and (folder / "config.json").is_file():
                    problems += compare_folder(folder, preset, row, presets[preset])
    text = render(keras_hub.__version__, excluded, variants, presets)
    return text, problems


def render(
    version: str, excluded: dict[str, str], variants: dict[str, Any], presets: dict[str, Any]
) -> str:
    def block(name: str, kind: str, value: Any) -> str:
        return f"{name}: {kind} = {pprint.pformat(value, width=100, sort_dicts=False)}\n"

    rows = "dict[str, dict[str, Any]]"
    return (
        "# ruff: noqa: E501\n"
        '"""KerasHub image-classification presets, generated by tools/generate_table.py from\n'
        f"keras-hub {version}; do not edit by hand (regenerate after upgrading keras-hub).\n\n"
        "VARIANTS: one entry per architecture (a backbone config); PRESETS: KerasHub's\n"
        "presets of those architectures with their download handle, KerasHub's published\n"
        "parameter count, the trained resolution and the zoo scaling recipe they expect.\n"
        '"""\n\n'
        "from typing import Any\n\n"
        + block("KERAS_HUB_VERSION", "str", version)
        + "\n"
        + block("EXCLUDED", "dict[str, str]", excluded)
        + "\n"
        + block("VARIANTS", rows, variants)
        + "\n"
        + block("PRESETS", rows, presets)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", type=Path, help="folder of real preset folders to compare")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    text, problems = generate(args.presets)
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    for problem in problems:
        print(f"differs: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
