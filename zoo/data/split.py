"""Stratified, seeded train/validation/test splits.

Splits like scikit-learn's ``train_test_split(..., stratify=y, random_state=seed)``: first
the test set out of the whole pool, then validation out of what is left, with the spec's
split seed as ``random_state``, so ``seed: 124`` with ``split: {test: 0.2, validation:
0.2}`` picks the same positions as ``train_test_split(..., test_size=0.2, stratify=y,
random_state=124)`` applied twice. A source that ships its own train/test split (Keras
datasets) only has validation carved from train.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.errors import Problem, UserError

Share = float | int  # a fraction in (0, 1) or a count; 0 for none


def _check_share(share: Share, n: int, what: str, key: str) -> None:
    if isinstance(share, float) and not 0 < share < 1:
        raise UserError(
            [Problem(f"{what} fraction must be between 0 and 1 (got {share})", key_path=key)]
        )
    if isinstance(share, int) and share >= n:
        raise UserError(
            [
                Problem(
                    f"{what} size {share} leaves no images for training: "
                    f"there are only {n} images to split",
                    key_path=key,
                )
            ]
        )


def split_indices(
    labels: np.ndarray,
    share: Share,
    *,
    stratify: bool,
    seed: int,
    what: str = "test",
    key: str = "data.split",
) -> tuple[np.ndarray, np.ndarray]:
    """``(kept, taken)`` positions: ``share`` of ``labels`` taken out, the rest kept.

    ``share`` is a fraction (0..1) or a count; with ``stratify`` each class keeps its
    proportion on both sides. Both index arrays come back in scikit-learn's shuffled order.
    """
    labels = np.asarray(labels)
    n = len(labels)
    index = np.arange(n)
    if not share:
        return index, index[:0]
    _check_share(share, n, what, key)
    from sklearn.model_selection import train_test_split

    try:
        kept, taken = train_test_split(
            index, test_size=share, random_state=seed, stratify=labels if stratify else None
        )
    except ValueError as exc:
        raise UserError(
            [Problem(_split_advice(labels, share, stratify, what, str(exc)), key_path=key)]
        ) from None
    return np.asarray(kept, dtype=np.int64), np.asarray(taken, dtype=np.int64)


def _split_advice(labels: np.ndarray, share: Share, stratify: bool, what: str, reason: str) -> str:
    n = len(labels)
    text = f"cannot take a {what} set of {share!r} from {n} images"
    if stratify:
        classes, counts = np.unique(labels, return_counts=True)
        smallest = int(counts.min()) if len(counts) else 0
        text += (
            f" with stratify (there are {len(classes)} classes; the smallest has "
            f"{smallest} image{'s' if smallest != 1 else ''}): a stratified split needs at "
            "least 2 images per class and at least one image per class on each side; "
            "add images, make the share larger, or set data.split.stratify: false"
        )
    return f"{text} ({reason})"


def plan_splits(
    labels: dict[str, np.ndarray], split: Any, seed: int
) -> dict[str, tuple[str, np.ndarray] | None]:
    """Which rows of which shipped set make each of train/validation/test.

    ``labels`` holds the labels of the sets a source returned: ``{"all": ...}`` for one pool,
    or ``train`` with ``validation``/``test`` when it ships them. The answer maps each split
    name to ``(shipped set name, row indices)``, or None for a split left empty.

    A pool is split in full: test out of all of it, validation out of the rest. A source
    with its own ``train`` keeps the sets it ships; a missing test set is taken from train
    first (when ``split.test`` is not 0), then a missing validation set (when
    ``split.validation`` is not 0).
    """
    if "train" not in labels:
        if set(labels) != {"all"}:
            raise ValueError(
                f"a data source must return 'all' or 'train' (with 'validation' "
                f"and 'test'), got {sorted(labels)}"
            )
        pool = labels["all"]
        rest, test_idx = split_indices(
            pool, split.test, stratify=split.stratify, seed=seed, what="test", key="data.split.test"
        )
        keep, val = split_indices(
            pool[rest],
            split.validation,
            stratify=split.stratify,
            seed=seed,
            what="validation",
            key="data.split.validation",
        )
        return {
            "train": ("all", rest[keep]),
            "validation": ("all", rest[val]) if len(val) else None,
            "test": ("all", test_idx) if len(test_idx) else None,
        }
    train = np.arange(len(labels["train"]))
    out: dict[str, tuple[str, np.ndarray] | None] = {
        name: (name, np.arange(len(labels[name]))) if name in labels and len(labels[name]) else None
        for name in ("validation", "test")
    }
    for name in ("test", "validation"):
        share = getattr(split, name)
        if out[name] is None and share:
            keep, take = split_indices(
                labels["train"][train],
                share,
                stratify=split.stratify,
                seed=seed,
                what=name,
                key=f"data.split.{name}",
            )
            train, out[name] = train[keep], ("train", train[take])
    out["train"] = ("train", train)
    return {k: out[k] for k in ("train", "validation", "test")}


def class_counts(labels: np.ndarray, num_classes: int) -> list[int]:
    """How many images of each class."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).tolist()


def split_in_place(images: np.ndarray, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each split's images as a view of ``images``, reordered in place so that each split's
    rows (in their order) are contiguous: the split costs no copy of the pixels. Rows no
    split takes go to the end."""
    n = len(images)
    parts = [np.asarray(r, dtype=np.int64) for r in rows.values()]
    taken = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    unused = np.setdiff1d(np.arange(n), taken)
    order = np.concatenate([taken, unused]).astype(np.int64)  # new row i is old row order[i]
    done = np.zeros(n, dtype=bool)
    for start in range(n):
        if done[start] or order[start] == start:
            continue
        held = images[start].copy()  # one image of scratch space per cycle
        row = start
        while True:
            done[row] = True
            source = int(order[row])
            if source == start:
                images[row] = held
                break
            images[row] = images[source]
            row = source
    views, at = {}, 0
    for name, r in rows.items():
        views[name] = images[at : at + len(r)]
        at += len(r)
    return views
