"""Augmentation recipes: every recipe on a real image, located spec errors, the round trip,
seeding, albumentations 1.x arguments, and ``zoo preview``."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import yaml
from zoo_builtins.recipes import _albu_schema as albu

import zoo
from zoo.errors import UserError
from zoo.spec import load_spec_text

SIZE = (64, 64)
SAMPLE_PIPELINE = [
    {"HorizontalFlip": {"p": 0.5}},
    {
        "OneOf": {
            "p": 0.5,
            "transforms": [{"Blur": {"blur_limit": [3, 7]}}, {"CLAHE": {"clip_limit": 4}}],
        }
    },
]


def recipes() -> list[str]:
    return [e.name for e in zoo.list_plugins("recipes", recipe_type="augmentation")]


def default_params(name: str) -> dict:
    return {"transforms": SAMPLE_PIPELINE} if name == "albumentations" else {}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A digit from scikit-learn, upscaled and tinted, with a drawn shape: a real RGB image."""
    from sklearn.datasets import load_digits

    digit = (load_digits().images[3] * 16).clip(0, 255).astype(np.uint8)
    big = cv2.resize(digit, SIZE[::-1], interpolation=cv2.INTER_NEAREST)
    image = np.stack([big, 255 - big, np.full_like(big, 90)], axis=-1)
    cv2.circle(image, (20, 44), 9, (250, 200, 0), -1)
    return image


def spec_text(augmentation: str, image_size=SIZE, channels=3) -> str:
    return textwrap.dedent(f"""\
        name: aug
        data:
          source: digits
          image_size: [{image_size[0]}, {image_size[1]}]
          channels: {channels}
        model:
          architecture: mlp
        """) + textwrap.dedent(augmentation)


def problems(text: str) -> list[str]:
    with pytest.raises(UserError) as err:
        load_spec_text(text, "spec.yaml")
    return [str(p) for p in err.value.problems]


def build(name: str, params: dict, channels=3, seed=7, size=SIZE):
    entry = zoo.registry().get(name, "recipe")
    ctx = zoo.AugmentContext(image_size=size, channels=channels, seed=seed)
    return entry, entry.factory(entry.params.model_validate(params), ctx)


def test_the_recipes_are_registered():
    assert {"albumentations", "keras_style", "light", "medium", "heavy"} <= set(recipes())


@pytest.mark.parametrize("name", recipes())
@pytest.mark.parametrize("channels", [3, 1])
def test_every_recipe_runs_on_a_real_image(name, channels, photo):
    image = photo if channels == 3 else cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None]
    _, augmenter = build(name, default_params(name), channels=channels)
    outs = [augmenter(image) for _ in range(6)]
    for out in outs:
        assert out.shape == image.shape and out.dtype == np.uint8
    assert any(not np.array_equal(o, image) for o in outs), "six draws and nothing changed"
    batch = augmenter.augment_batch(np.stack([image] * 4), seed=3)
    assert batch.shape == (4, *image.shape) and batch.dtype == np.uint8


@pytest.mark.parametrize("name", recipes())
def test_every_recipe_survives_the_round_trip(name):
    """spec -> pipeline -> spec: the resolved params come back unchanged, defaults included."""
    section = {"recipe": name, "params": default_params(name)}
    if name == "keras_style":
        section["params"] = {
            "zoom_range": 0.2,
            "fill_mode": "reflect",
            "vertical_flip": False,
            "brightness_range": [0.8, 1.1],
            "rotation_range": 12.5,
        }
    if name in ("light", "medium", "heavy"):
        section["params"] = {"p": 0.3, "strength": 1.7}
    loaded = load_spec_text(spec_text(yaml.safe_dump({"augmentation": section})), "spec.yaml")
    resolved = loaded.resolved()["augmentation"]
    entry, augmenter = build(name, resolved["params"])
    assert entry.capabilities.to_spec(augmenter) == resolved["params"]
    again = load_spec_text(spec_text(yaml.safe_dump({"augmentation": resolved})), "again.yaml")
    assert again.resolved()["augmentation"] == resolved


def test_keras_style_reads_its_params_back_from_the_transforms():
    _, augmenter = build(
        "keras_style",
        {
            "horizontal_flip": False,
            "rotation_range": 30,
            "zoom_range": [0.9, 1.25],
            "brightness_range": None,
        },
    )
    names = [next(iter(i)) for i in albu.describe_pipeline(augmenter.pipeline)]
    assert names == ["Affine", "VerticalFlip"]
    back = augmenter.to_spec()
    assert back["rotation_range"] == 30 and back["zoom_range"] == [0.9, 1.25]
    assert back["horizontal_flip"] is False and back["brightness_range"] is None


