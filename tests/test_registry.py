"""The registry: entry points, provenance, filters, unknown and duplicate names, broken plugins."""

from __future__ import annotations

import inspect

import pytest

import zoo
from zoo.errors import DuplicatePluginError, UnknownPluginError
from zoo.plugin import hookspecs
from zoo.plugin.manager import HOOK_NAMES, build_registry
from zoo.plugin.registry import PluginRegistrar, Provenance


def test_builtin_plugins_all_load_through_entry_points():
    registry = build_registry()
    builtin_broken = [b for b in registry.broken if b.distribution == "zoo"]
    assert builtin_broken == []
    builtins = {p.plugin for p in registry.plugins if p.distribution == "zoo"}
    assert {"mlp", "scaling", "augmentation", "digits"} <= builtins
    assert all(
        p.module.startswith("zoo_builtins.") for p in registry.plugins if p.distribution == "zoo"
    )


def test_every_hook_is_documented_and_implemented_by_a_builtin():
    specs = {
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("zoo_")
    }
    assert specs == set(HOOK_NAMES)
    for name in specs:
        assert getattr(hookspecs, name).__doc__.strip()
    kinds = {e.kind for e in build_registry()}
    assert kinds == {"architecture", "recipe", "data", "tracker"}


@pytest.mark.parametrize("entry", list(build_registry()), ids=lambda e: e.name)
def test_every_entry_is_described(entry):
    """The registrar refuses an undocumented parameter of the params model itself
    (test_broken_plugins_are_isolated); nested parameter models (a head, a block list) are
    only documented if their plugin documents them: zoo info shows every row."""
    from zoo.cli.cmd_info import _expanded

    assert entry.provenance.distribution and entry.provenance.version
    undocumented = [row["name"] for row in _expanded(entry.params) if not row["description"]]
    assert not undocumented, f"{entry.name}: no description for {undocumented}"
    defaults_ok = all(not f.is_required() for f in entry.params.model_fields.values())
    if defaults_ok:
        entry.params()  # the defaults themselves validate


def test_third_party_plugin_registers_through_a_real_entry_point(plugin_path):
    registry = plugin_path("acme")
    entry = registry.get("acme_tiny")
    assert entry.kind == "architecture"
    assert entry.provenance == Provenance("acme", "acme-zoo", "1.2.0", "acme_zoo.plugin")
    assert registry.get("acme_stripes", "data").input_kind == "gray"
    assert "mlp" in registry  # built-ins are still there


def test_unknown_name_suggests_close_matches(plugin_path):
    registry = plugin_path()
    with pytest.raises(UnknownPluginError) as err:
        registry.get("mpl")
    assert str(err.value).startswith("unknown plugin 'mpl'; did you mean 'mlp'?")
    with pytest.raises(UnknownPluginError, match="unknown architecture 'digits'"):
        registry.get("digits", "architecture")


def test_duplicate_name_names_both_packages_and_the_rest_works(plugin_path):
    registry = plugin_path("duplicate")
    with pytest.raises(DuplicatePluginError) as err:
        registry.get("mlp")
    message = str(err.value)
    assert "'mlp' is registered by more than one plugin" in message
    assert "zoo 0.1.0 (plugin 'mlp')" in message and "dup-zoo 2.0.0 (plugin 'dup')" in message
    assert "mlp" not in registry.names()
    assert registry.get("digits").kind == "data"


def test_broken_plugins_are_reported_and_the_rest_still_works(plugin_path):
    registry = plugin_path("broken")
    reasons = {b.plugin: b.reason for b in registry.broken}
    assert "No module named 'acme_dependency_that_is_not_installed'" in reasons["broken_import"]
    assert "implements unknown hook 'zoo_register_architecture'" in reasons["bad_hook"]
    assert "did you mean 'zoo_register_architectures'" in reasons["bad_hook"]
    assert reasons["raises"] == "hook raised RuntimeError: database unavailable"
    assert "every parameter needs a description; missing for: depth" in reasons["bad_params"]
    assert "half_registered" not in registry and "undocumented" not in registry
    fixture_plugins = {"broken_import", "bad_hook", "raises", "bad_params"}
    assert {b.distribution for b in registry.broken if b.plugin in fixture_plugins} == {
        "broken-zoo"
    }
    assert registry.get("mlp").kind == "architecture"


@pytest.mark.parametrize(
    ("name", "params", "factory", "message"),
    [
        ("Bad-Name", zoo.NoParams, print, "plugin name must match"),
        ("ok", dict, print, "params must be a pydantic BaseModel subclass"),
        ("ok", zoo.NoParams, "not callable", "factory must be callable"),
    ],
)
def test_registrar_rejects_contract_violations(name, params, factory, message):
    registrar = PluginRegistrar(Provenance("t"))
    with pytest.raises(zoo.PluginContractError, match=message):
        registrar.add_architecture(name, params=params, factory=factory, description="d")


def test_filters():
    registry = build_registry()
    archs = registry.list("architectures")
    assert archs and all(e.kind == "architecture" for e in archs)
    assert [e.name for e in registry.list(pattern="mlp*")] == ["mlp"]  # ml* has mlflow too
    assert all("mlp" in e.tags for e in registry.list(tag="mlp"))
    assert [e.name for e in registry.list(family="mlp")] == ["mlp"]
    scaling = registry.list("recipes", recipe_type="scaling")
    assert scaling and all(e.recipe_type == "scaling" for e in scaling)
    counted = [e for e in archs if e.param_count]
    small = registry.list("architectures", max_params=min(e.param_count for e in counted))
    assert small and all(e.param_count <= min(c.param_count for c in counted) for e in small)
    assert registry.list(min_params=10**12) == []
    assert registry.list(input_kind="no-such-kind") == []


def test_reference_tag_and_its_old_spelling():
    registry = build_registry()
    reference = [e.name for e in registry.list("architectures", tag="reference")]
    assert {"simple_cnn", "vgg", "googlenet", "resnet50", "vgg16_transfer"} <= set(reference)
    assert not any("note" in e.tags for e in registry.list())
    assert [e.name for e in registry.list("architectures", tag="note")] == reference
    assert [e.name for e in registry.list(tag=["note", "cnn"])] == [
        e.name for e in registry.list(tag=["reference", "cnn"])
    ]


def test_python_api_lookup():
    names = [e.name for e in zoo.list_plugins("architectures")]
    assert "mlp" in names
    info = zoo.describe("mlp")
    assert info["kind"] == "architecture"
    hidden = next(p for p in info["parameters"] if p["name"] == "hidden_units")
    assert hidden["default"] == [64, 128] and hidden["description"]
    assert zoo.get("mlp").factory is not None
    with pytest.raises(zoo.UnknownPluginError):
        zoo.get("resnet5000")


def test_env_var_limits_which_plugins_load(monkeypatch):
    monkeypatch.setenv("ZOO_PLUGINS", "mlp,digits")
    assert {p.plugin for p in build_registry().plugins} == {"mlp", "digits"}
    monkeypatch.delenv("ZOO_PLUGINS")
    monkeypatch.setenv("ZOO_DISABLE_PLUGINS", "mlp")
    assert "mlp" not in build_registry()
