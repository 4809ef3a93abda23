"""A newcomer's first-day frictions, each kept fixed: the spec's built-in components can be
looked up, nested defaults agree in zoo info, a sweep file given to validate says what it
is, no CUDA line on a CPU machine, an export's input can be reproduced outside zoo, and a
plugin gets an environment of its own offline."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, SPECS, run_zoo

import zoo
from zoo.cli.cmd_info import _expanded
from zoo.cli.main import main
from zoo.images import read_image
from zoo.record.manifest import INTERPOLATION
from zoo.spec.components import components, of_kind
from zoo.spec.sections import METRIC_NAMES, Callback

COMPONENTS = components()


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: f"{c.kind}:{c.name}")
def test_every_builtin_component_has_an_info_page_from_its_model(component, capsys):
    name = (
        component.name
        if component.name not in zoo.registry()
        else (
            f"{component.kind[:-1]}:{component.name}"  # tensorboard: a tracker and a callback
        )
    )
    assert main(["info", name, "--format", "json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["kind"] == component.kind and page["description"]
    expected = (
        [n for n in component.params.model_fields if n not in component.skip]
        if component.params is not None
        else []
    )
    assert [p["name"] for p in page["parameters"] if "." not in p["name"]] == expected
    assert main(["info", name]) == 0
    assert component.usage in capsys.readouterr().out


def test_zoo_list_shows_every_callback_and_metric_a_spec_accepts(capsys):
    union = typing.get_args(typing.get_args(Callback)[0])
    types = {typing.get_args(m.model_fields["type"].annotation)[0] for m in union}
    assert {c.name for c in of_kind("callbacks")} == types
    assert {c.name for c in of_kind("metrics")} == {*METRIC_NAMES, "top_k_accuracy"}
    assert main(["list", "callbacks"]) == 0
    out = capsys.readouterr().out
    assert all(t in out for t in types)


def test_a_misspelt_name_suggests_plugins_and_components(capsys):
    assert main(["info", "early_stoping"]) == 2
    assert "did you mean 'early_stopping'" in capsys.readouterr().err


ENTRIES = list(zoo.registry())


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_nested_defaults_agree_with_their_parents(entry):
    """zoo info shows head = {pooling: flatten, ...}: head.pooling must say flatten too."""
    rows = {r["name"]: r for r in _expanded(entry.params)}
    for name, row in rows.items():
        parent, _, key = name.rpartition(".")
        if not parent or parent.endswith("[]") or parent not in rows:
            continue
        held = rows[parent]["default"]
        if isinstance(held, dict) and key in held:
            assert row["default"] == held[key], (entry.name, name)


def test_simple_cnn_head_default_is_one_story(capsys):
    assert main(["info", "simple_cnn"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("head.pooling"))
    assert "'flatten'" in line


def test_validate_recognises_a_sweep_file(capsys):
    sweep = SPECS / "sweeps" / "digits_lr.yaml"
    assert main(["validate", str(sweep)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "this is a sweep file" in err[0]
    assert f"zoo sweep {sweep} --check" in err[0]


def test_tensorflow_commands_print_no_startup_chatter(tmp_path):
    done = run_zoo("build", str(SPECS / "digits_mlp.yaml"), extra_env={"TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-1000:]
    assert "cuInit" not in done.stderr
    assert not re.search(r"^[IWE]\d{4} ", done.stderr, re.M), done.stderr[-1000:]


def _as_the_docs_say(path: str, height: int, width: int, channels: int = 3) -> np.ndarray:
    """The OpenCV recipe of docs/guides/export.md, line for line."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if channels == 1:
        gray = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
        image = np.clip(np.rint(gray), 0, 255).astype(np.uint8)[..., None]
    shrink = height < image.shape[0] or width < image.shape[1]
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    image = cv2.resize(image, (width, height), interpolation=interpolation)
    if image.ndim == 2:
        image = image[..., None]
    return image.astype(np.float32)[None]


@pytest.mark.parametrize("source", [(50, 70), (20, 16), (32, 32)])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_documented_recipe_gives_zoos_pixels(tmp_path, source, channels):
    docs = (ROOT / "docs" / "guides" / "export.md").read_text()
    assert "interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR" in docs
    assert "gray = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114" in docs
    assert "INTER_AREA" in INTERPOLATION and "INTER_LINEAR" in INTERPOLATION
    image = np.random.default_rng(0).integers(0, 256, (*source, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    cv2.imwrite(str(path), image)
    expected = read_image(path, (32, 32), channels).astype(np.float32)
    np.testing.assert_array_equal(_as_the_docs_say(str(path), 32, 32, channels)[0], expected)


def test_a_plugin_gets_an_environment_of_its_own_offline(tmp_path, capsys):
    assert main(["plugin", "new", "gadget", "--out", str(tmp_path), "--venv"]) == 0
    out = capsys.readouterr().out
    package = tmp_path / "zoo-gadget"
    assert "next: cd" in out and ".venv/bin/python -m pytest" in out
    python = package / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    here = subprocess.run(  # the plugin is installed there, not in zoo's environment
        [sys.executable, "-c", "import importlib.util as u; print(u.find_spec('zoo_gadget'))"],
        capture_output=True,
        text=True,
    )
    assert here.stdout.strip() == "None"


def test_without_venv_the_next_line_says_how(tmp_path, capsys):
    assert main(["plugin", "new", "widget", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "--venv" in out and "--no-build-isolation --no-deps -e" in out
    assert Path(tmp_path / "zoo-widget" / "pyproject.toml").read_text().count("zoo>=0.1.0") == 1
