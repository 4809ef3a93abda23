"""What KerasHub's preset table does not say, from the models its presets were converted from.

KerasHub's table (``<Backbone>.presets``) names each preset, its parameter count, its
description and its Kaggle handle; the backbone config and the image converter (the scaling)
live in the preset's files on Kaggle, which ``generate_table.py`` cannot assume it can reach.
So this module records, per preset, the upstream model it was converted from
(``tools/checkpoint_conversion/convert_*_checkpoints.py`` in the keras-hub repository) and
that model's published configuration (its Hugging Face ``config.json`` and image processor,
or timm's ``pretrained_cfg``), in the form KerasHub's own converters
(``keras_hub.src.utils.transformers`` / ``keras_hub.src.utils.timm``) turn into a backbone
config. The generator checks each resulting backbone against KerasHub's published parameter
count, and ``generate_table.py --presets DIR`` reads real preset folders instead.

Used only by the generator (a development tool); the installed plugin never imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # timm's IMAGENET_DEFAULT_MEAN / STD
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)  # google/vit-*: image_mean = image_std = 0.5
ZERO, ONE = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)  # timm mobilenetv5_300m.gemma3n
SAT493M_MEAN = (0.430, 0.411, 0.296)  # facebook/dinov3-*-pretrain-sat493m image processor
SAT493M_STD = (0.213, 0.156, 0.143)


@dataclass(frozen=True)
class Upstream:
    """One preset's variant (architecture), config source and normalisation."""

    variant: str  # the architecture name: the preset name without its weights tag
    converter: str | None  # KerasHub's converter module (transformers.convert_vit, ...)
    source_config: dict[str, Any]  # what that converter reads (HF config.json / timm config)
    image_size: int  # the resolution the weights were trained at (the image converter's)
    mean: tuple[float, ...]  # of pixels in 0..1
    std: tuple[float, ...]
    source: str  # the upstream model id
    direct_config: dict[str, Any] = field(default_factory=dict)  # no converter: the config itself


# ---- Hugging Face transformers configs (the keys KerasHub's converters read) ----------------

_VIT_SIZES = {
    "base": (768, 12, 12, 3072),
    "large": (1024, 24, 16, 4096),
    "huge": (1280, 32, 16, 5120),
}
_DEIT_SIZES = {"tiny": (192, 12, 3, 768), "small": (384, 12, 6, 1536), "base": (768, 12, 12, 3072)}
_DINOV2_SIZES = {
    "small": (384, 12, 6, False),
    "base": (768, 12, 12, False),
    "large": (1024, 24, 16, False),
    "giant": (1536, 40, 24, True),
}
# hidden, layers, heads, intermediate, activation, gated MLP
_DINOV3_SIZES = {
    "small": (384, 12, 6, 1536, "gelu", False),
    "small_plus": (384, 12, 6, 1536, "silu", True),
    "base": (768, 12, 12, 3072, "gelu", False),
    "large": (1024, 24, 16, 4096, "gelu", False),
    "huge_plus": (1280, 32, 20, 5120, "silu", True),
    "7b": (4096, 40, 32, 8192, "silu", True),
}
_DINOV3_IDS = {
    "small": "vits16",
    "small_plus": "vits16plus",
    "base": "vitb16",
    "large": "vitl16",
    "huge_plus": "vith16plus",
    "7b": "vit7b16",
}
_SWIN_SIZES = {
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}
# MixTransformer (SegFormer's encoder): per-stage hidden sizes and depths
_WIDE = (64, 128, 320, 512)
_MIT_SIZES = {
    "b0": ((32, 64, 160, 256), (2, 2, 2, 2)),
    "b1": (_WIDE, (2, 2, 2, 2)),
    "b2": (_WIDE, (3, 4, 6, 3)),
    "b3": (_WIDE, (3, 4, 18, 3)),
    "b4": (_WIDE, (3, 8, 27, 3)),
    "b5": (_WIDE, (3, 6, 40, 3)),
}
_CSP_ARCHS = {
    "csp_darknet_53": "cspdarknet53",
    "csp_resnext_50": "cspresnext50",
    "csp_resnet_50": "cspresnet50",
    "darknet_53": "darknet53",
}


