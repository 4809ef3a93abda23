"""Spec files: validation against every plugin's params, located one-line errors, schema."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from conftest import SPECS

import zoo
from zoo.errors import UserError
from zoo.spec import load_spec, load_spec_text, spec_json_schema, validate_spec
from zoo.spec.sections import CURRENT_SPEC_VERSION

MINIMAL = """\
name: mini
data:
  source: digits
model:
  architecture: mlp
"""


def problems_of(text: str, overrides=(), registry=None) -> list[str]:
    with pytest.raises(UserError) as err:
        load_spec_text(textwrap.dedent(text), "spec.yaml", overrides, registry=registry)
    return [str(p) for p in err.value.problems]


def test_minimal_spec_gets_every_default():
    loaded = load_spec_text(MINIMAL, "spec.yaml")
    spec = loaded.spec
    assert spec.spec_version == CURRENT_SPEC_VERSION
    assert spec.seed == 42
    assert spec.scaling.recipe == "unit"
    assert spec.augmentation is None
    assert spec.training.epochs == 10 and spec.training.optimizer.name == "adam"
    assert spec.model.params.hidden_units == [64, 128]
    assert spec.callbacks == []


def test_resolved_spec_round_trips():
    loaded = load_spec_text(MINIMAL, "spec.yaml")
    again = load_spec_text(yaml.safe_dump(loaded.resolved()), "resolved.yaml")
    assert again.resolved() == loaded.resolved()


def test_every_mistake_reported_at_once_with_file_line_column_and_key_path():
    lines = problems_of("""\
        name: mini
        seeed: 1
        data:
          source: digits
          split: {validation: 1.5, tset: 0.1}
        model:
          architecture: mlp
          params:
            hiden_units: [8]
            dropout: 2
        training:
          optimizer: {name: adamm}
        callbacks:
          - type: early_stoping
        """)
    assert lines == [
        "spec.yaml:2:1: seeed: unknown key 'seeed'; did you mean 'seed'? (expected one of: "
        "spec_version, name, description, seed, data, model, scaling, augmentation, training, callbacks, "
        "evaluation, runtime)",
        "spec.yaml:5:23: data.split.validation: expected a fraction between 0 and 1 or a whole count (got 1.5)",
        "spec.yaml:5:28: data.split.tset: unknown key 'tset'; did you mean 'test'? "
        "(expected one of: validation, test, stratify, seed, export_to)",
        "spec.yaml:9:5: model.params.hiden_units: unknown key 'hiden_units'; did you mean 'hidden_units'? "
        "(expected one of: hidden_units, activation, dropout, batch_norm, kernel_initializer)",
        "spec.yaml:10:14: model.params.dropout: Input should be less than 1 (got 2)",
        "spec.yaml:12:21: training.optimizer.name: Input should be 'sgd', 'adagrad', 'rmsprop', 'adam' "
        "or 'adamw'; did you mean 'adam' or 'adamw'? (got 'adamm')",
        "spec.yaml:14:11: callbacks[0].type: unknown type 'early_stoping'; did you mean 'early_stopping'? "
        "(expected one of: 'model_checkpoint', 'reduce_lr_on_plateau', 'early_stopping', "
        "'learning_rate_scheduler', 'csv_logger', 'tensorboard', 'backup_and_restore')",
    ]


def test_unknown_plugin_name_lists_close_matches():
    [line] = problems_of(MINIMAL.replace("architecture: mlp", "architecture: mpl"))
    assert line.startswith(
        "spec.yaml:5:17: model.architecture: unknown architecture 'mpl'; did you mean 'mlp'?"
    )
    [line] = problems_of(MINIMAL.replace("source: digits", "source: digit"))
    assert line.startswith(
        "spec.yaml:3:11: data.source: unknown data source 'digit'; did you mean 'digits'?"
    )


def test_missing_plugin_key_and_section():
    lines = problems_of("name: x\ndata: {}\n")
    assert lines[0] == "spec.yaml:1:1: model: missing required key 'model'"
    assert lines[1].startswith(
        "spec.yaml:2:7: data.source: missing required key 'source' (known data sources: "
    )


def test_spec_cannot_name_an_import_path_or_python_object():
    [line] = problems_of(MINIMAL.replace("architecture: mlp", "architecture: os.system"))
    assert "unknown architecture 'os.system'" in line
    [line] = problems_of("name: !!python/object/apply:os.system ['echo hacked']\n")
    assert line.startswith("spec.yaml:1:7: not valid YAML")


def test_yaml_problems_are_located():
    [line] = problems_of("name: [unclosed\n")
    assert line.startswith("spec.yaml:2:1: not valid YAML")
    [line] = problems_of(MINIMAL + "name: again\n")
    assert line == "spec.yaml:6:1: duplicate key 'name' (first set on line 1)"
    [line] = problems_of("- a list\n")
    assert line == "spec.yaml:1:1: a spec must be a mapping of keys to values"


def test_spec_version_is_checked():
    [line] = problems_of("spec_version: 99\n" + MINIMAL)
    assert line == (
        "spec.yaml: spec_version: spec_version 99 is newer than this zoo understands "
        f"({CURRENT_SPEC_VERSION}); upgrade zoo"
    )


def test_overrides_are_validated_like_the_file():
    loaded = load_spec_text(
        MINIMAL, "spec.yaml", ["training.epochs=3", "model.params.hidden_units=[4]"]
    )
    assert loaded.spec.training.epochs == 3
    assert loaded.spec.model.params.hidden_units == [4]
    [line] = problems_of(MINIMAL, ["training.epoch=3"])
    assert line.startswith(
        "--set training.epoch=3: training.epoch: unknown key 'epoch'; did you mean 'epochs'?"
    )
    [line] = problems_of(MINIMAL, ["training.epochs"])
    assert line == "--set: override must look like key.path=value, got 'training.epochs'"


def test_missing_spec_file(tmp_path: Path):
    [problem] = validate_spec(tmp_path / "nope.yaml")
    assert str(problem) == f"{tmp_path / 'nope.yaml'}: no such spec file"


def test_third_party_plugin_validates_in_a_spec(plugin_path):
    registry = plugin_path("acme")
    text = MINIMAL.replace("digits", "acme_stripes").replace("mlp", "acme_tiny")
    loaded = load_spec_text(text + "  params: {units: 4}\n", "spec.yaml", registry=registry)
    assert loaded.spec.model.params.units == 4
    lines = problems_of(text + "  params: {unit: 4}\n", registry=registry)
    assert lines[0].startswith(
        "spec.yaml:6:12: model.params.unit: unknown key 'unit'; did you mean 'units'?"
    )


def test_duplicate_plugin_name_in_a_spec_is_an_error(plugin_path):
    registry = plugin_path("duplicate")
    lines = problems_of(MINIMAL, registry=registry)
    assert any("'mlp' is registered by more than one plugin" in line for line in lines)


def test_schema_lists_every_plugin_and_its_params():
    schema = spec_json_schema(zoo.registry())
    text = yaml.safe_dump(schema)
    for entry in zoo.list_plugins():
        if entry.kind == "tracker":  # trackers are switched on by ZOO_TRACKING, not the spec
            continue
        assert f"const: {entry.name}" in text or f"- {entry.name}" in text, entry.name
    assert "hidden_units" in text
    assert schema["additionalProperties"] is False


def _spec_files() -> list[Path]:
    return sorted(SPECS.glob("*.yaml"))


@pytest.mark.parametrize("path", _spec_files(), ids=lambda p: p.name)
def test_shipped_specs_are_valid_and_match_the_schema(path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    loaded = load_spec(path)
    raw = yaml.safe_load(path.read_text())
    jsonschema.validate(raw, spec_json_schema(zoo.registry()))
    # each example names itself (run folders are named after it), not the default name
    assert raw.get("name") and loaded.spec.name == raw["name"] != "experiment"


def test_schema_rejects_what_validation_rejects():
    jsonschema = pytest.importorskip("jsonschema")
    schema = spec_json_schema(zoo.registry())
    bad = yaml.safe_load(MINIMAL)
    bad["model"]["params"] = {"hiden_units": [3]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_optimizer_options_that_would_be_ignored_are_errors():
    [line] = problems_of(MINIMAL + "training:\n  optimizer: {name: adam, momentum: 0.9}\n")
    assert (
        line
        == "spec.yaml:7:37: training.optimizer.momentum: momentum applies to sgd and rmsprop, not adam"
    )
    [line] = problems_of(MINIMAL + "training:\n  optimizer: {name: sgd, nesterov: true}\n")
    assert line == "spec.yaml:7:36: training.optimizer.nesterov: nesterov needs momentum > 0"
