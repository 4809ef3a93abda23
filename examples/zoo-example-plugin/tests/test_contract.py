"""zoo's contract checks on every entry this package registers (runs after pip install)."""

import pytest

from zoo.testing import check_architecture, check_data_source, check_plugin, check_recipe

NAMES = [
    "example_plugin_net",
    "example_plugin_scaling",
    "example_plugin_jitter",
    "example_plugin_shapes",
]


def test_the_entries_are_registered():
    import zoo

    registered = {e.name: e for e in zoo.list_plugins()}
    for name in NAMES:
        assert name in registered, f"{name} is not registered; is the package installed?"
        assert registered[name].provenance.plugin == "example_plugin"


def test_architecture():
    report = check_architecture("example_plugin_net")
    assert any(c.startswith("param_count") for c in report.checked), str(report)


@pytest.mark.parametrize("name", ["example_plugin_scaling", "example_plugin_jitter"])
def test_recipes(name):
    check_recipe(name)


def test_data_source():
    check_data_source("example_plugin_shapes", {"count": 12, "image_size": 10})


def test_check_plugin_dispatches():
    for name in NAMES:
        check_plugin(name)
