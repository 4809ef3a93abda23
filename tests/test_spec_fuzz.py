"""Property-based fuzzing of spec validation: whatever a spec file or ``--set`` holds, loading
it either succeeds or raises a :class:`UserError` of located one-line problems, quickly.

Starts from the shipped specs, mutates their data (other types and values, huge and
non-finite numbers, deleted and unknown keys, shared subtrees that YAML writes as aliases)
and their text (characters, lines, anchors), and loads the result in-process.

The default run is derandomized (same examples every time); ``ZOO_FUZZ_PROFILE=dev`` draws
new ones. ``pytest -m long tests/test_spec_fuzz.py`` runs the long variant.
"""

from __future__ import annotations

import copy
import functools
import math
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from conftest import SPECS

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from zoo.errors import UserError  # noqa: E402
from zoo.plugin.manager import default_registry  # noqa: E402
from zoo.plugin.registry import Registry  # noqa: E402
from zoo.spec import load_spec_text  # noqa: E402

TIME_LIMIT = 2.0  # seconds of CPU time for one load, however hostile the input
HANG_SECONDS = 30.0  # wall time after which a load counts as hung
COMMON = dict(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
settings.register_profile("ci", max_examples=150, derandomize=True, **COMMON)
settings.register_profile("dev", max_examples=150, **COMMON)
settings.register_profile("long", max_examples=3000, **COMMON)
PROFILE = os.environ.get("ZOO_FUZZ_PROFILE", "ci")

# Sections the shipped specs leave out: inline pipelines, schedules, every callback, sources.
EXTRA_BASES = """\
name: fuzz-pipeline
data: {source: digits, image_size: [32, 32], channels: 3, split: {validation: 10, test: 0.1}}
model: {architecture: mlp, num_classes: 10, params: {hidden_units: [8], dropout: 0.1}}
augmentation:
  recipe: albumentations
  params:
    transforms:
      - HorizontalFlip: {p: 0.5}
      - Rotate: {p: 0.5, limit: [10, 20], border_mode: reflect}
      - OneOf:
          p: 0.5
          transforms:
            - Blur: {blur_limit: [3, 5]}
            - CLAHE: {clip_limit: 4}
      - Compose:
          transforms:
            - CenterCrop: {height: 30, width: 30, p: 1}
            - Resize: {height: 32, width: 32}
training:
  epochs: 3
  batch_size: 16
  optimizer: {name: sgd, learning_rate: 0.1, momentum: 0.9, nesterov: true, clipnorm: 1.0}
  schedule: {name: cosine, alpha: 0.1, warmup_epochs: 1}
  loss: {name: categorical_crossentropy, label_smoothing: 0.1}
  metrics: [accuracy, {name: top_k_accuracy, k: 3}]
callbacks:
  - {type: model_checkpoint, filepath: "checkpoints/w.{epoch:02d}-{val_accuracy:.3f}.weights.h5"}
  - {type: csv_logger, filename: logs/epochs.csv}
  - {type: tensorboard, log_dir: logs/tb, histogram_freq: 1}
  - {type: backup_and_restore, backup_dir: backup/state}
  - {type: early_stopping, patience: 2, min_delta: 0.001}
---
name: fuzz-keras-style
data: {source: digits, params: {upscale: 2}}
model: {architecture: simple_cnn, params: {blocks: [{convs: [8, 16]}, {convs: [{filters: 8, kernel: 3}]}]}}
augmentation: {recipe: keras_style, params: {rotation_range: 20, zoom_range: 0.1}}
scaling: {recipe: dataset}
training:
  optimizer: {name: adamw, weight_decay: 0.01}
  schedule: {name: step, every_epochs: 2, factor: 0.5}
  distribute: {strategy: default, mixed_precision: false}
  verbose: 0
callbacks:
  - {type: reduce_lr_on_plateau, factor: 0.5, patience: 1, min_lr: 1.0e-6}
---
name: fuzz-csv
data: {source: csv, params: {path: table.csv, x_col: file, y_col: label}, image_size: [16, 16]}
model: {architecture: mlp}
augmentation: {recipe: medium, params: {p: 0.3}}
callbacks:
  - type: learning_rate_scheduler
    schedule: {name: exponential, decay_rate: 0.9}
---
name: fuzz-numpy
data: {source: numpy, params: {path: data.npz}, on_bad_file: skip, resize: keep_aspect}
model: {architecture: resnet18, params: {}}
training:
  shuffle_buffer: 100
  distribute: {strategy: mirrored, devices: ["/cpu:0"]}
"""
BASES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(SPECS.glob("*.yaml"))]
BASES += list(yaml.safe_load_all(EXTRA_BASES))