def _vit(name: str) -> Upstream:
    m = re.fullmatch(r"vit_(base|large|huge)_patch(\d+)_(\d+)_(imagenet21k|imagenet)", name)
    if not m:
        raise KeyError(name)
    size, patch, res, data = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    hidden, layers, heads, mlp = _VIT_SIZES[size]
    config = {
        "image_size": res,
        "patch_size": patch,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "hidden_size": hidden,
        "intermediate_size": mlp,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "qkv_bias": True,
    }
    tail = "-in21k" if data == "imagenet21k" else ""
    return Upstream(
        name.rsplit("_", 1)[0],
        "transformers.convert_vit",
        config,
        res,
        HALF,
        HALF,
        f"google/vit-{size}-patch{patch}-{res}{tail}",
    )


def _deit(name: str) -> Upstream:
    m = re.fullmatch(r"deit_(tiny|small|base)_distilled_patch(\d+)_(\d+)_imagenet", name)
    if not m:
        raise KeyError(name)
    size, patch, res = m.group(1), int(m.group(2)), int(m.group(3))
    hidden, layers, heads, mlp = _DEIT_SIZES[size]
    config = {
        "image_size": res,
        "patch_size": patch,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "hidden_size": hidden,
        "intermediate_size": mlp,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "layer_norm_eps": 1e-12,
    }
    source = f"facebook/deit-{size}-distilled-patch{patch}-{res}"
    return Upstream(
        name.removesuffix("_imagenet"),
        "transformers.convert_deit",
        config,
        res,
        IMAGENET_MEAN,
        IMAGENET_STD,
        source,
    )


def _dinov2(name: str) -> Upstream:
    m = re.fullmatch(r"dinov2_(with_registers_)?(small|base|large|giant)", name)
    if not m:
        raise KeyError(name)
    registers, size = bool(m.group(1)), m.group(2)
    hidden, layers, heads, swiglu = _DINOV2_SIZES[size]
    config = {
        "model_type": "dinov2_with_registers" if registers else "dinov2",
        "image_size": 518,
        "patch_size": 14,
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "mlp_ratio": 4,
        "layerscale_value": 1.0,
        "num_register_tokens": 4 if registers else 0,
        "use_swiglu_ffn": swiglu,
        "hidden_dropout_prob": 0.0,
        "drop_path_rate": 0.0,
    }
    source = f"facebook/dinov2-{'with-registers-' if registers else ''}{size}"
    return Upstream(
        name, "transformers.convert_dinov2", config, 518, IMAGENET_MEAN, IMAGENET_STD, source
    )


def _dinov3(name: str) -> Upstream:
    m = re.fullmatch(
        r"dinov3_vit_(small_plus|small|base|large|huge_plus|7b)_(lvd1689m|sat493m)", name
    )
    if not m:
        raise KeyError(name)
    size, data = m.group(1), m.group(2)
    hidden, layers, heads, mlp, act, gated = _DINOV3_SIZES[size]
    config = {
        "image_size": 224,
        "patch_size": 16,
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "intermediate_size": mlp,
        "layerscale_value": 1.0,
        "num_register_tokens": 4,
        "hidden_act": act,
        "use_gated_mlp": gated,
        "query_bias": True,
        "key_bias": False,
        "value_bias": True,
        "proj_bias": True,
        "mlp_bias": True,
        "attention_dropout": 0.0,
        "drop_path_rate": 0.0,
        "layer_norm_eps": 1e-5,
        "rope_theta": 100.0,
    }
    mean, std = (SAT493M_MEAN, SAT493M_STD) if data == "sat493m" else (IMAGENET_MEAN, IMAGENET_STD)
    return Upstream(
        name.rsplit("_", 1)[0],
        "transformers.convert_dinov3",
        config,
        224,
        mean,
        std,
        f"facebook/dinov3-{_DINOV3_IDS[size]}-pretrain-{data}",
    )