def test_named_recipes_read_back_only_what_they_built():
    _, augmenter = build("medium", {"p": 0.4})
    augmenter.pipeline.transforms[0].p = 0.9  # someone changed the built pipeline
    with pytest.raises(ValueError, match="not the 'medium' recipe"):
        augmenter.to_spec()


def test_round_trip_reads_the_live_objects():
    """p, n and replace come from the built albumentations objects, not from a copy."""
    items = albu.canonical_items(
        [
            {"SomeOf": {"n": 2, "transforms": ["Blur", "CLAHE", "Sharpen"]}},
            {"Rotate": {"limit": 30, "border_mode": "reflect", "p": 0.25}},
        ]
    )
    pipeline = albu.build(items, seed=0)
    assert albu.describe_pipeline(pipeline) == items
    some_of, rotate = pipeline.transforms
    assert some_of.n == 2 and rotate.p == 0.25 and rotate.border_mode == cv2.BORDER_REFLECT
    rotate.p = 0.75
    assert albu.describe_pipeline(pipeline)[1]["Rotate"]["p"] == 0.75


def test_seeded_augmenters_repeat(photo):
    _, a = build("heavy", {"p": 1.0}, seed=11)
    _, b = build("heavy", {"p": 1.0}, seed=11)
    _, c = build("heavy", {"p": 1.0}, seed=12)
    first = [a(photo) for _ in range(4)]
    assert all(np.array_equal(x, b(photo)) for x in first)
    assert not all(np.array_equal(x, c(photo)) for x in first)
    batch = np.stack([photo] * 5)
    np.testing.assert_array_equal(a.augment_batch(batch, 5), c.augment_batch(batch, 5))
    assert not np.array_equal(a.augment_batch(batch, 5), a.augment_batch(batch, 6))


# --- the albumentations recipe: the reference transforms, checks and messages -----------------------

NOTE_TRANSFORMS = """\
augmentation:
  recipe: albumentations
  params:
    transforms:
      - HorizontalFlip: {p: 0.5}
      - VerticalFlip: {p: 0.1}
      - Rotate: {p: 0.5, limit: 90, border_mode: reflect}
      - Rotate: {p: 0.5, limit: 90, border_mode: wrap}
      - Rotate: {p: 0.5, limit: [45, 90], border_mode: constant}
      - RandomRotate90: {p: 1}
      - ShiftScaleRotate: {shift_limit: 0.5, scale_limit: [-0.8, 1.5], rotate_limit: 90, p: 1,
                           border_mode: wrap}
      - Compose:
          p: 0.5
          transforms:
            - Crop: {x_min: 10, y_min: 10, x_max: 60, y_max: 40, p: 1}
            - Resize: {height: 64, width: 64}
      - Compose:
          transforms:
            - CenterCrop: {height: 30, width: 50, p: 1}
            - Resize: {height: 64, width: 64}
      - RandomResizedCrop: {height: 64, width: 64, scale: [0.2, 0.7], p: 1}
      - RandomBrightnessContrast: {brightness_limit: 0.2, contrast_limit: 0.2, p: 1}
      - HueSaturationValue: {p: 1}
      - ColorJitter: {p: 1}
      - ChannelShuffle: {p: 1}
      - GaussNoise: {p: 1, var_limit: [400, 900]}
      - CLAHE: {p: 1, clip_limit: 4}
      - Blur: {p: 1, blur_limit: [3, 13]}
      - CoarseDropout: {max_holes: 100, max_height: 10, max_width: 10, p: 0.5}
      - OneOf:
          transforms:
            - CenterCrop: {height: 32, width: 32, p: 0.5}
            - HorizontalFlip: {p: 0.5}
            - RandomBrightnessContrast: {p: 0.5}
            - Resize: {height: 64, width: 64, p: 1}
      - Resize: {height: 64, width: 64}
      - Compose:
          transforms:
            - HorizontalFlip: {p: 0.5}
            - Rotate: {limit: [45, 90], p: 1, border_mode: constant}
            - OneOf:
                transforms:
                  - Blur: {p: 0.3, blur_limit: [3, 5]}
                  - CLAHE: {p: 0.3}
"""


def test_the_notes_transforms_validate_and_run(photo):
    loaded = load_spec_text(spec_text(NOTE_TRANSFORMS), "spec.yaml")
    items = loaded.resolved()["augmentation"]["params"]["transforms"]
    assert any("ShiftScaleRotate" in w.message and "Affine" in w.message for w in loaded.warnings)
    _, augmenter = build("albumentations", {"transforms": items})
    for _ in range(5):
        out = augmenter(photo)
        assert out.shape == photo.shape and out.dtype == np.uint8
    assert augmenter.to_spec() == {"transforms": items}


