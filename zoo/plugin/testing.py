"""Contract checks for plugin authors: call them from your own pytest.

::

    from zoo.testing import check_plugin

    def test_my_plugins():
        for name in ("my_net", "my_scaling", "my_augment", "my_source"):
            check_plugin(name)                      # dispatches by the entry's kind

Each check builds the entry from the registry (the installed entry points, or ``registry``)
on tiny inputs, exercises every point of the contract zoo relies on, and raises
``AssertionError`` with a message naming the entry and its package when something is off.
It returns a :class:`CheckReport` listing what was checked and what was skipped (with why).

- :func:`check_architecture`: builds at the smallest input the entry's ``smallest_input``
  capability declares (32x32 without it), one forward pass (shape ``(None, num_classes)``,
  softmax rows sum to 1), save to ``.keras`` and load back in safe mode with identical outputs,
  the declared ``param_count`` (a ``ParamCount``: built where it says it holds), and the
  ``set_trainable``/``loss_weights``/``required_scaling`` capabilities.
- :func:`check_recipe`: a scaling recipe (fit on a tiny uint8 batch, NumPy and tf.Tensor
  give the same values, JSON-able ``state()``, rebuilt from state gives the same values) or an
  augmentation recipe (uint8 of the same shape, same seed same images, another seed other
  images when the recipe is random, pickles for worker processes, ``augment_batch``).
- :func:`check_data_source`: ``SourceData`` with class names, labels in range, uint8 NHWC
  images or existing files, and a ``shape_hint`` that agrees with the loaded data.

Importing this module is cheap; TensorFlow is imported by the checks that need it.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import PluginContractError, UserError
from zoo.images import read_image
from zoo.plugin.contracts import AugmentContext, DataContext, ModelContext, Scaling, ShapeHint
from zoo.plugin.guards import check_built_model, check_scaling, check_source
from zoo.plugin.manager import default_registry
from zoo.plugin.registry import PluginEntry, Registry
from zoo.plugin.source import SourceData
from zoo.tf_import import import_keras

__all__ = [
    "CheckReport",
    "check_architecture",
    "check_data_source",
    "check_plugin",
    "check_recipe",
    "declared_size",
]

FIRST_SIZE = 32  # the input size of an architecture that declares no smallest_input
NUM_CLASSES = 3
BATCH = 2


@dataclass
class CheckReport:
    """What a check verified (``checked``) and what it could not, with why (``notes``)."""

    name: str
    kind: str
    checked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{self.kind} '{self.name}': checked {', '.join(self.checked) or 'nothing'}"]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _registry(registry: Registry | None) -> Registry:
    return registry if registry is not None else default_registry()


class _Checker:
    """Turns failed expectations (and plugin errors) into AssertionErrors naming the entry."""

    def __init__(self, entry: PluginEntry, label: str) -> None:
        self.entry = entry
        self.who = f"{label} '{entry.name}' of {entry.owner}"
        self.report = CheckReport(entry.name, label)

    def fail(self, why: str, exc: BaseException | None = None) -> AssertionError:
        detail = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
        return AssertionError(f"{self.who}: {why}{detail}")

    def expect(self, ok: Any, why: str) -> None:
        if not ok:
            raise self.fail(why)

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args)``; a zoo contract error or a crash becomes an AssertionError."""
        try:
            return fn(*args, **kwargs)
        except AssertionError:
            raise
        except PluginContractError as exc:
            raise AssertionError(str(exc)) from exc
        except Exception as exc:
            raise self.fail(f"{what} raised", exc) from exc

    def done(self, what: str) -> None:
        self.report.checked.append(what)

    def note(self, what: str) -> None:
        self.report.notes.append(what)


def _params(entry: PluginEntry, params: Any) -> Any:
    if isinstance(params, entry.params):
        return params
    try:
        return entry.params.model_validate(params or {})
    except Exception as exc:
        alone = "" if params else " with defaults alone"
        raise AssertionError(
            f"'{entry.name}': its params do not validate{alone}; pass params= to the check ({exc})"
        ) from exc


