"""albumentations pipelines written in a spec: check, translate, build, and read back.

A pipeline is a list of items, each a one-key mapping ``{TransformName: {argument: value}}``
(or just ``TransformName`` for the defaults); the combinators ``Compose``, ``OneOf``,
``SomeOf``, ``Sequential`` and ``RandomOrder`` take ``transforms`` (a list of items), ``p``,
and for the last two ``n`` and ``replace``.

:func:`canonical_item` is what spec validation calls. albumentations 2 warns and *ignores*
arguments it does not know (1.x's ``GaussNoise(var_limit=...)`` silently does nothing), so
each argument is checked against the transform's own signature first ("did you mean"), then
the transform is built to run its own ``InitSchema``; a warning that albumentations changed
a value ("automatically adjusted") is an error, because the spec would no longer say what
runs. albumentations 1.x argument names are translated explicitly (``LEGACY``). The result
is canonical: every argument with its default filled in, tuples as lists, cv2 border and
interpolation constants by name, so ``describe(build(items)) == items`` (the round trip) and
a resolved spec validates to itself.

:func:`check_against_image` follows image sizes through the pipeline (crop boxes against
the declared image size, the final size against it) and runs each transform once on a blank
image of the declared size and channels. Everything imports albumentations lazily: ``zoo list``
imports the plugin that uses this module.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from zoo.plugin import did_you_mean

Loc = tuple[str | int, ...]

COMPOSITES = ("Compose", "OneOf", "SomeOf", "Sequential", "RandomOrder")
COMPOSITE_ARGS = ("transforms", "n", "replace", "p")

# cv2 constants by name (what a YAML file can say); canonical specs use the names.
BORDER_MODES = {"constant": 0, "replicate": 1, "reflect": 2, "wrap": 3, "reflect_101": 4}
INTERPOLATIONS = {
    "nearest": 0,
    "linear": 1,
    "cubic": 2,
    "area": 3,
    "lanczos4": 4,
    "linear_exact": 5,
    "nearest_exact": 6,
}
ENUM_ARGS = {
    "border_mode": BORDER_MODES,
    "interpolation": INTERPOLATIONS,
    "mask_interpolation": INTERPOLATIONS,
}

# Transforms that cannot run in an image-classification pipeline, and why.
UNSUPPORTED = {
    "Lambda": "it runs Python functions, and a spec holds data only",
    "Normalize": "it turns pixels into floats; pixel scaling is the spec's 'scaling' section",
    "ToFloat": "it turns pixels into floats; pixel scaling is the spec's 'scaling' section",
    "FromFloat": "it expects float pixels; augmentation works on uint8 images",
    "ToRGB": "it changes the number of channels; set data.channels instead",
    "TextImage": "it needs font files and per-image text metadata",
    "ReplayCompose": "use Compose",
    "OneOrOther": "use OneOf",
    "SelectiveChannelTransform": "not supported by zoo",
}
NEEDS_TARGETS = ("BBox", "Mask")  # class names needing bounding boxes or masks
ABSTRACT = {"BasicTransform", "DualTransform", "ImageOnlyTransform", "Transform3D", "BaseCompose"}


class TransformError(ValueError):
    """A mistake in a pipeline item; ``loc`` is its path inside the item."""

    def __init__(self, message: str, loc: Loc = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = tuple(loc)


# --- albumentations, looked up lazily ---------------------------------------------------------


def _albumentations() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its update check / deprecation chatter
        import albumentations

    return albumentations


@functools.cache
def transform_names() -> tuple[str, ...]:
    """Every albumentations transform a spec may name (leaves and combinators)."""
    A = _albumentations()
    from albumentations.core.transforms_interface import BasicTransform

    names = []
    for name in dir(A):
        obj = getattr(A, name)
        if (
            inspect.isclass(obj)
            and issubclass(obj, BasicTransform)
            and name not in ABSTRACT
            and name not in UNSUPPORTED
            and not _unsupported_reason(obj)
        ):
            names.append(name)
    return tuple(sorted({*names, *COMPOSITES}))


def _unsupported_reason(cls: type) -> str | None:
    from albumentations.core.transforms_interface import BasicTransform

    name = cls.__name__
    if name in UNSUPPORTED:
        return UNSUPPORTED[name]
    if any(part in name for part in NEEDS_TARGETS):
        return "it needs bounding boxes or masks, which image classification does not have"
    if any(b.__name__ == "Transform3D" for b in cls.__mro__):
        return "it works on 3-D volumes"
    if not issubclass(cls, BasicTransform) or name in ABSTRACT:
        return "it is not a transform"
    return None


def _transform_class(name: str, loc: Loc) -> type:
    A = _albumentations()
    cls = getattr(A, name, None) if name[:1].isupper() else None
    if not inspect.isclass(cls):
        hint = did_you_mean(name, transform_names())
        raise TransformError(
            f"unknown albumentations transform '{name}'" + (f"; {hint}" if hint else ""), loc
        )
    reason = _unsupported_reason(cls) if name not in COMPOSITES else None
    if reason:
        raise TransformError(f"the transform '{name}' cannot be used: {reason}", loc)
    return cls


@functools.cache
def init_params(name: str) -> dict[str, inspect.Parameter]:
    """The arguments a spec may give a transform: its ``__init__``'s, less ``strict``."""
    cls = getattr(_albumentations(), name)
    params = inspect.signature(cls.__init__).parameters
    allowed = COMPOSITE_ARGS if name in COMPOSITES else None
    return {
        k: p
        for k, p in params.items()
        if k not in ("self", "strict")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and (allowed is None or k in allowed)
    }


