"""zoo plugin new: the generated package registers one entry of each kind through its entry
point, and its own zoo.testing tests pass (run as a third party would, in a subprocess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from conftest import ROOT, run_zoo


def _dist_info(site, dist, package, name):
    """What pip install would write for the entry point: a .dist-info on the path."""
    info = site / f"{package}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[zoo.plugins]\n{name} = {package}.plugin\n")


def test_new_plugin_package_passes_its_own_tests(tmp_path):
    proc = run_zoo("plugin", "new", "demo_kit", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    pkg = tmp_path / "zoo-demo-kit"
    assert (pkg / "pyproject.toml").is_file() and (pkg / "zoo_demo_kit" / "plugin.py").is_file()
    toml = (pkg / "pyproject.toml").read_text()
    assert '[project.entry-points."zoo.plugins"]\ndemo_kit = "zoo_demo_kit.plugin"' in toml
    assert "{{" not in toml + (pkg / "zoo_demo_kit" / "plugin.py").read_text()

    site = tmp_path / "site"
    _dist_info(site, "zoo-demo-kit", "zoo_demo_kit", "demo_kit")
    env = {"PYTHONPATH": os.pathsep.join([str(pkg), str(site)])}
    listed = run_zoo("list", extra_env=env)
    assert listed.returncode == 0, listed.stderr
    for name in ("demo_kit_net", "demo_kit_scaling", "demo_kit_jitter", "demo_kit_shapes"):
        assert name in listed.stdout
    assert "demo_kit" not in run_zoo("list", extra_env=env).stderr  # not broken

    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=pkg,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert "6 passed" in tests.stdout


def test_new_refuses_to_overwrite_and_bad_names(tmp_path):
    (tmp_path / "zoo-taken").mkdir()
    proc = run_zoo("plugin", "new", "taken", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "already exists" in proc.stderr
    assert list((tmp_path / "zoo-taken").iterdir()) == []
    bad = run_zoo("plugin", "new", "Bad-Name", "--out", str(tmp_path))
    assert bad.returncode == 2 and "lowercase" in bad.stderr and "Traceback" not in bad.stderr


EXAMPLE = ROOT / "examples" / "zoo-example-plugin"


def test_example_package_installs_and_registers(tmp_path):
    """pip installs the example (no deps, into a folder) and zoo list sees its entries."""
    src = tmp_path / "src"
    shutil.copytree(
        EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    target = tmp_path / "site"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    listed = run_zoo("plugins", extra_env={"PYTHONPATH": str(target)})
    assert listed.returncode == 0, listed.stderr
    assert "zoo-example-plugin" in listed.stdout
    listed = run_zoo("list", "--tag", "example_plugin", extra_env={"PYTHONPATH": str(target)})
    for name in (
        "example_plugin_net",
        "example_plugin_scaling",
        "example_plugin_jitter",
        "example_plugin_shapes",
    ):
        assert name in listed.stdout


def test_example_package_matches_the_scaffold(tmp_path):
    """The example is what `zoo plugin new example_plugin` writes (README aside)."""
    from zoo.scaffold import new_plugin

    fresh = new_plugin("example_plugin", tmp_path)
    for path in fresh.rglob("*"):
        if path.is_file() and path.name != "README.md":
            rel = path.relative_to(fresh)
            assert (EXAMPLE / rel).read_text() == path.read_text(), f"{rel} differs"
