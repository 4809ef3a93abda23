"""Which input sizes a variant can take, said before Keras would fail deep inside a layer.

Patch transformers need the patch size to divide the height and width (DINOv2 also needs a
square); KerasHub's Swin needs every stage to hold a whole number of windows (a multiple of
patch x window x 2^(stages - 1)); KerasHub's MiT gives wrong shapes between multiples of 32;
the CNNs downsample 32 times. No TensorFlow: ``zoo validate`` calls this.
"""

from __future__ import annotations

from zoo_hub.families import CNN_MIN_SIDE, MIT_MIN_SIDE, MIT_STEP
from zoo_hub.table import Variant


def step(variant: Variant) -> int:
    """Sides must be multiples of this (1: any side from the smallest on)."""
    rule = variant.family.size_rule
    if rule in ("patch", "patch_square"):
        return int(variant.patch_size or 1)
    if rule == "window":
        return (
            int(variant.patch_size or 1)
            * int(variant.window_size or 1)
            * 2 ** (int(variant.stages or 1) - 1)
        )
    if rule == "mit":
        return MIT_STEP
    return 1


def smallest(variant: Variant) -> tuple[int, int]:
    """The smallest (height, width) the variant builds at."""
    rule = variant.family.size_rule
    side = {"mit": MIT_MIN_SIDE, "cnn": CNN_MIN_SIDE}.get(rule, step(variant))
    return side, side


def _nearest(side: int, unit: int, low: int) -> list[int]:
    below = max(low, side // unit * unit)
    above = max(low, -(-side // unit) * unit)
    return sorted({below, above})


def problem(variant: Variant, height: int, width: int) -> str | None:
    """Why ``height x width`` cannot be built (None: it can), naming the sizes that can."""
    rule, unit = variant.family.size_rule, step(variant)
    low = smallest(variant)[0]
    smallest_note = f"the smallest input these params accept is {low}x{low}"
    if height < low or width < low:
        return f"input {height}x{width} is too small: {smallest_note}"
    if rule in ("patch_square", "mit") and height != width:
        return (
            f"{variant.family.title} takes square inputs only: set data.image_size to "
            f"[{height}, {height}] or [{width}, {width}]"
        )
    if unit > 1 and (height % unit or width % unit):
        what = {
            "patch": f"the patch size {unit}",
            "patch_square": f"the patch size {unit}",
            "window": f"{unit} (patch {variant.patch_size} x window "
            f"{variant.window_size} x 2^{int(variant.stages or 1) - 1} merges)",
            "mit": f"{unit}",
        }[rule]
        sizes = [
            f"{h}x{w}"
            for h in _nearest(height, unit, low)
            for w in _nearest(width, unit, low)
            if rule not in ("patch_square", "mit") or h == w
        ]
        return (
            f"input {height}x{width}: {what} must divide the height and the width; "
            f"sizes near it that work: {', '.join(sizes)} ({smallest_note})"
        )
    return None


def resampling_note(variant: Variant, preset_size: int, height: int, width: int) -> str | None:
    """What happens to pretrained position embeddings at another size than the preset's."""
    if (height, width) == (preset_size, preset_size) or variant.family.output != "tokens":
        return None
    patch = variant.patch_size or 1
    if variant.family.fixed_positions:
        return (
            f"{variant.name}'s pretrained position embeddings (a {preset_size // patch}x"
            f"{preset_size // patch} grid for {preset_size}x{preset_size}) are resampled "
            f"bicubically to {height // patch}x{width // patch} for {height}x{width} "
            "inputs, as timm does; fine-tune (unfreeze) to adapt them"
        )
    if variant.family.key == "dinov2":
        return (
            f"DINOv2 interpolates its {preset_size // patch}x{preset_size // patch} "
            f"position embeddings to {height // patch}x{width // patch} at every call"
        )
    return None
