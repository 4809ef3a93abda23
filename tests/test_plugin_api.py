"""Plugin API v1: built-ins use only the public surface, the guide documents all of it, and
a plugin that breaks the contract is reported by name, in one line."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_zoo

import zoo
import zoo.plugin
from zoo.data.prepare import prepare_data
from zoo.plugin.manager import build_registry
from zoo.plugin.registry import CAPABILITIES_BY_KIND, PluginRegistrar
from zoo.runner.build import build_model

PLUGINS = ROOT / "plugins"
GUIDE = ROOT / "docs" / "plugins.md"
ALLOWED = {"zoo", "zoo.plugin"}


def _zoo_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every zoo module a file imports, at any depth (functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from zoo import plugin" imports zoo.plugin; "from zoo import X" imports from zoo
            names = (
                [node.module]
                if node.module != "zoo"
                else [f"zoo.{a.name}" if a.name == "plugin" else "zoo" for a in node.names]
            )
        else:
            continue
        found += [(node.lineno, n) for n in names if n == "zoo" or n.startswith("zoo.")]
    return found


def test_builtin_plugins_import_only_the_public_surface():
    files = sorted(PLUGINS.rglob("*.py"))
    assert len(files) > 10
    bad = [
        f"{p.relative_to(ROOT)}:{line}: imports {mod}"
        for p in files
        for line, mod in _zoo_imports(p)
        if mod not in ALLOWED
    ]
    assert not bad, "plugins may import only zoo and zoo.plugin:\n" + "\n".join(bad)


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "p.py"
    src.write_text(
        "import zoo\nfrom zoo.plugin import X\ndef f():\n    from zoo.data import y\n"
        "    import zoo.plugin.registry\nfrom zoo import plugin\n"
    )
    assert [m for _, m in _zoo_imports(src) if m not in ALLOWED] == [
        "zoo.data",
        "zoo.plugin.registry",
    ]


def _capability_keywords() -> dict[str, list[str]]:
    out = {}
    for method in ("add_architecture", "add_scaling", "add_augmentation", "add_data_source"):
        sig = inspect.signature(getattr(PluginRegistrar, method))
        out[method] = [
            n for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
    return out


def test_guide_documents_every_keyword_capability_and_public_name():
    guide = GUIDE.read_text(encoding="utf-8")
    code_words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", guide))
    missing = []
    for method, keywords in _capability_keywords().items():
        if method not in code_words:
            missing.append(method)
        missing += [f"{method}({k}=)" for k in keywords if k not in code_words]
    for kind, caps in CAPABILITIES_BY_KIND.items():
        missing += [
            f"{kind} capability {c}"
            for c in caps
            if not re.search(rf"^\|\s*`{c}`\s*\|", guide, re.M)
        ]
    missing += [f"zoo.plugin.{n}" for n in zoo.plugin.__all__ if n not in code_words]
    assert not missing, "docs/plugins.md does not document: " + ", ".join(missing)


# ---------------------------------------------------------------- broken plugins, by name


class P(zoo.PluginParams):
    pass


def _source(params, ctx):
    return zoo.plugin.SourceData(
        ["a", "b"],
        {"all": zoo.plugin.ImageSet(np.array([0, 1] * 4), images=np.zeros((8, 4, 4, 1), np.uint8))},
    )


class Typo:
    @zoo.hookimpl
    def zoo_register_data_sources(self, registry):
        registry.add_data_source(
            "typo_src", params=P, factory=_source, description="d", sahpe_hint=lambda p, c: None
        )


class NotCallable:
    @zoo.hookimpl
    def zoo_register_architectures(self, registry):
        registry.add_architecture(
            "nc_arch", params=P, factory=print, description="d", loss_weights={"aux": 0.3}
        )


def test_unknown_capability_keyword_breaks_the_plugin_with_a_hint():
    registry = build_registry(extra_plugins=[("typo", Typo())])
    (broken,) = [b for b in registry.broken if b.plugin == "typo"]
    assert "unknown data capability 'sahpe_hint'; did you mean 'shape_hint'?" in broken.reason
    assert "typo_src" not in registry and "digits" in registry
    with pytest.raises(zoo.UnknownPluginError, match="broken"):
        registry.get("typo")


def test_non_callable_capability_breaks_the_plugin():
    registry = build_registry(extra_plugins=[("nc", NotCallable())])
    (broken,) = [b for b in registry.broken if b.plugin == "nc"]
    assert "capability loss_weights must be callable" in broken.reason
    assert "nc_arch" not in registry


def _package(root: Path, name: str, body: str) -> Path:
    """A plugin package with a .dist-info (entry point), importable from ``root``."""
    (root / f"{name}_zoo").mkdir(parents=True)
    (root / f"{name}_zoo" / "__init__.py").write_text("")
    (root / f"{name}_zoo" / "plugin.py").write_text(body)
    info = root / f"{name}_zoo-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-zoo\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(f"[zoo.plugins]\n{name} = {name}_zoo.plugin\n")
    return root


TYPO_PLUGIN = """
from zoo.plugin import NoParams, hookimpl