def _keys(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for k, v in data.items():
            yield str(k)
            yield from _keys(v)
    elif isinstance(data, list):
        for v in data:
            yield from _keys(v)


KEYS = sorted({k for base in BASES for k in _keys(base)})
NASTY_STRINGS = [
    "",
    ".",
    "..",
    "./",
    "/",
    "/etc/passwd",
    "../x",
    "a/../../b",
    "~",
    "C:/x",
    "a\\b",
    "spec.yaml",
    "run.json",
    "model.keras",
    "checkpoints",
    "backup",
    "exports",
    "{epoch:0999999d}.weights.h5",
    "c/{epoch.__class__}.weights.h5",
    "{}.keras",
    "{",
    "}",
    "w.{val_loss:.4f}.weights.h5",
    "1e400",
    "-1e400",
    "nan",
    ".inf",
    "0x" + "f" * 120,
    "9" * 300,
    "\x00",
    "a\nb",
    "é" * 50,
    "unit",
    "light",
    "mlp",
    "digits",
    "auto",
    "all",
    "none",
    "adam",
    "sgd",
    "val_loss",
    "step",
    "model_checkpoint",
    "csv_logger",
    "backup_and_restore",
    "tensorboard",
    "early_stopping",
    "&a",
    "*a",
    "<<",
    "!!python/object/apply:os.system",
    "2001-13-45",
    "yes",
    "null",
    "~/x",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**32 - 1, 2**32, 2**63, 10**30, 65536, 65537, 100001]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e-300, 1e300, 0.5, -0.5, 1.0, 2.5]),
    st.text(max_size=20),
    st.sampled_from(NASTY_STRINGS),
    st.sampled_from(KEYS),
    st.text(min_size=200, max_size=3000),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)


