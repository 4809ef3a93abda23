"""The built-in recipes as batched, seeded TensorFlow ops: the ``graph`` capability.

``keras_style`` and ``light`` are flips, an affine warp (rotation, shift, zoom), and a
brightness/contrast change; here they are one XLA-compiled function of the NHWC batch inside
the tf.data graph: every random number drawn at once by ``tf.random.stateless_uniform`` from
the per-batch seed the pipeline passes in (same seed, same batch), each image's flips folded
into its warp's 2x3 matrix (one bilinear resampling), then one ``x * alpha + beta``. Small
images are warped as one batch; large ones one at a time (cache-sized, and images the affine
skips are only reversed, not resampled). They follow the albumentations pipelines the same
recipes expand to (``_named.py``): the same ranges, probabilities, order and border modes,
drawn per image; pixels are not equal (other random streams, one resampling instead of
several, sub-pixel shifts where albumentations rounds them to whole pixels, rounding only at
the end), the distributions are.

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


def _matrices(tf: Any, recipe: Recipe, u: Any, h: Any, w: Any) -> tuple[Any, Any, Any, Any]:
    """Per image, vectorised over the batch: the 2x3 map from output to source pixel
    coordinates (the inverse warp with the flips folded in, [b, 6]), whether the affine is
    applied, and the two flip coins."""
    b = tf.shape(u)[0]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    hflip = u[:, 0] < recipe.hflip
    vflip = u[:, 1] < recipe.vflip
    a = recipe.affine
    if a is None:
        on = tf.zeros([b], tf.bool)
        angle, dx, dy, sx, sy = 0.0, 0.0, 0.0, 1.0, 1.0
    else:
        on = u[:, 2] < a.p

        def draw(k: int, low: float, high: float) -> Any:
            return low + (high - low) * u[:, k]

        angle = tf.where(on, draw(3, -a.rotate, a.rotate), 0.0) * (math.pi / 180)
        dx = tf.where(on, draw(4, *a.shift_x), 0.0) * wf
        dy = tf.where(on, draw(5, *a.shift_y), 0.0) * hf
        sx, sy = tf.where(on, draw(6, *a.scale), 1.0), tf.where(on, draw(7, *a.scale), 1.0)
    # Forward: out = c + R S (in - c) + t, R = [[cos, sin], [-sin, cos]]; the source of an
    # output point: in = S^-1 R^T (out - c - t) + c, i.e. x_in = m0 x + m1 y + m2 and
    # y_in = m3 x + m4 y + m5.
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (wf - 1) / 2, (hf - 1) / 2
    m = [
        cos / sx,
        -sin / sx,
        cx - (cos * (cx + dx) - sin * (cy + dy)) / sx,
        sin / sy,
        cos / sy,
        cy - (sin * (cx + dx) + cos * (cy + dy)) / sy,
    ]
    m = [tf.broadcast_to(tf.cast(v, tf.float32), [b]) for v in m]
    fx = tf.where(hflip, -1.0, 1.0), tf.where(hflip, wf - 1, 0.0)  # x -> scale x + shift
    fy = tf.where(vflip, -1.0, 1.0), tf.where(vflip, hf - 1, 0.0)
    if recipe.flips_first:  # out = warp(flip(in)): in = flip(warp^-1(out))
        m = [
            m[0] * fx[0],
            m[1] * fx[0],
            m[2] * fx[0] + fx[1],
            m[3] * fy[0],
            m[4] * fy[0],
            m[5] * fy[0] + fy[1],
        ]
    else:  # out = flip(warp(in)): in = warp^-1(flip(out))
        m = [
            m[0] * fx[0],
            m[1] * fy[0],
            m[0] * fx[1] + m[1] * fy[1] + m[2],
            m[3] * fx[0],
            m[4] * fy[0],
            m[3] * fx[1] + m[4] * fy[1] + m[5],
        ]
    return tf.stack(m, axis=1), on, hflip, vflip


def _colour(tf: Any, recipe: Recipe, u: Any) -> tuple[Any, Any]:
    """Per image ``(alpha, beta)`` of ``x * alpha + beta``: brightness and contrast, or
    Keras' brightness multiply; (1, 0) when the recipe has neither."""
    ones = tf.ones_like(u[:, 0])
    if recipe.color_p > 0 and (recipe.brightness or recipe.contrast):
        on = u[:, 8] < recipe.color_p
        c, bright = recipe.contrast, recipe.brightness
        alpha = tf.where(on, (1 - c) + 2 * c * u[:, 9], 1.0)
        beta = tf.where(on, 255 * (-bright + 2 * bright * u[:, 10]), 0.0)
        return alpha, beta
    if recipe.multiply is not None:
        lo, hi = recipe.multiply
        return lo + (hi - lo) * u[:, 11], 0 * ones
    return ones, 0 * ones