# --- albumentations 1.x argument names -------------------------------------------------------


def _pair(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value, value]


def _gauss_var_limit(args: dict[str, Any]) -> None:
    value = args.pop("var_limit")
    low, high = (0, value) if not isinstance(value, (list, tuple)) else value
    # 1.x: variance in pixel units (0..255); 2.x: standard deviation as a fraction of 255.
    args["std_range"] = [round(math.sqrt(low) / 255, 6), round(math.sqrt(high) / 255, 6)]
    if "mean" in args:
        mean = args.pop("mean")
        args["mean_range"] = [round(v / 255, 6) for v in _pair(mean)]


def _coarse(old_max: str, old_min: str, new: str) -> Callable[[dict[str, Any]], None]:
    def translate(args: dict[str, Any]) -> None:
        high = args.pop(old_max, None)
        low = args.pop(old_min, None)
        if high is None:
            high = low
        args[new] = [high if low is None else low, high]  # 1.x: min defaults to max

    return translate


def _rename(old: str, new: str) -> Callable[[dict[str, Any]], None]:
    def translate(args: dict[str, Any]) -> None:
        args[new] = args.pop(old)

    return translate


def _size_from_hw(args: dict[str, Any]) -> None:
    height, width = args.pop("height", None), args.pop("width", None)
    if height is None or width is None:
        raise TransformError(
            "albumentations 2 takes size: [height, width]; give both height "
            "and width, or write size",
            ("size",),
        )
    args["size"] = [height, width]


def _range_from(low_key: str, high_key: str, new: str) -> Callable[[dict[str, Any]], None]:
    def translate(args: dict[str, Any]) -> None:
        low, high = args.pop(low_key, None), args.pop(high_key, None)
        if low is None or high is None:
            raise TransformError(
                f"albumentations 2 replaced {low_key}/{high_key} by {new}: "
                f"write {new}: [low, high]",
                (new,),
            )
        args[new] = [low, high]

    return translate


# transform -> ((1.x argument names, translation), ...); '*' applies to every transform.
LEGACY: dict[str, tuple[tuple[tuple[str, ...], Callable[[dict[str, Any]], None]], ...]] = {
    "GaussNoise": ((("var_limit",), _gauss_var_limit),),
    "CoarseDropout": (
        (("max_holes", "min_holes"), _coarse("max_holes", "min_holes", "num_holes_range")),
        (("max_height", "min_height"), _coarse("max_height", "min_height", "hole_height_range")),
        (("max_width", "min_width"), _coarse("max_width", "min_width", "hole_width_range")),
        (("fill_value",), _rename("fill_value", "fill")),
        (("mask_fill_value",), _rename("mask_fill_value", "fill_mask")),
    ),
    "RandomResizedCrop": ((("height", "width"), _size_from_hw),),
    "RandomSizedCrop": ((("height", "width"), _size_from_hw),),
    "Downscale": (
        (("scale_min", "scale_max"), _range_from("scale_min", "scale_max", "scale_range")),
    ),
    "ImageCompression": (
        (
            ("quality_lower", "quality_upper"),
            _range_from("quality_lower", "quality_upper", "quality_range"),
        ),
    ),
    "*": (
        (("value",), _rename("value", "fill")),
        (("mask_value",), _rename("mask_value", "fill_mask")),
        (("cval",), _rename("cval", "fill")),
        (("cval_mask",), _rename("cval_mask", "fill_mask")),
    ),
}
REMOVED = {"always_apply": "albumentations 2 removed 'always_apply'; use p: 1"}