@hookimpl
def zoo_register_data_sources(registry):
    registry.add_data_source("capsrc", params=NoParams, factory=print, description="d",
                             sahpe_hint=print)
"""


def test_zoo_info_on_a_broken_plugin_says_why(tmp_path):
    root = _package(tmp_path, "caps", TYPO_PLUGIN)
    proc = run_zoo("info", "caps", extra_env={"PYTHONPATH": str(root)})
    assert proc.returncode == 2, proc.stderr
    assert "broken" in proc.stderr
    assert "did you mean 'shape_hint'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_name_clash_in_a_spec_is_one_located_line(tmp_path):
    spec = tmp_path / "clash.yaml"
    spec.write_text("name: clash\ndata:\n  source: digits\nmodel:\n  architecture: mlp\n")
    proc = run_zoo("validate", str(spec), fixtures=("duplicate",))
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if "mlp" in ln]
    assert len(lines) == 1, proc.stderr
    (line,) = lines
    assert line.startswith(f"{spec}:5:")
    assert "zoo 0.1.0" in line and "dup-zoo 2.0.0" in line
    assert "ZOO_DISABLE_PLUGINS" in line


# ------------------------------------------------------- contract errors at build / load time


def _wrong_shape(params, ctx):
    import keras

    inputs = keras.Input(ctx.input_shape)
    return keras.Model(inputs, keras.layers.Dense(7)(keras.layers.Flatten()(inputs)))


def _empty(params, ctx):
    return zoo.plugin.SourceData(
        ["a"], {"all": zoo.plugin.ImageSet(np.zeros(0), images=np.zeros((0, 4, 4, 1), np.uint8))}
    )


class Liar:
    @zoo.hookimpl
    def zoo_register_architectures(self, registry):
        registry.add_architecture("liar_net", params=P, factory=_wrong_shape, description="d")

    @zoo.hookimpl
    def zoo_register_data_sources(self, registry):
        registry.add_data_source(
            "liar_src",
            params=P,
            factory=_empty,
            description="d",
            shape_hint=lambda p, c: zoo.plugin.ShapeHint((4, 4), 1, 2),
        )


SPEC = """name: liar
data: {{source: {source}}}
model: {{architecture: {arch}}}
"""


@pytest.fixture(scope="module")
def liar_registry():
    return build_registry(extra_plugins=[("liarpkg", Liar())])


def test_wrong_output_shape_is_a_contract_error_naming_the_plugin(liar_registry):
    spec = zoo.load_spec_text(
        SPEC.format(source="liar_src", arch="liar_net"), registry=liar_registry
    )
    with pytest.raises(zoo.PluginContractError) as err:
        build_model(spec, liar_registry)
    assert "architecture 'liar_net' of plugin 'liarpkg'" in str(err.value)
    assert "expected a first output of shape (None, 2), got (None, 7)" in str(err.value)


def test_no_images_is_a_contract_error_naming_the_plugin(liar_registry):
    spec = zoo.load_spec_text(SPEC.format(source="liar_src", arch="mlp"), registry=liar_registry)
    with pytest.raises(zoo.PluginContractError) as err:
        prepare_data(spec)
    assert "data source 'liar_src' of plugin 'liarpkg'" in str(err.value)
    assert "returned no images" in str(err.value)
