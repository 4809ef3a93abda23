"""The lookup verbs of the CLI: exit codes, output shapes, JSON, and no TensorFlow import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, fixture_pythonpath, run_zoo

BAD_SPEC = "name: x\ndata: {source: digits}\nmodel: {architecture: mpl}\n"


def test_help_explains_each_verb():
    result = run_zoo("--help")
    assert result.returncode == 0
    for verb in ("list", "info", "plugins", "validate", "schema"):
        assert verb in result.stdout


def test_list_shows_third_party_and_broken_plugins():
    result = run_zoo("list", fixtures=("acme", "broken"))
    assert result.returncode == 0, result.stderr
    assert "acme_tiny" in result.stdout and "mlp" in result.stdout
    assert "BROKEN plugins (not loaded):" in result.stdout
    assert "broken_import (broken-zoo 0.1.0): failed to import broken_zoo.plugin" in result.stdout


def test_list_json_filters_by_kind():
    result = run_zoo("list", "architectures", "--format", "json", fixtures=("acme",))
    data = json.loads(result.stdout)
    assert {p["kind"] for p in data["plugins"]} == {"architecture"}
    tiny = next(p for p in data["plugins"] if p["name"] == "acme_tiny")
    assert tiny["distribution"] == "acme-zoo" and tiny["version"] == "1.2.0"


def test_plugins_shows_provenance():
    result = run_zoo("plugins", "--format", "json", fixtures=("acme",))
    records = {r["plugin"]: r for r in json.loads(result.stdout)}
    assert records["acme"]["distribution"] == "acme-zoo"
    assert records["acme"]["registers"] == ["acme_stripes", "acme_tiny"]
    assert records["mlp"]["distribution"] == "zoo" and records["mlp"]["registers"] == ["mlp"]


def test_plugins_shows_conflicts():
    result = run_zoo("plugins", fixtures=("duplicate",))
    assert result.returncode == 0
    assert "mlp (CONFLICT)" in result.stdout


def test_info_lists_parameters_and_unknown_name_exits_2():
    result = run_zoo("info", "mlp")
    assert result.returncode == 0
    assert "hidden_units" in result.stdout and "Units of each hidden Dense layer" in result.stdout
    result = run_zoo("info", "mpl")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "no plugin or built-in component named 'mpl'; did you mean 'mlp'?"
    )
    assert "Traceback" not in result.stderr


def test_validate_exit_codes_and_one_line_per_problem(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("name: x\ndata: {source: digits}\nmodel: {architecture: mlp}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_SPEC)
    result = run_zoo("validate", str(good))
    assert result.returncode == 0 and result.stdout.strip() == f"{good}: ok"
    result = run_zoo("validate", str(good), str(bad))
    assert result.returncode == 2
    # one line; what it lists after "known:" depends on the installed plugin packages (and
    # a long list is cut short), so only the located did-you-mean is fixed
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"{bad}:3:23: model.architecture: unknown architecture 'mpl'; did you mean 'mlp'? (known: "
    )
    result = run_zoo("validate", str(bad), "--format", "json")
    [record] = json.loads(result.stdout)
    assert record["ok"] is False and record["problems"][0]["line"] == 3


def test_validate_with_set_override(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("name: x\ndata: {source: digits}\nmodel: {architecture: mlp}\n")
    result = run_zoo("validate", str(good), "--set", "training.epochs=0")
    assert result.returncode == 2
    assert "training.epochs: Input should be greater than or equal to 1 (got 0)" in result.stderr


def test_schema_is_json_with_plugin_params(tmp_path):
    out = tmp_path / "zoo.schema.json"
    result = run_zoo("schema", "--out", str(out))
    assert result.returncode == 0
    schema = json.loads(out.read_text())
    assert schema["title"] == "zoo spec"
    assert "hidden_units" in json.dumps(schema)


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["info", "mlp"],
        ["plugins"],
        ["schema"],
        ["validate", str(ROOT / "specs" / "digits_mlp.yaml")],
    ],
    ids=lambda a: a[0],
)
def test_lookup_verbs_do_not_import_tensorflow(argv):
    code = (
        "import sys\n"
        "from zoo.cli.main import main\n"
        f"rc = main({argv!r})\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print('HEAVY', heavy, 'RC', rc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=fixture_pythonpath(),
        cwd=ROOT,
        timeout=120,
    )
    assert "HEAVY [] RC 0" in result.stdout, result.stdout[-500:] + result.stderr[-2000:]