def _translate_legacy(name: str, args: dict[str, Any], loc: Loc) -> dict[str, Any]:
    params = init_params(name)
    for key in list(args):
        if key in REMOVED and key not in params:
            raise TransformError(REMOVED[key], (*loc, key))
    for old_names, translate in (*LEGACY.get(name, ()), *LEGACY["*"]):
        present = [k for k in old_names if k in args and k not in params]
        if not present:
            continue
        args = dict(args)
        try:
            translate(args)
        except TransformError as exc:
            raise TransformError(exc.message, (*loc, present[0])) from None
        except (TypeError, ValueError) as exc:
            raise TransformError(
                f"cannot translate the albumentations 1.x argument '{present[0]}': {exc}",
                (*loc, present[0]),
            ) from None
    return args


# --- canonical form ---------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _native(value: Any) -> Any:
    """What albumentations receives: lists as tuples."""
    if isinstance(value, list):
        return tuple(_native(v) for v in value)
    if isinstance(value, dict):
        return {k: _native(v) for k, v in value.items()}
    return value


def _enum_name(key: str, value: Any, loc: Loc) -> Any:
    table = ENUM_ARGS.get(key)
    if table is None or value is None:
        return value
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        for name, number in table.items():
            if number == value:
                return name
    elif isinstance(value, str):
        text = (
            value.strip()
            .lower()
            .removeprefix("cv2.")
            .removeprefix("border_")
            .removeprefix("inter_")
        )
        text = {"reflect101": "reflect_101", "default": "reflect_101"}.get(text, text)
        if text in table:
            return text
    hint = did_you_mean(str(value), table)
    raise TransformError(
        f"unknown {key} {value!r}"
        + (f"; {hint}" if hint else "")
        + f" (expected one of: {', '.join(table)})",
        (*loc, key),
    )


def _split_item(item: Any, loc: Loc) -> tuple[str, Any]:
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
        if not isinstance(name, str):
            raise TransformError(f"a transform name must be text (got {name!r})", loc)
        return name, {} if args is None else args
    raise TransformError(
        "each pipeline item must be one transform: 'Name' or "
        "{Name: {argument: value}}"
        + (
            f" (got {len(item)} keys: {', '.join(map(str, item))})"
            if isinstance(item, dict)
            else ""
        ),
        loc,
    )


def canonical_items(items: Any, loc: Loc = ()) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise TransformError("'transforms' must be a list of transforms", loc)
    if not items:
        raise TransformError("'transforms' needs at least one transform", loc)
    return [canonical_item(item, (*loc, i)) for i, item in enumerate(items)]


def canonical_item(item: Any, loc: Loc = ()) -> dict[str, Any]:
    """The checked, translated item with every default filled in; :class:`TransformError`
    (located inside the item) when something is wrong."""
    name, args = _split_item(item, loc)
    here = (*loc, name)
    _transform_class(name, loc)
    if not isinstance(args, dict):
        raise TransformError(f"the arguments of {name} must be a mapping (got {args!r})", here)
    args = _translate_legacy(name, args, here)
    params = init_params(name)
    for key in args:
        if key not in params:
            hint = did_you_mean(str(key), params)
            raise TransformError(
                f"unknown argument '{key}' of {name}"
                + (f"; {hint}" if hint else "")
                + f" (expected one of: {', '.join(params)})",
                (*here, key),
            )
    missing = [
        k for k, p in params.items() if p.default is inspect.Parameter.empty and k not in args
    ]
    if missing:
        raise TransformError(f"{name} needs {', '.join(repr(m) for m in missing)}", here)
    if name in COMPOSITES:
        return {name: _canonical_composite(name, args, here)}
    canon = {
        key: _enum_name(key, _jsonable(args[key] if key in args else p.default), here)
        for key, p in params.items()
    }
    build_leaf(name, canon, here)  # albumentations' own checks
    return {name: canon}


