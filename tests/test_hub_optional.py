"""zoo without the zoo-hub package (packages/zoo-hub, KerasHub's backbones): nothing changes,
and asking for what it would add says how to install it.

The package may be installed in this environment (``make setup`` installs it); these tests
hide it the way a user would, with ``ZOO_DISABLE_PLUGINS``, so they hold either way."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
from conftest import ROOT, SPECS, fixture_pythonpath, run_zoo

HUB = "zoo-hub"
HINT = (
    "KerasHub's backbones (ViT, DeiT, DINOv2, DINOv3, Swin, ...) come with the zoo-hub "
    "package: pip install ./packages/zoo-hub"
)


def _installed() -> bool:
    try:
        metadata.distribution(HUB)
    except metadata.PackageNotFoundError:
        return False
    return True


INSTALLED = _installed()
# ZOO_DISABLE_PLUGINS names a package that is installed (another name only gets a warning)
WITHOUT_HUB = {"ZOO_DISABLE_PLUGINS": HUB} if INSTALLED else {}
WITH_HUB = {"ZOO_DISABLE_PLUGINS": ""}  # whatever the calling shell disabled


def zoo_without_hub(*args: str) -> subprocess.CompletedProcess:
    return run_zoo(*args, extra_env=WITHOUT_HUB)


@pytest.mark.parametrize("tag", ["hub", "transformer"])
def test_a_tag_of_the_package_says_how_to_install_it(tag):
    done = zoo_without_hub("list", "--tag", tag)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"zoo: nothing has the tag '{tag}'; {HINT}"]
    assert done.stderr == ""


def test_a_family_of_the_package_says_how_to_install_it():
    done = zoo_without_hub("list", "architectures", "--family", "dinov2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"zoo: no architecture is of the family 'dinov2'; {HINT}"]


def test_json_stays_json_and_the_hint_goes_to_stderr():
    done = zoo_without_hub("list", "--tag", "hub", "--format", "json")
    assert done.returncode == 0
    assert json.loads(done.stdout) == {"plugins": [], "broken": [], "conflicts": {}}
    assert done.stderr.strip() == f"zoo: nothing has the tag 'hub'; {HINT}"


def test_an_unknown_tag_still_prints_the_empty_table():
    done = zoo_without_hub("list", "--tag", "no_such_tag")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].split() == ["NAME", "KIND", "TAGS", "PARAMS", "DESCRIPTION"]
    assert "zoo-hub" not in done.stdout


def _listing(env: dict[str, str]) -> dict:
    done = run_zoo("list", "--format", "json", extra_env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_core_is_the_same_without_the_package():
    """zoo's own entries, unchanged; no broken plugin, no conflict; a core spec validates."""
    without = _listing(WITHOUT_HUB)
    assert not without["broken"] and not without["conflicts"]
    assert {p["distribution"] for p in without["plugins"]} <= {"zoo"}
    kinds = [p["kind"] for p in without["plugins"]]
    assert kinds.count("architecture") >= 40 and kinds.count("recipe") >= 5
    assert "data" in kinds and not any("hub" in p["tags"] for p in without["plugins"])
    if INSTALLED:  # with it: the same core entries, and the package's besides
        full = _listing(WITH_HUB)
        core = [p for p in full["plugins"] if p["distribution"] == "zoo"]
        assert core == without["plugins"]
        assert any(p["distribution"] == HUB for p in full["plugins"])
    done = zoo_without_hub("validate", str(SPECS / "digits_mlp.yaml"))
    assert done.returncode == 0 and done.stdout.strip().endswith(": ok"), done.stderr


def test_the_core_never_imports_the_package():
    code = (
        "import sys\n"
        "from zoo.cli.main import main\n"
        "rc = main(['list', '--tag', 'hub'])\n"
        "print('IMPORTED', sorted(m for m in sys.modules if m.split('.')[0] == 'zoo_hub'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**fixture_pythonpath(), **WITHOUT_HUB},
        cwd=ROOT,
        timeout=120,
    )
    assert "IMPORTED []" in done.stdout, done.stdout[-500:] + done.stderr[-2000:]


@pytest.mark.skipif(not INSTALLED, reason="zoo-hub is not installed")
def test_with_the_package_the_tag_lists_its_families():
    done = run_zoo(
        "list", "architectures", "--tag", "transformer", "--format", "json", extra_env=WITH_HUB
    )
    families = {p["family"] for p in json.loads(done.stdout)["plugins"]}
    assert {"vit", "deit", "dinov2", "dinov3", "swin"} <= families
    assert "pip install" not in done.stdout + done.stderr
