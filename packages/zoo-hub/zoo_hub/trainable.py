"""``unfreeze``: which units of the nested KerasHub backbone train.

A *unit* is what ``unfreeze: N`` counts from the top: for the transformer families one
transformer block (plus the embedding before the first and the norm after the last), for
the CNNs one layer with weights. They are found by walking the backbone: its top-level layers
with weights, with the containers its family names (``Family.expand``: the ViT encoder, the
Swin stages...) opened into their sub-layers, in the order Keras tracks them (the order they
run in). BatchNormalization layers never train, so they keep their statistics (inference
mode), as the Keras transfer-learning guide advises. No TensorFlow import here: everything
works on the model it is given.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import zoo
from zoo import plugin

from zoo_hub.families import FAMILIES, Family

KEY = "model.params.unfreeze"
BATCH_NORMS = ("BatchNormalization", "SyncBatchNormalization")


def backbone_of(model: Any) -> tuple[Any, Family]:
    """The KerasHub backbone nested in a hub model, and its family."""
    for layer in model.layers:
        family = FAMILIES.get(type(layer).__name__)
        if family is not None:
            return layer, family
    raise zoo.UserError(
        [zoo.Problem(f"model {model.name!r} holds no KerasHub backbone", key_path=KEY)]
    )


def _children(layer: Any) -> list[Any]:
    """Direct sub-layers with weights, BatchNormalization left out (it never trains)."""
    return [
        child
        for child in layer._flatten_layers(include_self=False, recursive=False)
        if child.weights and type(child).__name__ not in BATCH_NORMS
    ]


def units(backbone: Any, family: Family) -> list[tuple[str, Any]]:
    """``(name, layer)`` of every unit, bottom to top; nested names joined by ``/``."""
    out: list[tuple[str, Any]] = []

    def visit(layer: Any, prefix: str) -> None:
        name = f"{prefix}{layer.name}"
        if any(fnmatch.fnmatchcase(layer.name, glob) for glob in family.expand) and _children(
            layer
        ):
            for child in _children(layer):
                visit(child, f"{name}/")
        else:
            out.append((name, layer))

    for layer in _children(backbone):
        visit(layer, "")
    return out


def _start(unfreeze: int | str, names: list[str]) -> int:
    """Index of the first unit that trains."""
    if unfreeze == "all":
        return 0
    if unfreeze == "none":
        return len(names)
    if isinstance(unfreeze, int) and not isinstance(unfreeze, bool) and 0 <= unfreeze <= len(names):
        return len(names) - unfreeze
    if isinstance(unfreeze, str):
        if unfreeze in names:
            return names.index(unfreeze)
        leaves = [n for n in names if n.rsplit("/", 1)[-1] == unfreeze]
        if len(leaves) == 1:
            return names.index(leaves[0])
    hint = plugin.did_you_mean(str(unfreeze), names) if isinstance(unfreeze, str) else None
    shown = ", ".join(names[:3] + ["..."] + names[-3:]) if len(names) > 8 else ", ".join(names)
    raise zoo.UserError(
        [
            zoo.Problem(
                f"unfreeze must be 0..{len(names)} (units from the top), all, none or a unit name "
                f"({shown})" + (f"; {hint}" if hint else "") + f". Received: unfreeze={unfreeze!r}",
                key_path=KEY,
            )
        ]
    )


def set_trainable(model: Any, unfreeze: int | str) -> int:
    """Freeze the backbone but its top units (``unfreeze``: a count, ``all``, ``none`` or a
    unit name to unfreeze from); BatchNormalization stays frozen.

    Returns how many units of the backbone now train (zoo's contract: a count of the base's
    layers, nested ones included); :func:`trainable_units` names them. Compile the model
    again afterwards.
    """
    backbone, family = backbone_of(model)
    found = units(backbone, family)
    start = _start(unfreeze, [name for name, _ in found])
    backbone.trainable = True
    for i, (_, layer) in enumerate(found):
        layer.trainable = i >= start
    for layer in backbone._flatten_layers(include_self=False):
        if type(layer).__name__ in BATCH_NORMS:
            layer.trainable = False
    return sum(1 for _, layer in found if layer.trainable_weights)


def trainable_units(model: Any) -> list[str]:
    """Names of the backbone units that train now."""
    backbone, family = backbone_of(model)
    return [name for name, layer in units(backbone, family) if layer.trainable_weights]