def _canonical_composite(name: str, args: dict[str, Any], here: Loc) -> dict[str, Any]:
    params = init_params(name)
    canon: dict[str, Any] = {
        "transforms": canonical_items(args["transforms"], (*here, "transforms"))
    }
    for key, p in params.items():
        if key != "transforms":
            canon[key] = args.get(key, p.default)
    prob = canon["p"]
    if isinstance(prob, bool) or not isinstance(prob, (int, float)) or not 0 <= prob <= 1:
        raise TransformError(
            f"p must be a probability between 0 and 1 (got {prob!r})", (*here, "p")
        )
    canon["p"] = float(prob)
    if "n" in canon:
        n = canon["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise TransformError(f"n must be a whole number >= 1 (got {n!r})", (*here, "n"))
        if not isinstance(canon["replace"], bool):
            raise TransformError(
                f"replace must be true or false (got {canon['replace']!r})", (*here, "replace")
            )
        if n > len(canon["transforms"]) and not canon["replace"]:
            raise TransformError(
                f"n={n} is more than the {len(canon['transforms'])} transforms "
                "to pick from (or set replace: true)",
                (*here, "n"),
            )
    return canon


# --- building and reading back ------------------------------------------------------------------


def _construct(name: str, kwargs: dict[str, Any], here: Loc) -> tuple[Any, list[str]]:
    cls = getattr(_albumentations(), name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            transform = cls(**kwargs)
        except Exception as exc:  # albumentations reports bad values as ValueError/TypeError
            raise _from_exception(name, exc, kwargs, here) from None
    notes = []
    for w in caught:
        text = str(w.message)
        if "adjust" in text:
            raise TransformError(f"albumentations would change this value: {text}", here)
        notes.append(f"{name}: {text}")
    return transform, notes


def _from_exception(name: str, exc: Exception, kwargs: dict[str, Any], here: Loc) -> TransformError:
    from pydantic import ValidationError

    cause = exc.__cause__ if isinstance(exc.__cause__, ValidationError) else exc
    if isinstance(cause, ValidationError):
        errors = cause.errors()
        field = next((e["loc"][0] for e in errors if e["loc"] and e["loc"][0] in kwargs), None)
        msgs: list[str] = []
        for e in errors:
            if (e["loc"][:1] == (field,) if field else not e["loc"]) or not msgs:
                text = e["msg"].removeprefix("Value error, ")
                if text not in msgs:
                    msgs.append(text)
        message = " or ".join(msgs[:3])
        if field is not None:
            return TransformError(
                f"{name} {field}: {message} (got {_jsonable(kwargs[field])!r})", (*here, field)
            )
        return TransformError(f"{name}: {message}", here)
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return TransformError(f"{name}: {first}", here)


def build_leaf(name: str, canon: dict[str, Any], here: Loc = ()) -> Any:
    kwargs = {
        k: _native(ENUM_ARGS[k][v] if k in ENUM_ARGS and isinstance(v, str) else v)
        for k, v in canon.items()
    }
    transform, _ = _construct(name, kwargs, here)
    try:
        needed = [t for t in (transform.targets_as_params or ()) if t != "image"]
    except Exception:  # noqa: BLE001 (a property that needs data)
        needed = []
    if needed:
        raise TransformError(
            f"the transform '{name}' cannot be used: it needs "
            f"{', '.join(needed)}, which image classification does not have",
            here,
        )
    transform._zoo_args = canon  # what the spec said, read back by describe()
    return transform


def build(items: list[dict[str, Any]], seed: int | None = None) -> Any:
    """An ``A.Compose`` (p=1) of the canonical ``items``, seeded."""
    A = _albumentations()
    return A.Compose([build_item(item) for item in items], p=1.0, seed=seed)


def build_item(item: dict[str, Any], loc: Loc = ()) -> Any:
    name, args = next(iter(item.items()))
    if name in COMPOSITES:
        cls = getattr(_albumentations(), name)
        children = [
            build_item(c, (*loc, name, "transforms", i)) for i, c in enumerate(args["transforms"])
        ]
        return cls(children, **{k: v for k, v in args.items() if k != "transforms"})
    return build_leaf(name, args, (*loc, name))


def describe(transform: Any) -> dict[str, Any]:
    """The spec items of a built pipeline, read from the live objects: the tree's shape, each
    transform's class, ``p`` (and ``n``/``replace``) from the object; each leaf's other
    arguments as given at build time (albumentations' own ``to_dict`` loses some)."""
    from albumentations.core.composition import BaseCompose

    name = type(transform).__name__
    if isinstance(transform, BaseCompose):
        out: dict[str, Any] = {"transforms": [describe(t) for t in transform.transforms]}
        for key in init_params(name):
            if key != "transforms":
                out[key] = _jsonable(getattr(transform, key))
        return {name: out}
    args = getattr(transform, "_zoo_args", None)
    if args is None:
        raise ValueError(f"{name} was not built by zoo; its arguments are unknown")
    return {name: {**args, "p": float(transform.p)}}


def describe_pipeline(compose: Any) -> list[dict[str, Any]]:
    """The items of a pipeline made by :func:`build`."""
    return [describe(t) for t in compose.transforms]


def leaves(items: Iterable[dict[str, Any]]) -> Iterable[tuple[str, dict[str, Any]]]:
    for item in items:
        name, args = next(iter(item.items()))
        if name in COMPOSITES:
            yield from leaves(args["transforms"])
        else:
            yield name, args


def advisories(items: list[dict[str, Any]]) -> list[str]:
    """albumentations' own warnings about a canonical pipeline (deprecations, slowness)."""
    notes: list[str] = []
    for name, args in leaves(items):
        kwargs = {
            k: _native(ENUM_ARGS[k][v] if k in ENUM_ARGS and isinstance(v, str) else v)
            for k, v in args.items()
        }
        for note in _construct(name, kwargs, ())[1]:
            if note not in notes:
                notes.append(note)
    return notes


# --- sizes and a dry run against the declared image -------------------------------------------

Sizes = frozenset[tuple[int, int]] | None  # the sizes an image can have here; None: unknown
SWAPS = {"Transpose", "RandomRotate90", "D4", "SquareSymmetry"}
UNKNOWN_SIZE = {
    "LongestMaxSize",
    "SmallestMaxSize",
    "RandomScale",
    "Pad",
    "CropAndPad",
    "RandomCropFromBorders",
}


def check_against_image(
    items: list[dict[str, Any]],
    image_size: tuple[int, int],
    channels: int | None,
    probe: bool = True,
) -> list[TransformError]:
    """Problems of a canonical pipeline on images of ``image_size`` (and ``channels``)."""
    problems: list[TransformError] = []
    h, w = int(image_size[0]), int(image_size[1])
    start = frozenset({(h, w)})
    out = _walk(items, start, channels if probe else None, (), problems)
    if out is not None and out != start:
        other = sorted(out - start)
        problems.append(
            TransformError(
                "the pipeline can output images of "
                + ", ".join(f"{a}x{b}" for a, b in other)
                + f" pixels but the images are {h}x{w}: batches need one size; end with "
                f"Resize: {{height: {h}, width: {w}}} (p: 1)",
                (),
            )
        )
    return problems


def _walk(
    items: list[dict[str, Any]],
    sizes: Sizes,
    channels: int | None,
    loc: Loc,
    problems: list[TransformError],
) -> Sizes:
    for i, item in enumerate(items):
        name, args = next(iter(item.items()))
        here = (*loc, i, name)
        if name in COMPOSITES:
            sizes = _walk_composite(name, args, sizes, channels, here, problems)
        else:
            sizes = _walk_leaf(name, args, sizes, channels, here, problems)
    return sizes


def _walk_composite(
    name: str,
    args: dict[str, Any],
    sizes: Sizes,
    channels: int | None,
    here: Loc,
    problems: list[TransformError],
) -> Sizes:
    loc = (*here, "transforms")
    children = args["transforms"]
    if name in ("Compose", "Sequential"):
        out = _walk(children, sizes, channels, loc, problems)
    elif name == "OneOf":
        branches = [_walk_one(c, i, sizes, channels, loc, problems) for i, c in enumerate(children)]
        out = None if any(b is None for b in branches) else frozenset().union(*branches)  # type: ignore[arg-type]
    else:  # SomeOf, RandomOrder: any subset, any order
        branches = [_walk_one(c, i, sizes, channels, loc, problems) for i, c in enumerate(children)]
        out = sizes if all(b == sizes for b in branches) else None
    if out is not None and sizes is not None and args["p"] < 1:
        out = out | sizes
    return out


def _walk_one(
    item: dict[str, Any],
    index: int,
    sizes: Sizes,
    channels: int | None,
    loc: Loc,
    problems: list[TransformError],
) -> Sizes:
    name, args = next(iter(item.items()))
    here = (*loc, index, name)
    if name in COMPOSITES:
        return _walk_composite(name, args, sizes, channels, here, problems)
    return _walk_leaf(name, {**args, "p": 1.0}, sizes, channels, here, problems)


def _walk_leaf(
    name: str,
    args: dict[str, Any],
    sizes: Sizes,
    channels: int | None,
    here: Loc,
    problems: list[TransformError],
) -> Sizes:
    out: Sizes = sizes
    if sizes is not None:
        boxes = [p for h, w in sorted(sizes) for p in _box_problems(name, args, h, w, here)]
        problems.extend(boxes)
        out = _leaf_sizes(name, args, sizes)
        if channels is not None and not boxes:
            for h, w in sorted(sizes)[:2]:
                problem = _probe(name, args, h, w, channels, here)
                if problem:
                    problems.append(problem)
                    break
    if out is not None and sizes is not None and args.get("p", 1) < 1:
        out = out | sizes
    return out


def _box_problems(
    name: str, args: dict[str, Any], h: int, w: int, here: Loc
) -> list[TransformError]:
    if args.get("pad_if_needed"):
        return []
    out = []
    if name == "Crop":
        for key, limit, side in (("x_max", w, "wide"), ("y_max", h, "high")):
            if args[key] > limit:
                out.append(
                    TransformError(
                        f"the crop box's {key}={args[key]} is outside the image, "
                        f"which is {limit} pixels {side} here ({h}x{w})",
                        (*here, key),
                    )
                )
        for low, high in (("x_min", "x_max"), ("y_min", "y_max")):
            if args[low] >= args[high]:
                out.append(TransformError(f"{low} must be less than {high}", (*here, low)))
    elif name in ("CenterCrop", "RandomCrop"):
        for key, limit in (("height", h), ("width", w)):
            if args[key] > limit:
                out.append(
                    TransformError(
                        f"{name} {key}={args[key]} is larger than the image "
                        f"({h}x{w} here); set pad_if_needed: true or crop less",
                        (*here, key),
                    )
                )
    return out


def _leaf_sizes(name: str, args: dict[str, Any], sizes: frozenset[tuple[int, int]]) -> Sizes:
    if name == "Crop":
        return frozenset({(args["y_max"] - args["y_min"], args["x_max"] - args["x_min"])})
    if name in ("CenterCrop", "RandomCrop", "Resize"):
        return frozenset({(args["height"], args["width"])})
    if name in ("RandomResizedCrop", "RandomSizedCrop"):
        return frozenset({tuple(args["size"])})
    if name in SWAPS:
        return sizes | {(w, h) for h, w in sizes}
    if name == "PadIfNeeded":
        if args.get("min_height") is None or args.get("min_width") is None:
            return None
        return frozenset(
            {(max(h, args["min_height"]), max(w, args["min_width"])) for h, w in sizes}
        )
    if name in UNKNOWN_SIZE or args.get("fit_output") or args.get("crop_border"):
        return None
    return sizes


def _probe(
    name: str, args: dict[str, Any], h: int, w: int, channels: int, here: Loc
) -> TransformError | None:
    """Run the transform once (p=1) on a blank-ish image; report what breaks."""
    image = np.random.default_rng(0).integers(0, 256, (h, w, channels), dtype=np.uint8)
    try:
        transform = build_leaf(name, {**args, "p": 1.0}, here)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = transform(image=image)["image"]
    except TransformError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 (albumentations raises many kinds)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return TransformError(f"{name} fails on a {h}x{w}x{channels} image: {first}", here)
    result = np.asarray(result)
    got = result.shape[2] if result.ndim == 3 else 1
    if got != channels:
        return TransformError(
            f"{name} turns {channels}-channel images into {got}-channel ones", here
        )
    if result.dtype != np.uint8:
        return TransformError(
            f"{name} returns {result.dtype} pixels; augmentation must keep uint8", here
        )
    return None
