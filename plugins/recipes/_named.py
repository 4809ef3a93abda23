"""The built-in augmentation recipes as albumentations pipelines.

``keras_style`` turns Keras' ``ImageDataGenerator`` arguments into transforms and reads
them back from a built pipeline; ``light``, ``medium`` and ``heavy`` are made from commonly
used transforms (docs/reference-models.md): flips, shift-scale-rotate (as ``Affine``, its
albumentations 2 successor), random and center crops (resized back), brightness/contrast,
colour jitter, CLAHE, blur and coarse dropout. Each expansion is a list of spec items,
checked and filled in by :func:`zoo_builtins.recipes._albu_schema.canonical_items` like a
hand-written pipeline.
"""

from __future__ import annotations

from typing import Any

# Keras fill_mode -> cv2 border mode ('reflect' is Keras' abcddcba, cv2's BORDER_REFLECT).
FILL_MODES = {"nearest": "replicate", "constant": "constant", "reflect": "reflect", "wrap": "wrap"}


def _r(value: float) -> float:
    """A float with the noise of arithmetic taken off (12 significant digits)."""
    return float(f"{value:.12g}")


# --- keras_style ------------------------------------------------------------------------------


def keras_items(params: Any) -> list[dict[str, Any]]:
    """ImageDataGenerator's random transform, in its order: affine, flips, brightness."""
    lo, hi = params.zoom_range
    geometric = bool(
        params.rotation_range
        or params.width_shift_range
        or params.height_shift_range
        or (lo, hi) != (1.0, 1.0)
    )
    items: list[dict[str, Any]] = [
        {
            "Affine": {
                "rotate": [-params.rotation_range, params.rotation_range],
                "translate_percent": {
                    "x": [-params.width_shift_range, params.width_shift_range],
                    "y": [-params.height_shift_range, params.height_shift_range],
                },
                # Keras zooms by z in [lo, hi] with z > 1 shrinking the picture; albumentations'
                # scale > 1 enlarges it, so scale = 1 / z.
                "scale": [1 / hi, 1 / lo],  # exact: read back as 1 / scale, rounded
                "border_mode": FILL_MODES[params.fill_mode],
                "fill": params.cval,
                "p": 1.0 if geometric else 0.0,  # kept at p=0 so fill_mode and cval read back
            }
        }
    ]
    if params.horizontal_flip:
        items.append({"HorizontalFlip": {"p": 0.5}})
    if params.vertical_flip:
        items.append({"VerticalFlip": {"p": 0.5}})
    if params.brightness_range is not None:
        items.append(
            {
                "MultiplicativeNoise": {  # PIL's Brightness(u): every pixel times u
                    "multiplier": list(params.brightness_range),
                    "per_channel": False,
                    "elementwise": False,
                    "p": 1.0,
                }
            }
        )
    return items


