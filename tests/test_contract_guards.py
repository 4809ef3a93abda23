"""The runtime side of the plugin contract: zoo checks what a plugin's factory returns at
the boundary and names the plugin and its package, instead of failing mid-training with a
raw traceback; and it honours every declared capability (GoogLeNet's auxiliary heads)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import run_zoo
from pydantic import Field

import zoo
from zoo.plugin import NoParams, PluginContractError, PluginParams, hookimpl
from zoo.plugin.manager import build_registry
from zoo.spec import load_spec_text


class Shift(PluginParams):
    pixels: int = Field(1, description="How far to shift.")


class BadRecipes:
    """A third party's recipes that break the contract in the ways users hit."""

    @staticmethod
    def float_augmenter(params, ctx):
        return lambda image: image.astype(np.float32) / 255.0

    @staticmethod
    def cropping_augmenter(params, ctx):
        return lambda image: image[1:, 1:]

    @staticmethod
    def stateless_scaling(params, state):
        return lambda images: images / 255.0

    @hookimpl
    def zoo_register_recipes(self, registry):
        registry.add_augmentation(
            "floaty",
            params=Shift,
            factory=self.float_augmenter,
            description="Returns float pixels (wrong).",
        )
        registry.add_augmentation(
            "cropper",
            params=Shift,
            factory=self.cropping_augmenter,
            description="Returns a smaller image (wrong).",
        )
        registry.add_scaling(
            "stateless",
            params=NoParams,
            factory=self.stateless_scaling,
            description="A plain function: no fit(), no state() (wrong).",
        )


class BadSource:
    @staticmethod
    def empty(params, ctx):
        return zoo.plugin.SourceData(
            class_names=["a", "b"],
            splits={
                "all": zoo.plugin.ImageSet(np.zeros(0), images=np.zeros((0, 8, 8, 1), np.uint8))
            },
        )

    @hookimpl
    def zoo_register_data_sources(self, registry):
        registry.add_data_source(
            "empty", params=NoParams, factory=self.empty, description="Returns no images (wrong)."
        )


@pytest.fixture(scope="module")
def registry():
    return build_registry(
        extra_plugins=[("bad_recipes", BadRecipes()), ("bad_source", BadSource())]
    )


def spec(registry, **sections: str):
    body = {
        "data": "{source: digits, params: {limit: 100}}",
        "model": "{architecture: mlp}",
        **sections,
    }
    text = "name: guard\n" + "".join(f"{k}: {v}\n" for k, v in body.items())
    return load_spec_text(text, "guard.yaml", registry=registry)


@pytest.mark.parametrize(
    "recipe, expected",
    [
        (
            "floaty",
            r"augmentation recipe 'floaty' of plugin 'bad_recipes' broke the contract.*"
            r"uint8.*got \(8, 8, 1\) float32",
        ),
        ("cropper", r"augmentation recipe 'cropper' of plugin 'bad_recipes'.*got \(7, 7, 1\)"),
    ],
)
def test_an_augmenter_returning_wrong_pixels_is_named_before_any_run(
    registry, tmp_path, recipe, expected
):
    loaded = spec(registry, augmentation=f"{{recipe: {recipe}}}")
    with pytest.raises(PluginContractError, match=expected):
        zoo.train(loaded, out=tmp_path, registry=registry)
    assert not any(tmp_path.iterdir())  # found before a run folder was made


def test_a_scaling_without_state_is_named(registry, tmp_path):
    loaded = spec(registry, scaling="{recipe: stateless}")
    with pytest.raises(
        PluginContractError,
        match=r"scaling recipe 'stateless' of plugin "
        r"'bad_recipes'.*lacks fit, state",
    ):
        zoo.train(loaded, out=tmp_path, registry=registry)
    assert not any(tmp_path.iterdir())


def test_a_source_with_no_images_is_named(registry, tmp_path):
    loaded = spec(registry, data="{source: empty}")
    with pytest.raises(
        PluginContractError,
        match=r"data source 'empty' of plugin 'bad_source'"
        r".*returned no images",
    ):
        zoo.train(loaded, out=tmp_path, registry=registry)


def test_the_cli_reports_a_broken_contract_in_one_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("data: {source: digits}\nmodel: {architecture: mlp}\n")
    result = run_zoo(
        "train", str(path), "--out", str(tmp_path / "runs"), "--set", "model.num_classes=3"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_zoo_plugins_typo_warns_with_a_suggestion():
    result = run_zoo("list", "architectures", extra_env={"ZOO_PLUGINS": "mpl,digits"})
    assert (
        "ZOO_PLUGINS names 'mpl', which is no installed plugin or package; did you mean "
        "'mlp'?" in result.stderr
    )
    assert result.returncode == 0


def test_zoo_plugins_accepts_a_package_name():
    result = run_zoo("list", "--format", "json", extra_env={"ZOO_PLUGINS": "zoo"})
    assert result.returncode == 0 and '"mlp"' in result.stdout and "warning" not in result.stderr


GOOGLENET_AUX = textwrap.dedent("""\
    name: googlenet-aux
    seed: 3
    data: {source: digits, params: {upscale: 12, limit: 60}, split: {validation: 10, test: 10}}
    model: {architecture: googlenet, params: {aux_classifiers: true, aux_loss_weight: 0.3}}
    training: {epochs: 1, batch_size: 16, verbose: 0}
    """)


@pytest.mark.long  # 22 s; the auxiliary heads' build and outputs are checked by the default run
def test_googlenet_trains_with_its_auxiliary_heads_and_saves_only_the_classifier(tmp_path: Path):
    import keras

    spec_path = tmp_path / "g.yaml"
    spec_path.write_text(GOOGLENET_AUX)
    result = zoo.train(spec_path, out=tmp_path / "runs")
    assert result.epochs == 1 and np.isfinite(result.history["loss"][0])
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(result.history)
    saved = keras.saving.load_model(result.run_dir / "model.keras", safe_mode=True)
    assert len(saved.outputs) == 1 and saved.outputs[0].shape[-1] == 10