def _paths(data: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path in the tree, the root included."""
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*prefix, i))


def _reaches(data: Any, target: Any) -> bool:
    """Whether ``target`` (by identity) is ``data`` or inside it."""
    if data is target:
        return True
    children = data.values() if isinstance(data, dict) else data if isinstance(data, list) else ()
    return any(_reaches(child, target) for child in children)


def _get(data: Any, path: tuple) -> Any:
    for step in path:
        data = data[step]
    return data


@st.composite
def mutated_data(draw: st.DrawFn) -> Any:
    """A shipped spec with a few structural mutations."""
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 6))):
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "wrap", "share", "root"]))
        if op == "root" or not path:
            if op == "root":
                data = draw(values) if draw(st.integers(0, 9)) == 0 else data
            continue
        parent, key = _get(data, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif op == "add":
            target = _get(data, path)
            if isinstance(target, dict):
                target[draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)))] = draw(values)
            elif isinstance(target, list):
                target.append(draw(values))
        elif op == "wrap":
            parent[key] = draw(
                st.sampled_from([[parent[key]], {"recipe": parent[key]}, str(parent[key])])
            )
        elif op == "share":  # the same object twice: safe_dump writes an anchor and an alias
            shared = _get(data, draw(st.sampled_from(paths)))
            if not _reaches(shared, parent):  # no cycles
                parent[key] = shared
    return data


TEXT_EDITS = ["insert", "delete_line", "duplicate_line", "anchor", "alias", "indent", "none"]


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    """YAML text of a mutated spec, sometimes edited as text."""
    data = draw(mutated_data())
    try:
        text = yaml.safe_dump(
            data,
            sort_keys=draw(st.booleans()),
            default_flow_style=draw(st.sampled_from([None, True, False])),
            allow_unicode=True,
        )
    except (yaml.YAMLError, RecursionError):
        text = yaml.safe_dump(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(0, 3))):
        lines = text.splitlines(keepends=True) or ["\n"]
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(TEXT_EDITS))
        if edit == "insert":
            pos = draw(st.integers(0, len(text)))
            text = (
                text[:pos]
                + draw(
                    st.sampled_from(
                        [
                            "[",
                            "]",
                            "{",
                            "}",
                            ":",
                            "-",
                            "&x ",
                            "*x",
                            "!!int ",
                            "<<: ",
                            "\t",
                            "'",
                            '"',
                            "#",
                        ]
                    )
                )
                + text[pos:]
            )
        elif edit == "delete_line":
            text = "".join(lines[:i] + lines[i + 1 :])
        elif edit == "duplicate_line":
            text = "".join(lines[: i + 1] + lines[i:])
        elif edit == "anchor":
            text = "".join(lines[:i] + [lines[i].replace(": ", ": &x ", 1)] + lines[i + 1 :])
        elif edit == "alias":
            text = "".join(lines[:i] + [lines[i].split(":")[0] + ": *x\n"] + lines[i + 1 :])
        elif edit == "indent":
            text = "".join(lines[:i] + ["  " + lines[i]] + lines[i + 1 :])
    return text


@st.composite
def overrides(draw: st.DrawFn) -> list[str]:
    """``--set`` texts on paths of a shipped spec, in either spelling, with fuzzed values."""
    base = draw(st.sampled_from(BASES))
    out = []
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from([p for p in _paths(base) if p]))
        dotted = draw(st.booleans())
        key = ""
        for step in path:
            key += (
                (f".{step}" if dotted or not isinstance(step, int) else f"[{step}]")
                if key
                else str(step)
            )
        value = draw(
            st.one_of(
                st.sampled_from(NASTY_STRINGS),
                st.text(max_size=30),
                values.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()),
            )
        )
        out.append(f"{key}={value}")
    return out


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """At most ``seconds`` of CPU time (the machine may be busy with other work, so not wall
    time), and an alarm that stops a hang long before pytest would."""

    def _timeout(signum: int, frame: Any) -> None:
        raise TimeoutError(f"load still running after {HANG_SECONDS} s")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    start = time.process_time()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    took = time.process_time() - start
    assert took < seconds, f"load took {took:.2f} s of CPU time"


@functools.cache
def warm_registry() -> Registry:
    """The plugins loaded and the spec model built once, outside any time limit."""
    registry = default_registry()
    load_spec_text(yaml.safe_dump(BASES[0]), "warm.yaml", registry=registry)
    return registry


def check_load(text: str, sets: tuple[str, ...] | list[str] = ()) -> None:
    """Success, or a UserError whose every problem is a located, one-line, non-empty message."""
    registry = warm_registry()
    with time_limit(TIME_LIMIT):
        try:
            loaded = load_spec_text(text, "fuzz.yaml", sets, registry=registry)
        except UserError as exc:
            assert exc.problems
            for problem in exc.problems:
                assert problem.message and problem.message.strip(), problem
                assert problem.file, problem
                assert "\n" not in str(problem) and "Traceback" not in str(problem), problem
            return
        # the resolved spec a run folder keeps validates again, to a fixed point (a plugin
        # may spell a default differently: a bare conv width becomes a conv mapping)
        again = load_spec_text(yaml.safe_dump(loaded.resolved()), "resolved.yaml")
        third = load_spec_text(yaml.safe_dump(again.resolved()), "resolved.yaml")
        assert third.resolved() == again.resolved()


@settings(parent=settings.get_profile(PROFILE))
@given(text=spec_texts())
def test_fuzzed_spec_files_load_or_fail_cleanly(text: str):
    check_load(text)


@settings(parent=settings.get_profile(PROFILE), max_examples=60)
@given(text=spec_texts(), sets=overrides())
def test_fuzzed_overrides_load_or_fail_cleanly(text: str, sets: list[str]):
    check_load(text, sets)


@pytest.mark.slow
@pytest.mark.long
@settings(parent=settings.get_profile("long"))
@given(text=spec_texts(), sets=overrides())
def test_fuzz_long(text: str, sets: list[str]):
    check_load(text, sets)


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_specs_survive_the_round_trip(path):
    check_load(path.read_text(encoding="utf-8"))