def test_the_notes_albumentations_1x_arguments_are_translated():
    items = albu.canonical_items(
        [
            {"GaussNoise": {"var_limit": [400, 900]}},
            {
                "CoarseDropout": {
                    "max_holes": 100,
                    "max_height": 10,
                    "max_width": 10,
                    "min_width": 4,
                }
            },
            {"RandomResizedCrop": {"height": 50, "width": 60, "scale": [0.2, 0.7]}},
            {"Rotate": {"limit": 10, "value": 3}},
        ]
    )
    noise, dropout, crop, rotate = (next(iter(i.values())) for i in items)
    assert noise["std_range"] == pytest.approx([20 / 255, 30 / 255], abs=1e-6)
    assert "var_limit" not in noise
    assert dropout["num_holes_range"] == [100, 100]
    assert dropout["hole_height_range"] == [10, 10] and dropout["hole_width_range"] == [4, 10]
    assert crop["size"] == [50, 60] and "height" not in crop
    assert rotate["fill"] == 3


def test_removed_1x_arguments_name_their_replacement():
    found = problems(
        spec_text("""\
        augmentation:
          recipe: albumentations
          params:
            transforms:
              - HorizontalFlip: {always_apply: true}
        """)
    )
    assert found == [
        "spec.yaml:12:40: augmentation.params.transforms[0].HorizontalFlip.always_apply:"
        " albumentations 2 removed 'always_apply'; use p: 1"
    ]


def test_misspellings_are_located_deep_in_the_pipeline():
    found = problems(
        spec_text("""\
        augmentation:
          recipe: albumentations
          params:
            transforms:
              - HorizntalFlip: {p: 0.5}
              - OneOf:
                  p: 0.5
                  transforms:
                    - CLAHE: {clip_limit: 4}
                    - Blur: {blur_limt: [3, 7]}
              - Rotate: {limit: 90, border_mode: wrapp}
        """)
    )
    assert found == [
        "spec.yaml:12:9: augmentation.params.transforms[0]: unknown albumentations transform "
        "'HorizntalFlip'; did you mean 'HorizontalFlip' or 'VerticalFlip'?",
        "spec.yaml:17:33: augmentation.params.transforms[1].OneOf.transforms[1].Blur.blur_limt: "
        "unknown argument 'blur_limt' of Blur; did you mean 'blur_limit'? (expected one of: "
        "blur_limit, p)",
        "spec.yaml:18:42: augmentation.params.transforms[2].Rotate.border_mode: unknown "
        "border_mode 'wrapp'; did you mean 'wrap'? (expected one of: constant, replicate, "
        "reflect, wrap, reflect_101)",
    ]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("Blur: {blur_limit: [3, 12]}", "albumentations would change this value: blur_limit"),
        ("Blur: {blur_limit: [0.3, 0.5]}", "Blur blur_limit: Input should be a valid integer"),
        ("Resize: {height: 64}", "Resize needs 'width'"),
        ("Normalize: {}", "pixel scaling is the spec's 'scaling' section"),
        ("Lambda: {}", "a spec holds data only"),
        ("Mosaic: {}", "it needs mosaic_metadata"),
        ("BBoxSafeRandomCrop: {}", "bounding boxes or masks"),
        ("OneOf: {transforms: []}", "needs at least one transform"),
        ("SomeOf: {n: 3, transforms: [Blur, CLAHE]}", "n=3 is more than the 2 transforms"),
        ("{Blur: {}, CLAHE: {}}", "must be one transform"),
        ("HorizontalFlip: {p: 1.5}", "HorizontalFlip p: Input should be less than or equal to 1"),
    ],
)
def test_bad_items_are_rejected_with_a_reason(item, expected):
    found = problems(
        spec_text(f"""\
        augmentation:
          recipe: albumentations
          params:
            transforms:
              - {item}
        """)
    )
    assert len(found) == 1 and expected in found[0], found
    assert found[0].startswith("spec.yaml:12:")


def test_crop_boxes_are_checked_against_the_image_size():
    found = problems(
        spec_text("""\
        augmentation:
          recipe: albumentations
          params:
            transforms:
              - Crop: {x_min: 10, y_min: 10, x_max: 80, y_max: 40}
              - Resize: {height: 64, width: 64}
        """)
    )
    assert found == [
        "spec.yaml:12:45: augmentation.params.transforms[0].Crop.x_max: the crop box's x_max=80 is "
        "outside the image, which is 64 pixels wide here (64x64)"
    ]
    found = problems(
        spec_text("""\
        augmentation:
          recipe: albumentations
          params:
            transforms:
              - Crop: {x_min: 10, y_min: 10, x_max: 60, y_max: 40}
        """)
    )
    assert found == [
        "spec.yaml:12:7: augmentation.params.transforms: the pipeline can output images of 30x50 "
        "pixels but the images are 64x64: batches need one size; end with Resize: "
        "{height: 64, width: 64} (p: 1)"
    ]