def keras_params(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The keras_style params a pipeline made by :func:`keras_items` stands for."""
    out: dict[str, Any] = {
        "horizontal_flip": False,
        "vertical_flip": False,
        "brightness_range": None,
    }
    modes = {v: k for k, v in FILL_MODES.items()}
    for item in items:
        ((name, args),) = item.items()
        if name == "Affine":
            out["rotation_range"] = args["rotate"][1]
            out["width_shift_range"] = args["translate_percent"]["x"][1]
            out["height_shift_range"] = args["translate_percent"]["y"][1]
            out["zoom_range"] = [_r(1 / args["scale"][1]), _r(1 / args["scale"][0])]
            out["fill_mode"] = modes[args["border_mode"]]
            out["cval"] = args["fill"]
        elif name == "HorizontalFlip":
            out["horizontal_flip"] = True
        elif name == "VerticalFlip":
            out["vertical_flip"] = True
        elif name == "MultiplicativeNoise":
            out["brightness_range"] = list(args["multiplier"])
        else:
            raise ValueError(f"{name} is not part of a keras_style pipeline")
    return out


# --- light / medium / heavy ---------------------------------------------------------------------


def _crop_back(kind: str, fraction: float, size: tuple[int, int]) -> dict[str, Any]:
    h, w = size
    ch, cw = max(1, round(h * fraction)), max(1, round(w * fraction))
    return {
        "Compose": {
            "p": 1.0,
            "transforms": [
                {kind: {"height": ch, "width": cw, "p": 1.0}},
                {"Resize": {"height": h, "width": w, "p": 1.0}},
            ],
        }
    }


def _affine(shift: float, scale: float, rotate: float, p: float) -> dict[str, Any]:
    return {
        "Affine": {
            "translate_percent": [_r(-shift), _r(shift)],
            "scale": [_r(1 - scale), _r(1 + scale)],
            "rotate": [_r(-rotate), _r(rotate)],
            "border_mode": "reflect_101",
            "p": p,
        }
    }


def light_items(p: float, s: float, size: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {"HorizontalFlip": {"p": p}},
        _affine(0.0625 * s, 0.1 * s, 15 * s, p),
        {
            "RandomBrightnessContrast": {
                "brightness_limit": _r(0.2 * s),
                "contrast_limit": _r(0.2 * s),
                "p": p,
            }
        },
    ]


def medium_items(p: float, s: float, size: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {"HorizontalFlip": {"p": p}},
        _affine(0.1 * s, 0.15 * s, 30 * s, p),
        {
            "OneOf": {
                "p": p,
                "transforms": [
                    {
                        "RandomBrightnessContrast": {
                            "brightness_limit": _r(0.25 * s),
                            "contrast_limit": _r(0.25 * s),
                            "p": 1.0,
                        }
                    },
                    {
                        "ColorJitter": {
                            "brightness": _r(0.2 * s),
                            "contrast": _r(0.2 * s),
                            "saturation": _r(0.2 * s),
                            "hue": _r(0.05 * s),
                            "p": 1.0,
                        }
                    },
                ],
            }
        },
        {
            "OneOf": {
                "p": _r(p / 2),
                "transforms": [
                    {"Blur": {"blur_limit": [3, 5], "p": 1.0}},
                    {"CLAHE": {"clip_limit": [1, 4], "p": 1.0}},
                ],
            }
        },
        {"OneOf": {"p": _r(p / 2), "transforms": [_crop_back("RandomCrop", 1 - 0.125 * s, size)]}},
    ]


def heavy_items(p: float, s: float, size: tuple[int, int]) -> list[dict[str, Any]]:
    return [
        {"HorizontalFlip": {"p": p}},
        {"VerticalFlip": {"p": _r(p / 2)}},
        _affine(0.2 * s, 0.25 * s, 45 * s, p),
        {
            "OneOf": {
                "p": p,
                "transforms": [
                    {
                        "RandomBrightnessContrast": {
                            "brightness_limit": _r(0.3 * s),
                            "contrast_limit": _r(0.3 * s),
                            "p": 1.0,
                        }
                    },
                    {
                        "ColorJitter": {
                            "brightness": _r(0.3 * s),
                            "contrast": _r(0.3 * s),
                            "saturation": _r(0.3 * s),
                            "hue": _r(0.1 * s),
                            "p": 1.0,
                        }
                    },
                    {"CLAHE": {"clip_limit": [1, 4], "p": 1.0}},
                ],
            }
        },
        {"Blur": {"blur_limit": [3, 7], "p": _r(p / 2)}},
        {
            "OneOf": {
                "p": _r(p / 2),
                "transforms": [
                    _crop_back("RandomCrop", 1 - 0.2 * s / 2, size),
                    _crop_back("CenterCrop", 1 - 0.2 * s / 2, size),
                ],
            }
        },
        {
            "CoarseDropout": {
                "num_holes_range": [1, 8],
                "hole_height_range": [_r(0.05 * s), _r(0.1 * s)],
                "hole_width_range": [_r(0.05 * s), _r(0.1 * s)],
                "p": _r(p / 2),
            }
        },
    ]


NAMED = {
    "light": (light_items, "Flip, small shift-scale-rotate, brightness/contrast."),
    "medium": (
        medium_items,
        "light, stronger, plus colour jitter, blur or CLAHE, and a random crop resized back.",
    ),
    "heavy": (
        heavy_items,
        "medium, stronger, plus vertical flip, random or center crop resized back, "
        "and coarse dropout.",
    ),
}