def _swin(name: str) -> Upstream:
    m = re.fullmatch(r"swin_(tiny|small|base|large)_patch(\d+)_window(\d+)_(\d+)", name)
    if not m:
        raise KeyError(name)
    size, patch, window, res = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
    embed, depths, heads = _SWIN_SIZES[size]
    config = {
        "image_size": res,
        "patch_size": patch,
        "embed_dim": embed,
        "depths": depths,
        "num_heads": heads,
        "window_size": window,
        "mlp_ratio": 4.0,
        "qkv_bias": True,
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "drop_path_rate": 0.1,
    }
    return Upstream(
        name,
        "transformers.convert_swin_transformer",
        config,
        res,
        IMAGENET_MEAN,
        IMAGENET_STD,
        f"microsoft/swin-{size}-patch{patch}-window{window}-{res}",
    )


def _cspnet(name: str) -> Upstream:
    variant = re.sub(r"(_ra)?_imagenet$", "", name)
    arch = _CSP_ARCHS[variant]
    tag = "c2ns_in1k" if arch == "darknet53" else "ra_in1k"
    return Upstream(
        variant,
        "timm.convert_cspnet",
        {"architecture": arch},
        256,
        IMAGENET_MEAN,
        IMAGENET_STD,
        f"timm/{arch}.{tag}",
    )


def _hgnetv2(name: str) -> Upstream:
    m = re.fullmatch(r"(hgnetv2_b\d)_(.+)", name)
    if not m:
        raise KeyError(name)
    arch, tag = m.group(1), m.group(2)
    config = {"architecture": arch, "pretrained_cfg": {"tag": tag}}
    return Upstream(
        arch, "timm.convert_hgnetv2", config, 224, IMAGENET_MEAN, IMAGENET_STD, f"timm/{arch}.{tag}"
    )


def _mobilenetv5(name: str) -> Upstream:
    if name != "mobilenetv5_300m_enc_gemma3n":
        raise KeyError(name)
    return Upstream(
        "mobilenetv5_300m_enc",
        "timm.convert_mobilenetv5",
        {"architecture": "mobilenetv5_300m"},
        768,
        ZERO,
        ONE,
        "timm/mobilenetv5_300m.gemma3n",
    )


def _mit(name: str) -> Upstream:
    m = re.fullmatch(r"mit_(b\d)_(ade20k|cityscapes)_(\d+)", name)
    if not m:
        raise KeyError(name)
    size, data, res = m.group(1), m.group(2), int(m.group(3))
    hidden, depths = _MIT_SIZES[size]
    config = {
        "layerwise_depths": list(depths),
        "num_layers": 4,
        "layerwise_num_heads": [1, 2, 5, 8],
        "layerwise_sr_ratios": [8, 4, 2, 1],
        "max_drop_path_rate": 0.1,
        "layerwise_patch_sizes": [7, 3, 3, 3],
        "layerwise_strides": [4, 2, 2, 2],
        "hidden_dims": list(hidden),
    }
    what = (
        "ade-512-512"
        if data == "ade20k" and res == 512
        else ("ade-640-640" if data == "ade20k" else "cityscapes-1024-1024")
    )
    return Upstream(
        f"mit_{size}",
        None,
        {},
        res,
        IMAGENET_MEAN,
        IMAGENET_STD,
        f"nvidia/segformer-{size}-finetuned-{what}",
        direct_config=config,
    )


RESOLVERS = {
    "ViTBackbone": _vit,
    "DeiTBackbone": _deit,
    "DINOV2Backbone": _dinov2,
    "DINOV3Backbone": _dinov3,
    "SwinTransformerBackbone": _swin,
    "CSPNetBackbone": _cspnet,
    "HGNetV2Backbone": _hgnetv2,
    "MobileNetV5Backbone": _mobilenetv5,
    "MiTBackbone": _mit,
}


def resolve(backbone_class: str, preset: str) -> Upstream:
    """The upstream facts of ``preset`` (a KeyError names a preset no rule covers yet)."""
    try:
        return RESOLVERS[backbone_class](preset)
    except KeyError:
        raise KeyError(
            f"no upstream rule for {backbone_class} preset {preset!r}: add one to tools/upstream.py"
        ) from None
