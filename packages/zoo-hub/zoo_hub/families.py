"""How zoo treats each KerasHub backbone class: its output, size rule, pooling and blocks.

The preset table (``_presets.py``) says *what* KerasHub ships; this module says how a
family of those backbones is wrapped: what its output looks like (tokens or a feature
map), which input sizes it can take, which pooling heads make sense, and which sub-layers
are the units ``unfreeze`` counts (transformer blocks for the transformer families).
Plain data, no TensorFlow: ``zoo list`` and ``zoo validate`` read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SizeRule = Literal["patch", "patch_square", "window", "mit", "cnn"]


@dataclass(frozen=True)
class Family:
    """One KerasHub backbone class as zoo wraps it."""

    backbone: str  # the KerasHub class (keras_hub.models.<backbone>)
    key: str  # zoo's family name (zoo list --family KEY)
    title: str
    kind: Literal["transformer", "cnn"]
    output: Literal["tokens", "map"]  # (batch, tokens, dim) or (batch, h, w, channels)
    size_rule: SizeRule
    # containers whose sub-layers are the units unfreeze counts, outermost first (globs on
    # layer names); the backbone's other top-level layers with weights are units themselves
    expand: tuple[str, ...] = ()
    feature_key: str | None = None  # a backbone with several outputs: the one to pool
    fixed_positions: bool = False  # learned position embeddings tied to the input size
    note: str = ""


FAMILIES: dict[str, Family] = {
    f.backbone: f
    for f in (
        Family(
            "ViTBackbone",
            "vit",
            "ViT",
            "transformer",
            "tokens",
            "patch",
            expand=("vit_encoder",),
            fixed_positions=True,
        ),
        Family(
            "DeiTBackbone",
            "deit",
            "DeiT (distilled)",
            "transformer",
            "tokens",
            "patch",
            expand=("deit_encoder",),
            fixed_positions=True,
        ),
        Family(
            "DINOV2Backbone",
            "dinov2",
            "DINOv2",
            "transformer",
            "tokens",
            "patch_square",
            expand=("encoder",),
            note="KerasHub interpolates its position embeddings to the input size at every "
            "call; DINOv2 takes square inputs only",
        ),
        Family(
            "DINOV3Backbone",
            "dinov3",
            "DINOv3",
            "transformer",
            "tokens",
            "patch",
            expand=("encoder",),
            note="rotary position embeddings: any multiple of the patch",
        ),
        Family(
            "SwinTransformerBackbone",
            "swin",
            "Swin Transformer",
            "transformer",
            "tokens",
            "window",
            expand=("stage_[0-9]",),
            note="KerasHub's Swin needs every stage's map to be a whole number of windows",
        ),
        Family(
            "MiTBackbone",
            "mit",
            "MiT (MixTransformer, SegFormer's encoder)",
            "transformer",
            "map",
            "mit",
        ),
        Family("CSPNetBackbone", "cspnet", "CSPNet / DarkNet", "cnn", "map", "cnn"),
        Family(
            "HGNetV2Backbone",
            "hgnetv2",
            "HGNetV2",
            "cnn",
            "map",
            "cnn",
            expand=("encoder", "encoder_stage_[0-9]"),
            feature_key="stage4",
        ),
        Family(
            "MobileNetV5Backbone",
            "mobilenetv5",
            "MobileNetV5 (Gemma 3n's image encoder)",
            "cnn",
            "map",
            "cnn",
        ),
    )
}

# keras_hub image-classification backbones zoo leaves out, and why (zoo's built-in plugins
# already register every keras.applications backbone)
EXCLUDED: dict[str, str] = {
    "ResNetBackbone": "keras.applications has ResNet50/101/152 (v1, v2); zoo has ResNet-18/34",
    "VGGBackbone": "keras.applications has VGG16/19",
    "DenseNetBackbone": "keras.applications has DenseNet121/169/201",
    "XceptionBackbone": "keras.applications has Xception",
    "EfficientNetBackbone": "keras.applications has EfficientNet B0-B7 and V2",
    "MobileNetBackbone": "keras.applications has MobileNet v1, v2, v3",
}

CNN_MIN_SIDE = 32  # total stride 32: a 1x1 map at the end; smaller inputs see mostly padding
MIT_MIN_SIDE, MIT_STEP = 64, 32  # KerasHub's MiT gives wrong shapes between multiples of 32