def test_crop_size_is_checked_when_the_augmenter_is_built():
    """Without data.image_size the check happens when the data's size is known."""
    entry = zoo.registry().get("albumentations")
    params = entry.params.model_validate(
        {"transforms": [{"CenterCrop": {"height": 40, "width": 40}}]}
    )
    with pytest.raises(UserError, match="CenterCrop height=40 is larger than the image"):
        entry.factory(params, zoo.AugmentContext(image_size=(32, 32), channels=3, seed=0))


def test_rgb_only_transforms_are_rejected_for_gray_data():
    found = problems(
        spec_text(
            """\
        augmentation:
          recipe: albumentations
          params:
            transforms:
              - RandomRain: {p: 0.5}
        """,
            channels=1,
        )
    )
    assert len(found) == 1 and "RandomRain fails on a 64x64x1 image" in found[0]


def test_keras_style_params_are_validated():
    found = problems(
        spec_text("""\
        augmentation:
          recipe: keras_style
          params: {rotation_range: 200, zoom_range: 1.5, brightness_range: [1.3, 0.7]}
        """)
    )
    assert any("rotation_range" in p and "180" in p for p in found)
    assert any("zoom_range" in p for p in found)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in albu.transform_names() if n not in albu.COMPOSITES])
def test_any_albumentations_transform_by_name(name, photo):
    """Every transform the zoo accepts builds from its defaults (or is told what it needs),
    runs on an image, and reads back unchanged."""
    try:
        (item,) = albu.canonical_items([name])
    except albu.TransformError as exc:  # required arguments, or albumentations' own reason
        assert exc.message.startswith(name) or "needs" in exc.message, exc.message
        return
    problems_found = albu.check_against_image([item], SIZE, 3)
    if problems_found:  # e.g. a default crop larger than this image: said clearly
        assert all(p.message for p in problems_found)
        return
    pipeline = albu.build([item], seed=0)
    assert pipeline(image=photo)["image"].dtype == np.uint8
    assert albu.describe_pipeline(pipeline) == [item]


def test_module_import_does_not_load_albumentations_or_tensorflow():
    code = (
        "import sys, zoo_builtins.recipes.augmentation, zoo_builtins.recipes.scaling; "
        "print(sorted(m for m in ('albumentations', 'tensorflow', 'cv2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- zoo preview --------------------------------------------------------------------------------


@pytest.fixture
def preview_files(tmp_path, photo):
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text("augmentation: {recipe: medium}\nscaling: {recipe: torch}\n"))
    return spec, image


def test_preview_writes_a_grid_with_histograms(preview_files, tmp_path, capsys):
    from zoo.cli.main import main

    spec, image = preview_files
    out = tmp_path / "out" / "grid.png"
    assert (
        main(
            [
                "preview",
                str(spec),
                "--image",
                str(image),
                "--out",
                str(out),
                "-n",
                "5",
                "--histogram",
            ]
        )
        == 0
    )
    grid = cv2.imread(str(out))
    assert grid is not None and grid.shape[0] > 400 and grid.shape[1] > 600
    assert "the original and 5 augmented versions with pixel histograms" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["grid.png"]  # no temporary file left


def test_preview_of_gray_data_and_of_a_spec_without_augmentation(preview_files, tmp_path):
    from zoo.cli.main import main

    spec, image = preview_files
    gray = tmp_path / "gray.yaml"
    gray.write_text(spec_text("augmentation: {recipe: keras_style}\n", channels=1))
    assert (
        main(
            [
                "preview",
                str(gray),
                "--image",
                str(image),
                "--out",
                str(tmp_path / "g.png"),
                "--histogram",
                "-n",
                "2",
            ]
        )
        == 0
    )
    plain = tmp_path / "plain.yaml"
    plain.write_text(spec_text(""))
    assert (
        main(["preview", str(plain), "--image", str(image), "--out", str(tmp_path / "p.png")]) == 0
    )
    assert cv2.imread(str(tmp_path / "g.png")) is not None
    assert cv2.imread(str(tmp_path / "p.png")) is not None


def test_preview_of_a_missing_image_is_a_user_error(preview_files, tmp_path, capsys):
    from zoo.cli.main import main

    spec, _ = preview_files
    assert (
        main(
            [
                "preview",
                str(spec),
                "--image",
                str(tmp_path / "nope.png"),
                "--out",
                str(tmp_path / "x.png"),
            ]
        )
        == 2
    )
    assert "nope.png: no such file" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
