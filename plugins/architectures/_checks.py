"""Early, clear errors for inputs an architecture cannot take (no Keras needed).

A builder describes how its feature maps shrink with a :class:`SpatialTrace` (one call per
conv, pool or padding layer, named like the Keras layer it stands for) and hands it to
:func:`check_input_size`. When the input is too small, the user learns which layer would
receive too small a map and the smallest input the configuration accepts, before Keras
raises something obscure deep inside a layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zoo import ModelContext, Problem, UserError

KEY_PATH = "model"
LARGEST_SEARCHED = 4096  # sizes tried when looking for the smallest accepted input


def _pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


@dataclass
class SpatialTrace:
    """Height and width of the feature maps, followed layer by layer.

    ``valid`` windows need a map at least as large as the window; ``same`` layers never
    shrink a map below one pixel. :meth:`require` adds a floor of the caller's own (for
    example "the total stride"), for networks whose layers are all ``same``-padded.
    """

    height: int
    width: int
    failure: str | None = None
    steps: list[str] = field(default_factory=list)

    def _window(
        self,
        name: str,
        what: str,
        kernel: int | tuple[int, int] | list[int],
        strides: int | tuple[int, int] | list[int],
        padding: str,
    ) -> SpatialTrace:
        if self.failure:
            return self
        (kh, kw), (sh, sw) = _pair(kernel), _pair(strides)
        if padding == "valid":
            if self.height < kh or self.width < kw:
                self.failure = (
                    f"{name} ({what} {kh}x{kw}, stride {sh}, 'valid') would get a "
                    f"{self.height}x{self.width} feature map but needs at least "
                    f"{kh}x{kw}"
                )
                return self
            self.height, self.width = (self.height - kh) // sh + 1, (self.width - kw) // sw + 1
        else:
            self.height, self.width = -(-self.height // sh), -(-self.width // sw)
        self.steps.append(f"{name}: {self.height}x{self.width}")
        return self

    def conv(
        self,
        name: str,
        kernel: int | tuple[int, int] | list[int] = 3,
        strides: int | tuple[int, int] | list[int] = 1,
        padding: str = "same",
    ) -> SpatialTrace:
        return self._window(name, "conv", kernel, strides, padding)

    def pool(
        self,
        name: str,
        size: int | tuple[int, int] | list[int] = 2,
        strides: int | tuple[int, int] | list[int] | None = None,
        padding: str = "valid",
    ) -> SpatialTrace:
        return self._window(name, "pool", size, size if strides is None else strides, padding)

    def pad(self, name: str, amount: int) -> SpatialTrace:
        if not self.failure:
            self.height += 2 * amount
            self.width += 2 * amount
        return self

    def require(self, minimum: int, reason: str) -> SpatialTrace:
        """Fail unless the current map is at least ``minimum`` pixels on each side."""
        if not self.failure and (self.height < minimum or self.width < minimum):
            self.failure = reason
        return self


Tracer = Callable[[int, int], SpatialTrace]


def smallest_square_input(trace: Tracer) -> int | None:
    """The smallest ``n`` for which an ``n x n`` input passes ``trace`` (None: none found)."""
    for size in range(1, LARGEST_SEARCHED + 1):
        if trace(size, size).failure is None:
            return size
    return None


def smallest_input(trace_for: Callable[[Any], Tracer]) -> Callable[[Any], tuple[int, int]]:
    """The ``smallest_input`` capability of a builder whose params give a tracer."""

    def smallest(params: Any) -> tuple[int, int]:
        side = smallest_square_input(trace_for(params)) or LARGEST_SEARCHED
        return side, side

    return smallest


def check_image_input(arch: str, ctx: ModelContext) -> tuple[int, int, int]:
    """The input must be an image: (height, width, channels)."""
    shape = tuple(ctx.input_shape)
    if len(shape) != 3 or any(int(s) < 1 for s in shape):
        raise UserError(
            [
                Problem(
                    f"{arch} takes images shaped (height, width, channels); set data.image_size "
                    "and "
                    f"data.channels (or model.input_shape). Received: input_shape={shape}",
                    key_path=KEY_PATH,
                )
            ]
        )
    return int(shape[0]), int(shape[1]), int(shape[2])


def check_input_size(arch: str, ctx: ModelContext, trace: Tracer) -> None:
    """Raise :class:`UserError` when ``trace`` fails at the context's input size."""
    height, width, _ = check_image_input(arch, ctx)
    result = trace(height, width)
    if result.failure is None:
        return
    smallest = smallest_square_input(trace)
    hint = (
        f"; the smallest input this configuration accepts is {smallest}x{smallest}"
        if smallest
        else ""
    )
    raise UserError(
        [
            Problem(
                f"{arch}: input {height}x{width} is too small: {result.failure}{hint} "
                f"(set data.image_size larger, or change the architecture's params). "
                f"Received: input_shape={tuple(ctx.input_shape)}",
                key_path=KEY_PATH,
            )
        ]
    )
