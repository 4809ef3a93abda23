"""The layering of zoo, checked: import-linter's contracts (pyproject.toml) and what the
public plugin surface pulls in."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold():
    """Layers (cli > sweep > serving > runner > inference > data > record > spec > plugin),
    a foundation that imports nothing above it, built-ins on the public surface only, and
    no import cycle between the modules of any package."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint_imports is None:
        pytest.skip("import-linter is not installed (pip install 'zoo[lint]')")
    done = subprocess.run(
        [lint_imports, "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-1000:]
    assert "0 broken" in done.stdout


def test_the_plugin_surface_loads_no_runner():
    code = (
        "import sys, zoo.plugin\n"
        "mods = sorted(m for m in sys.modules if m.startswith('zoo'))\n"
        "print(len(mods))\n"
        "bad = [m for m in mods if m.startswith(('zoo.runner', 'zoo.data', 'zoo.serving',\n"
        "                                          'zoo.sweep', 'zoo.record', 'zoo.cli'))]\n"
        "assert not bad, bad\n"
        "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) <= 32  # zoo, zoo.plugin.*, zoo.spec.* and the foundation


def test_every_package_is_in_the_distribution():
    """A package missing from pyproject's list works in an editable checkout and is absent
    from a wheel: `pip install .` would give an ImportError."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts).replace("plugins", "zoo_builtins", 1)
        for root in ("zoo", "plugins")
        for p in (ROOT / root).rglob("__init__.py")
        if "template" not in p.parts and "__pycache__" not in p.parts
    }
    assert found == listed, (found - listed, listed - found)