def _images(shape: tuple[int, ...], n: int = 4, seed: int = 0) -> np.ndarray:
    """uint8 NHWC images with some structure (gradients plus noise), the same every time."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    ramp = (np.add.outer(np.arange(h), np.arange(w)) * (255 / max(1, h + w - 2)))[..., None]
    noise = rng.integers(0, 96, size=(n, h, w, c))
    return np.clip(ramp[None] * 0.6 + noise, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------- architectures


def declared_size(entry: PluginEntry) -> tuple[tuple[int, int, int], int] | None:
    """Input shape and class count at which ``entry.param_count`` holds, when the entry
    declared it (``param_count=ParamCount(...)``)."""
    counted = entry.counted_at
    if counted is None:
        return None
    return tuple(counted.input_shape), counted.num_classes  # type: ignore[return-value]


def _build(check: _Checker, params: Any, ctx: ModelContext) -> Any:
    model = check.call(f"its factory at input {ctx.input_shape}", check.entry.factory, params, ctx)
    try:
        check_built_model(model, check.entry, ctx)
    except PluginContractError as exc:
        raise AssertionError(str(exc)) from exc
    return model


def _first_output(outputs: Any) -> np.ndarray:
    if isinstance(outputs, dict):
        outputs = next(iter(outputs.values()))
    if isinstance(outputs, (list, tuple)):
        outputs = outputs[0]
    import keras

    return np.asarray(keras.ops.convert_to_numpy(outputs))  # torch tensors keep their grads


def _build_smallest(
    check: _Checker, params: Any, channels: int, num_classes: int, size: int | None
) -> tuple[Any, ModelContext]:
    """Build at ``size``, else at the smallest input the entry declares (its
    ``smallest_input`` capability: it promises to build there, even below 32x32, and some
    sizes above it may not fit, as 32 does not fit a patch of 14), else at 32x32."""
    height = width = size or FIRST_SIZE
    smallest = check.entry.capabilities.smallest_input
    if size is None and smallest is not None:
        found = check.call("smallest_input(params)", smallest, params)
        check.expect(
            isinstance(found, tuple)
            and len(found) == 2
            and all(isinstance(d, int) and d > 0 for d in found),
            f"smallest_input must return (height, width), got {found!r}",
        )
        height, width = found
    ctx = ModelContext((height, width, channels), num_classes, "softmax", name="zoo_check")
    return _build(check, params, ctx), ctx


def check_architecture(
    name: str,
    registry: Registry | None = None,
    *,
    params: Any = None,
    size: int | None = None,
    channels: int = 3,
    num_classes: int = NUM_CLASSES,
    param_count: bool = True,
    count_params: Any = None,
    tmp_dir: str | Path | None = None,
) -> CheckReport:
    """Check an architecture plugin end to end on a tiny input (see the module docstring).

    :param params: the architecture's params (a dict or its params model; default: defaults).
    :param size: the square input side to build at (default: the smallest input the
        entry's ``smallest_input`` capability names, else 32).
    :param param_count: compare the declared ``ParamCount`` with the model built where it
        says it holds (one more build).
    :param count_params: params to count with instead of the ones the ``ParamCount`` names.
    """
    registry = _registry(registry)
    entry = registry.get(name, "architecture")
    check = _Checker(entry, "architecture")
    p = _params(entry, params)
    import_keras()
    import keras

    model, ctx = _build_smallest(check, p, channels, num_classes, size)
    check.done(f"built at {ctx.input_shape}")

    x = _images(ctx.input_shape, BATCH).astype("float32") / 255.0
    out = _first_output(check.call("the forward pass", model, x, training=False))
    check.expect(
        out.shape == (BATCH, num_classes),
        f"its first output should be ({BATCH}, {num_classes}) for a batch of {BATCH}, "
        f"got {out.shape}",
    )
    check.expect(np.all(np.isfinite(out)), "its output has NaN or infinite values")
    check.expect(
        np.allclose(out.sum(axis=1), 1.0, atol=1e-4),
        f"softmax rows must sum to 1, got {out.sum(axis=1)}",
    )
    check.done("forward pass")

    with tempfile.TemporaryDirectory(dir=tmp_dir) as tmp:
        path = Path(tmp) / "model.keras"
        check.call("saving to .keras", model.save, path)
        loaded = check.call(
            "keras.saving.load_model(safe_mode=True)", keras.saving.load_model, path, safe_mode=True
        )
        again = _first_output(
            check.call("the loaded model's forward pass", loaded, x, training=False)
        )
        check.expect(
            np.allclose(out, again, atol=1e-6),
            "the model loaded from .keras gives other outputs than the built one "
            f"(largest difference {np.abs(out - again).max():.3g})",
        )
    check.done("save/load .keras (safe mode)")

    _check_param_count(check, param_count, count_params)
    _check_model_capabilities(check, registry, p, model)
    return check.report


def _check_param_count(check: _Checker, wanted: bool, count_params: Any) -> None:
    """Build at the declared :class:`~zoo.plugin.contracts.ParamCount` and compare the counts."""
    declared, counted = check.entry.param_count, check.entry.counted_at
    if declared is None:
        check.note("param_count: not declared")
        return
    if not wanted:
        check.note("param_count: skipped (param_count=False)")
        return
    if counted is None:
        check.note(
            "param_count: not checked; it is a bare number (declare "
            "param_count=ParamCount(count, input_shape, num_classes, params) to say "
            "where it holds)"
        )
        return
    p = _params(check.entry, count_params if count_params is not None else dict(counted.params))
    shape, classes = tuple(counted.input_shape), counted.num_classes
    model = _build(check, p, ModelContext(shape, classes, "softmax", name="zoo_check_count"))
    built = int(model.count_params())
    check.expect(
        built == declared,
        f"declares param_count={declared:,} but builds {built:,} "
        f"parameters at {shape} with {classes} classes",
    )
    check.done(f"param_count at {shape}, {classes} classes")


def _check_model_capabilities(check: _Checker, registry: Registry, p: Any, model: Any) -> None:
    caps = check.entry.capabilities
    if caps.set_trainable is not None:
        n_layers = _layer_count(model)
        counts = {}
        for value in ("all", "none"):
            n = check.call(f"set_trainable(model, {value!r})", caps.set_trainable, model, value)
            check.expect(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= n_layers,
                f"set_trainable(model, {value!r}) must return a layer count in "
                f"0..{n_layers} (the model's layers, nested ones included), got {n!r}",
            )
            counts[value] = n
        check.expect(
            counts["none"] <= counts["all"],
            f"set_trainable: 'none' unfroze more layers ({counts['none']}) than 'all' "
            f"({counts['all']})",
        )
        check.done("set_trainable")
    if caps.loss_weights is not None:
        weights = check.call("loss_weights(params)", caps.loss_weights, p)
        if weights is not None:
            check.expect(
                isinstance(weights, dict) and weights,
                f"loss_weights must return a dict of output name -> weight or None, "
                f"got {weights!r}",
            )
            names = set(
                getattr(model, "output_names", None)
                or [t.name.split("/")[0] for t in model.outputs]
            )
            unknown = set(weights) - names
            check.expect(
                not unknown,
                f"loss_weights names {sorted(unknown)}, which are not "
                f"outputs of the model ({sorted(names)})",
            )
            check.expect(
                all(isinstance(w, (int, float)) and w >= 0 for w in weights.values()),
                f"loss weights must be numbers >= 0, got {weights}",
            )
        check.done("loss_weights")
    if caps.required_scaling is not None:
        wanted = check.call("required_scaling(params)", caps.required_scaling, p)
        scalings = registry.names("recipe", "scaling")
        check.expect(
            wanted is None or wanted in scalings,
            f"required_scaling returned {wanted!r}, which is no registered scaling "
            f"recipe ({', '.join(scalings)})",
        )
        check.done("required_scaling")
    if caps.fetch is not None:
        check.note("fetch: not called (it may download)")
    if caps.check_spec is not None:
        check.note("check_spec: not called (it needs a whole spec)")


def _layer_count(model: Any) -> int:
    """Layers of ``model`` at every depth: a base nested as one layer (a keras.applications
    or KerasHub backbone) counts with its own layers, which ``set_trainable`` may count."""
    flatten = getattr(model, "_flatten_layers", None)  # Keras 3's walk over tracked layers
    if flatten is None:
        return len(model.layers)
    return sum(1 for _ in flatten(include_self=False, recursive=True))


# ------------------------------------------------------------------------------- recipes


def check_recipe(
    name: str,
    registry: Registry | None = None,
    *,
    params: Any = None,
    image_size: tuple[int, int] = (16, 16),
    channels: int = 3,
    random: bool | None = None,
) -> CheckReport:
    """Check a scaling or augmentation recipe on a few tiny uint8 images.

    :param random: augmentation only: whether different seeds must give different images
        (None: when calling one augmenter twice on an image gives two results).
    """
    registry = _registry(registry)
    entry = registry.get(name, "recipe")
    shape = (int(image_size[0]), int(image_size[1]), int(channels))
    if entry.recipe_type == "scaling":
        return _check_scaling(registry, entry, params, shape)
    return _check_augmentation(registry, entry, params, shape, random)


def _check_scaling(
    registry: Registry, entry: PluginEntry, params: Any, shape: tuple[int, int, int]
) -> CheckReport:
    check = _Checker(entry, "scaling recipe")
    p = _params(entry, params)
    scaling = check.call("its factory", lambda: check_scaling(entry.factory(p, None), entry))
    check.expect(
        isinstance(scaling, Scaling),
        "its factory must return an object with fit, "
        f"__call__ and state (zoo.plugin.Scaling), got {type(scaling).__name__}",
    )
    train = _images(shape, 8, seed=1)
    check.call("fit(uint8 images)", scaling.fit, train)
    check.done("fit")

    import_keras()
    import tensorflow as tf

    batch = _images(shape, 4, seed=2).astype(np.float32)
    out_np = np.asarray(check.call("scaling(np.ndarray)", scaling, batch), dtype=np.float32)
    out_tf = check.call("scaling(tf.Tensor)", scaling, tf.constant(batch))
    check.expect(
        tf.is_tensor(out_tf) or isinstance(out_tf, np.ndarray),
        f"scaling(tf.Tensor) must return a tensor, got {type(out_tf).__name__}",
    )
    out_tf = np.asarray(out_tf, dtype=np.float32)
    check.expect(
        out_np.shape == batch.shape and out_tf.shape == batch.shape,
        f"scaling must keep the shape {batch.shape}, got {out_np.shape} (NumPy) and "
        f"{out_tf.shape} (tf.Tensor)",
    )
    check.expect(np.all(np.isfinite(out_np)), "scaling produced NaN or infinite values")
    check.expect(
        np.allclose(out_np, out_tf, atol=1e-5),
        "scaling gives other values on a tf.Tensor than on the same NumPy array",
    )
    check.done("NumPy and tf.Tensor agree")
    one = np.asarray(check.call("scaling(one HWC image)", scaling, batch[0]), dtype=np.float32)
    check.expect(
        np.allclose(one, out_np[0], atol=1e-5),
        "scaling one HWC image differs from scaling it in a batch",
    )
    check.done("one HWC image")

    state = check.call("state()", scaling.state)
    check.expect(isinstance(state, dict), f"state() must return a dict, got {type(state).__name__}")
    try:
        state = json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        raise check.fail("state() must be JSON-able (it is saved in run.json)", exc) from exc
    check.done("state() is JSON-able")
    rebuilt = check.call(
        "its factory with a saved state", lambda: check_scaling(entry.factory(p, state), entry)
    )
    again = np.asarray(check.call("the rebuilt scaling", rebuilt, batch), dtype=np.float32)
    check.expect(
        np.allclose(out_np, again, atol=1e-5),
        "a scaling rebuilt from its state() gives other values than the fitted one",
    )
    check.done("rebuilt from state")
    if entry.capabilities.check_spec is not None:
        check.note("check_spec: not called (it needs a whole spec)")
    return check.report


def _check_augmentation(
    registry: Registry,
    entry: PluginEntry,
    params: Any,
    shape: tuple[int, int, int],
    random: bool | None,
) -> CheckReport:
    check = _Checker(entry, "augmentation recipe")
    p = _params(entry, params)
    images = _images(shape, 8, seed=3)

    def build(seed: int) -> Any:
        return check.call(
            "its factory",
            entry.factory,
            p,
            AugmentContext(image_size=shape[:2], channels=shape[2], seed=seed),
        )

    def run(aug: Any, what: str) -> np.ndarray:
        out = []
        for image in images:
            got = np.asarray(check.call(what, aug, image.copy()))
            check.expect(
                got.dtype == np.uint8 and got.shape == image.shape,
                f"an augmenter must return uint8 of the input's shape {image.shape}, "
                f"got {got.dtype} {got.shape}",
            )
            out.append(got)
        return np.stack(out)

    first = build(7)
    check.expect(
        callable(first), f"its factory must return a callable augmenter, got {type(first).__name__}"
    )
    pickled = _pickle(check, first)
    a = run(first, "augmenter(image)")
    check.done("uint8 images of the same shape")
    check.expect(
        np.array_equal(a, run(build(7), "augmenter(image)")),
        "two augmenters built with the same seed give different images (seed it from "
        "AugmentContext.seed and draw from its own generator)",
    )
    check.done("same seed, same images")
    check.expect(
        np.array_equal(a, run(pickled, "the unpickled augmenter(image)")),
        "an augmenter unpickled (as worker processes get it) gives other images than the original",
    )
    check.done("pickles (worker processes)")
    if random is None:
        random = not np.array_equal(a, run(first, "augmenter(image)"))
    if random:
        check.expect(
            not np.array_equal(a, run(build(8), "augmenter(image)")),
            "augmenters built with different seeds give the same images",
        )
        check.done("another seed, other images")
    else:
        check.note("different seeds: not compared (the recipe looks deterministic)")

    batch_fn = getattr(first, "augment_batch", None)
    if callable(batch_fn):
        b1 = np.asarray(check.call("augment_batch(images, seed)", batch_fn, images.copy(), 11))
        check.expect(
            b1.dtype == np.uint8 and b1.shape == images.shape,
            f"augment_batch must return uint8 of shape {images.shape}, got {b1.dtype} {b1.shape}",
        )
        b2 = np.asarray(check.call("augment_batch", pickled.augment_batch, images.copy(), 11))
        check.expect(
            np.array_equal(b1, b2),
            "augment_batch with one seed gives different "
            "batches (in this process and in an unpickled copy)",
        )
        if random:
            b3 = np.asarray(check.call("augment_batch", batch_fn, images.copy(), 12))
            check.expect(
                not np.array_equal(b1, b3), "augment_batch gives the same batch for different seeds"
            )
        check.done("augment_batch")
    _check_to_spec(check, first)
    return check.report


def _pickle(check: _Checker, aug: Any) -> Any:
    try:
        return pickle.loads(pickle.dumps(aug, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        raise check.fail(
            "the augmenter must pickle (worker processes receive it pickled)", exc
        ) from exc


def _check_to_spec(check: _Checker, aug: Any) -> None:
    to_spec = check.entry.capabilities.to_spec
    if to_spec is None:
        return
    spec = check.call("to_spec(augmenter)", to_spec, aug)
    check.expect(isinstance(spec, dict), f"to_spec must return a dict, got {type(spec).__name__}")
    try:
        json.dumps(spec)
    except (TypeError, ValueError) as exc:
        raise check.fail("to_spec must return plain (JSON-able) data", exc) from exc
    check.done("to_spec")


def check_data_source(
    name: str,
    params: Any = None,
    spec_dir: str | Path = ".",
    registry: Registry | None = None,
    *,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    seed: int = 0,
) -> CheckReport:
    """Load a data source (like a spec with ``data.source: name`` would) and check it.

    ``spec_dir`` is where relative paths in ``params`` start. A source that needs a download
    raises :class:`zoo.OfflineError` when offline; catch it to skip.
    """
    registry = _registry(registry)
    entry = registry.get(name, "data")
    check = _Checker(entry, "data source")
    p = _params(entry, params)
    ctx = DataContext(
        image_size=(int(image_size[0]), int(image_size[1])) if image_size else None,
        channels=channels,
        seed=seed,
        spec_dir=Path(spec_dir),
    )
    try:
        source = entry.factory(p, ctx)
    except UserError:
        raise  # offline, or a mistake in the given params: the caller's to see
    except Exception as exc:
        raise check.fail("its factory raised", exc) from exc
    try:
        check_source(source, check.who)
    except PluginContractError as exc:
        raise AssertionError(str(exc)) from exc
    assert isinstance(source, SourceData)
    check.expect(
        all(isinstance(c, str) and c for c in source.class_names),
        f"class names must be non-empty strings, got {source.class_names}",
    )
    check.done(f"SourceData with {len(source.class_names)} classes")

    shapes = set()
    for split, image_set in source.splits.items():
        if image_set.images is not None:
            if len(image_set):
                shapes.add(tuple(int(d) for d in image_set.images.shape[1:]))
        else:
            missing = [str(q) for q in image_set.paths or [] if not Path(q).is_file()]
            check.expect(
                not missing, f"split '{split}' names files that do not exist: {missing[:3]}"
            )
            if image_set.paths:
                first = check.call("decoding its first file", read_image, image_set.paths[0])
                shapes.add(tuple(int(d) for d in np.asarray(first).shape[:2]) + ((channels or 3),))
    check.done("labels in range, uint8 NHWC images or existing files")

    hint_fn = entry.capabilities.shape_hint
    if hint_fn is None:
        check.note("shape_hint: not declared (zoo build then needs data.image_size)")
        return check.report
    hint = check.call("shape_hint(params, ctx)", hint_fn, p, ctx)
    if hint is None:
        check.done("shape_hint (None)")
        return check.report
    check.expect(
        isinstance(hint, ShapeHint),
        f"shape_hint must return zoo.plugin.ShapeHint or None, got {type(hint).__name__}",
    )
    if hint.num_classes is not None:
        check.expect(
            hint.num_classes == len(source.class_names),
            f"shape_hint says {hint.num_classes} classes, the data has {len(source.class_names)}",
        )
    if hint.image_size is not None and shapes and image_size is None:
        sizes = {s[:2] for s in shapes}
        check.expect(
            sizes == {tuple(hint.image_size)},
            f"shape_hint says image_size {tuple(hint.image_size)}, the data has {sorted(sizes)}",
        )
    in_memory = {
        s[2]
        for split in source.splits.values()
        if split.images is not None and len(split)
        for s in [tuple(split.images.shape[1:])]
    }
    if hint.channels is not None and in_memory and channels is None:
        check.expect(
            in_memory == {hint.channels},
            f"shape_hint says {hint.channels} channels, the images have {sorted(in_memory)}",
        )
    check.done("shape_hint agrees with the data")
    if entry.capabilities.fetch is not None:
        check.note("fetch: not called (it may download)")
    return check.report


# ------------------------------------------------------------------------------ dispatch


def check_plugin(name: str, registry: Registry | None = None, **kwargs: Any) -> CheckReport:
    """Run the check of ``name``'s kind; keyword arguments go to that check."""
    registry = _registry(registry)
    entry = registry.get(name)
    if entry.kind == "architecture":
        return check_architecture(name, registry, **kwargs)
    if entry.kind == "recipe":
        return check_recipe(name, registry, **kwargs)
    return check_data_source(name, registry=registry, **kwargs)
