"""The built-in recipes as batched, seeded TensorFlow ops: the ``graph`` capability.

``keras_style`` and ``light`` are flips, an affine warp (rotation, shift, zoom), and a
brightness/contrast change; here they are one XLA-compiled function of the whole NHWC batch
inside the tf.data graph (flips folded into the warp's matrix, one bilinear resampling, one
multiply-add), every random number drawn by ``tf.random.stateless_uniform`` from the
per-batch seed the pipeline passes in (same seed, same batch). They follow the albumentations
pipelines the same recipes expand to (``_named.py``): the same ranges, probabilities, order
and border modes, drawn per image; pixels are not equal (other random streams, one
resampling instead of several, sub-pixel shifts where albumentations rounds them to whole
pixels, rounding only at the end), the distributions are.

TensorFlow is imported inside the functions: ``zoo list`` imports this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# albumentations border modes, each a map of integer pixel indices (see _fill_index).
FILL_MODES = ("replicate", "constant", "reflect", "reflect_101", "wrap")


@dataclass(frozen=True)
class Affine:
    """albumentations' Affine (keep_ratio false), about the centre: x and y scaled each by a
    factor in ``scale``, rotated by up to ``rotate`` degrees either way, shifted by fractions
    of the width and height in ``shift_x``/``shift_y``; on each image with probability p."""

    rotate: float
    shift_x: tuple[float, float]
    shift_y: tuple[float, float]
    scale: tuple[float, float]
    border_mode: str
    fill: float
    p: float


@dataclass(frozen=True)
class Recipe:
    """Flips and an affine warp (one bilinear resampling: the flips are folded into the
    warp's matrix), then one per-image ``x * alpha + beta`` for brightness and contrast."""

    hflip: float = 0.0  # probability of a left-right flip
    vflip: float = 0.0  # probability of an upside-down flip
    flips_first: bool = True  # light: flip then warp; keras_style: warp then flip
    affine: Affine | None = None
    brightness: float = 0.0  # RandomBrightnessContrast: beta = 255 * U(-b, b)
    contrast: float = 0.0  # alpha = 1 + U(-c, c)
    color_p: float = 0.0  # probability of the brightness/contrast change
    multiply: tuple[float, float] | None = None  # Keras brightness_range: alpha = U(lo, hi)


def _fill_index(tf: Any, i: Any, n: Any, mode: str) -> tuple[Any, Any]:
    """(index inside 0..n-1, inside?) for integer pixel indices ``i`` under a border mode."""
    inside = (i >= 0) & (i < n)
    if mode == "reflect":  # cba|abc|cba (cv2 BORDER_REFLECT, Keras' reflect)
        i = tf.math.floormod(i, 2 * n)
        i = tf.where(i >= n, 2 * n - 1 - i, i)
    elif mode == "reflect_101":  # dcb|abcd|cba (cv2 BORDER_REFLECT_101)
        period = tf.maximum(2 * n - 2, 1)
        i = tf.math.floormod(i, period)
        i = tf.where(i >= n, period - i, i)
    elif mode == "wrap":
        i = tf.math.floormod(i, n)
    return tf.clip_by_value(i, 0, n - 1), inside  # replicate; constant masks with inside


def _augment(tf: Any, recipe: Recipe, images: Any, seed: Any) -> Any:
    shape = tf.shape(images)
    b, h, w, c = shape[0], shape[1], shape[2], shape[3]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    u = tf.random.stateless_uniform([b, 12], seed)  # every random number of the batch

    def draw(k: int, low: float, high: float) -> Any:
        return (low + (high - low) * u[:, k])[:, None, None]

    def coin(k: int, p: float) -> Any:
        return (u[:, k] < p)[:, None, None]

    geometric = recipe.affine is not None or recipe.hflip > 0 or recipe.vflip > 0
    if geometric:
        ys, xs = tf.meshgrid(tf.range(hf), tf.range(wf), indexing="ij")
        xs, ys = xs[None], ys[None]

        def flip(x: Any, y: Any) -> tuple[Any, Any]:
            if recipe.hflip > 0:
                x = tf.where(coin(0, recipe.hflip), wf - 1 - x, x)
            if recipe.vflip > 0:
                y = tf.where(coin(1, recipe.vflip), hf - 1 - y, y)
            return x, y

        def warp(x: Any, y: Any) -> tuple[Any, Any]:
            a = recipe.affine
            if a is None:
                return x, y
            on = coin(2, a.p)
            angle = tf.where(on, draw(3, -a.rotate, a.rotate), 0.0) * (math.pi / 180)
            dx = tf.where(on, draw(4, *a.shift_x), 0.0) * wf
            dy = tf.where(on, draw(5, *a.shift_y), 0.0) * hf
            sx = tf.where(on, draw(6, *a.scale), 1.0)
            sy = tf.where(on, draw(7, *a.scale), 1.0)
            # Forward: out = c + R S (in - c) + t, R = [[cos, sin], [-sin, cos]]; we need the
            # output point's source: in = S^-1 R^T (out - c - t) + c.
            cos, sin = tf.cos(angle), tf.sin(angle)
            cx, cy = (wf - 1) / 2, (hf - 1) / 2
            ux, uy = x - cx - dx, y - cy - dy
            return (cos * ux - sin * uy) / sx + cx, (sin * ux + cos * uy) / sy + cy

        if recipe.flips_first:  # out = warp(flip(in)): in = flip(warp^-1(out))
            xi, yi = flip(*warp(xs, ys))
        else:  # out = flip(warp(in)): in = warp^-1(flip(out))
            xi, yi = warp(*flip(xs, ys))
        mode = recipe.affine.border_mode if recipe.affine else "replicate"
        fill = recipe.affine.fill if recipe.affine else 0.0
        x0, y0 = tf.floor(xi), tf.floor(yi)
        fx, fy = (xi - x0)[..., None], (yi - y0)[..., None]
        x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
        flat = tf.reshape(images, [-1, c])
        base = (tf.range(b) * h * w)[:, None, None]
        cols = [_fill_index(tf, x0 + k, w, mode) for k in (0, 1)]
        rows = [_fill_index(tf, y0 + k, h, mode) for k in (0, 1)]

        def pixel(row: tuple[Any, Any], col: tuple[Any, Any]) -> Any:
            got = tf.gather(flat, base + row[0] * w + col[0])
            if mode == "constant":
                got = tf.where((row[1] & col[1])[..., None], got, fill)
            return got

        top = pixel(rows[0], cols[0]) * (1 - fx) + pixel(rows[0], cols[1]) * fx
        bottom = pixel(rows[1], cols[0]) * (1 - fx) + pixel(rows[1], cols[1]) * fx
        images = top * (1 - fy) + bottom * fy
    alpha, beta = None, None
    if recipe.color_p > 0 and (recipe.brightness or recipe.contrast):
        on = coin(8, recipe.color_p)
        alpha = tf.where(on, draw(9, 1 - recipe.contrast, 1 + recipe.contrast), 1.0)
        beta = tf.where(on, 255 * draw(10, -recipe.brightness, recipe.brightness), 0.0)
    elif recipe.multiply is not None:
        alpha = draw(11, *recipe.multiply)
    if alpha is not None:
        images = images * alpha[..., None] + (0.0 if beta is None else beta[..., None])
    return tf.clip_by_value(images, 0.0, 255.0)


def compile_recipe(recipe: Recipe) -> Callable[[Any, Any], Any]:
    """``fn(images, seed)``: the recipe on a float32 NHWC batch, XLA-compiled (the warp's
    coordinates, gathers and blend fuse into one loop: several times faster on CPU than
    ``ImageProjectiveTransformV3``), from one ``stateless_uniform`` draw of the batch seed."""
    compiled: list[Any] = []

    def augment(images: Any, seed: Any) -> Any:
        import tensorflow as tf

        if not compiled:
            compiled.append(tf.function(
                lambda x, s: _augment(tf, recipe, x, s), jit_compile=True, autograph=False))
        images = tf.convert_to_tensor(images, tf.float32)
        out = compiled[0](images, tf.cast(seed, tf.int64))
        out.set_shape(images.shape)
        return out

    augment.recipe = recipe  # type: ignore[attr-defined]
    return augment


# --- the recipes ------------------------------------------------------------------------------


def keras_style_recipe(params: Any) -> Recipe:
    """ImageDataGenerator's order (as in ``_named.keras_items``): affine, flips, brightness."""
    from zoo_builtins.recipes._named import FILL_MODES as KERAS_FILL

    lo, hi = params.zoom_range
    affine = None
    if (
        params.rotation_range
        or params.width_shift_range
        or params.height_shift_range
        or (lo, hi) != (1.0, 1.0)
    ):
        w, h = params.width_shift_range, params.height_shift_range
        affine = Affine(
            float(params.rotation_range), (-w, w), (-h, h),
            (1 / hi, 1 / lo),  # Keras' zoom z > 1 shrinks the picture: scale 1 / z
            KERAS_FILL[params.fill_mode], float(params.cval), 1.0,
        )
    return Recipe(
        hflip=0.5 if params.horizontal_flip else 0.0,
        vflip=0.5 if params.vertical_flip else 0.0,
        flips_first=False,
        affine=affine,
        multiply=tuple(params.brightness_range) if params.brightness_range else None,
    )


def light_recipe(p: float, s: float) -> Recipe:
    """``_named.light_items``: flip, small shift-scale-rotate, brightness/contrast."""
    shift, scale = 0.0625 * s, 0.1 * s
    return Recipe(
        hflip=p,
        affine=Affine(15 * s, (-shift, shift), (-shift, shift), (1 - scale, 1 + scale),
                      "reflect_101", 0.0, p),
        brightness=0.2 * s,
        contrast=0.2 * s,
        color_p=p,
    )


def keras_style_graph(params: Any, ctx: Any) -> Callable[[Any, Any], Any]:
    """The ``graph`` capability of ``keras_style``."""
    return compile_recipe(keras_style_recipe(params))


def light_graph(params: Any, ctx: Any) -> Callable[[Any, Any], Any]:
    """The ``graph`` capability of ``light``."""
    return compile_recipe(light_recipe(params.p, params.strength))


GRAPH = {"light": light_graph}  # named recipes with an in-graph version