def _warp(tf: Any, images: Any, m: Any, mode: str, fill: float) -> Any:
    """NHWC images resampled bilinearly at their maps ``m`` ([b, 6]) of the pixel grid:
    four gathers per output pixel."""
    b, h, w, c = (tf.shape(images)[k] for k in range(4))
    ys = tf.range(tf.cast(h, tf.float32))[None, :, None]
    xs = tf.range(tf.cast(w, tf.float32))[None, None, :]
    m = m[:, :, None, None]
    xi = m[:, 0] * xs + m[:, 1] * ys + m[:, 2]
    yi = m[:, 3] * xs + m[:, 4] * ys + m[:, 5]
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
    return top * (1 - fy) + bottom * fy


def _flip(tf: Any, image: Any, hflip: Any, vflip: Any) -> Any:
    """The flips alone, as reversals (no resampling) of an image the affine skips."""
    image = tf.cond(hflip, lambda: tf.reverse(image, [1]), lambda: image)
    return tf.cond(vflip, lambda: tf.reverse(image, [0]), lambda: image)


# Above this many pixels an image is warped on its own (it stays in cache through its four
# gathers, and images the affine skips are only reversed); below, the whole batch at once
# (one loop iteration per image costs more than it saves). Measured on a 2-core CPU.
LOOP_MIN_PIXELS = 96 * 96


def _augment(tf: Any, recipe: Recipe, images: Any, seed: Any) -> Any:
    u = tf.random.stateless_uniform([tf.shape(images)[0], 12], seed)  # all the batch's draws
    h, w = images.shape[1], images.shape[2]
    m, on, hflip, vflip = _matrices(tf, recipe, u, tf.shape(images)[1], tf.shape(images)[2])
    alpha, beta = _colour(tf, recipe, u)
    mode = recipe.affine.border_mode if recipe.affine else "replicate"
    fill = recipe.affine.fill if recipe.affine else 0.0
    if recipe.affine is not None and (h is None or w is None or h * w < LOOP_MIN_PIXELS):
        images = _warp(tf, images, m, mode, fill)  # flips folded in, identity where not on
        return tf.clip_by_value(
            images * alpha[:, None, None, None] + beta[:, None, None, None], 0.0, 255.0
        )

    def one(args: tuple[Any, ...]) -> Any:
        image, m, on, hflip, vflip, alpha, beta = args
        if recipe.affine is None:
            image = _flip(tf, image, hflip, vflip)
        else:
            image = tf.cond(
                on,
                lambda: _warp(tf, image[None], m[None], mode, fill)[0],
                lambda: _flip(tf, image, hflip, vflip),
            )
        return tf.clip_by_value(image * alpha + beta, 0.0, 255.0)

    return tf.map_fn(
        one, (images, m, on, hflip, vflip, alpha, beta), fn_output_signature=tf.float32
    )


def compile_recipe(recipe: Recipe) -> Callable[[Any, Any], Any]:
    """``fn(images, seed)``: the recipe on a float32 NHWC batch, XLA-compiled into one loop
    over the images (each image's coordinates, gathers, blend and colour fuse; images the
    affine skips are only reversed), from one ``stateless_uniform`` draw of the batch seed.
    Measured on CPU: several times faster than ``ImageProjectiveTransformV3`` or the same
    ops without XLA (benchmarks/bench_augmentation.py)."""
    compiled: list[Any] = []

    def augment(images: Any, seed: Any) -> Any:
        import tensorflow as tf

        if not compiled:
            compiled.append(
                tf.function(
                    lambda x, s: _augment(tf, recipe, x, s), jit_compile=True, autograph=False
                )
            )
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
            float(params.rotation_range),
            (-w, w),
            (-h, h),
            (1 / hi, 1 / lo),  # Keras' zoom z > 1 shrinks the picture: scale 1 / z
            KERAS_FILL[params.fill_mode],
            float(params.cval),
            1.0,
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
        affine=Affine(
            15 * s, (-shift, shift), (-shift, shift), (1 - scale, 1 + scale), "reflect_101", 0.0, p
        ),
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
