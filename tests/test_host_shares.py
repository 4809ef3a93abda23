"""A run over several hosts: each host reads only its rows of every global batch.

What a host reads is checked where the reading happens: the rows gathered from the decoded
cache's memory map and the files decoded. What it trains on is checked against a one-host
run over the same devices: the hosts' batches side by side are that run's padded batches.
Both input pipelines, every image source (arrays, the cache on disk, files).
"""

from __future__ import annotations

import json
import math
import textwrap
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zoo.data.py_pipeline
import zoo.data.tf_pipeline
from zoo.data.hosts import HostShare
from zoo.data.order import training_order
from zoo.data.pipeline import build_pipelines
from zoo.data.prepared import PreparedData
from zoo.errors import UserError
from zoo.plugin.source import ImageSet, Rows
from zoo.record.run import ObjectiveRecord, RunRecord, ScalingRecord, StrategyRecord
from zoo.runner.even_batches import even_batches
from zoo.runner.setup import check_same_hosts
from zoo.spec import load_spec_text

N_TRAIN, N_VAL = 45, 11  # neither divides by the batch nor by the devices
SHAPE = (6, 5, 3)
BATCH = 8
INPUTS = ["tf_data", "py_dataset"]
SOURCES = ["array", "disk_cache", "files"]


def spec(path: str, augmentation: dict | None = None, sampler: str = "none"):
    text = textwrap.dedent(f"""\
        name: hosts
        seed: 3
        data: {{source: digits, image_size: [{SHAPE[0]}, {SHAPE[1]}], channels: 3}}
        model: {{architecture: mlp}}
        scaling: {{recipe: unit}}
        training: {{batch_size: {BATCH}, sampler: {sampler}}}
        runtime: {{input: {path}}}
        """)
    if augmentation:
        text += f"augmentation: {json.dumps(augmentation)}\n"
    return load_spec_text(text, "spec.yaml")


class ReadRows(Rows):
    """Rows of the decoded cache that remember every batch of rows read from them."""

    def __init__(self, base: np.ndarray) -> None:
        super().__init__(base, np.arange(len(base)))
        self.reads: list[tuple[int, ...]] = []
        self._lock = threading.Lock()

    def __getitem__(self, key):  # noqa: ANN001, ANN204 (as Rows)
        if isinstance(key, np.ndarray):
            with self._lock:
                self.reads.append(tuple(int(i) for i in self.index[key]))
        return super().__getitem__(key)


def image_set(kind: str, n: int, folder: Path, name: str) -> ImageSet:
    """``n`` random images whose label is their row (each batch row can be traced)."""
    pixels = np.random.default_rng(n).integers(0, 256, (n, *SHAPE), dtype=np.uint8)
    labels = np.arange(n)
    if kind == "array":
        return ImageSet(labels, images=pixels)
    if kind == "disk_cache":
        mapped = np.lib.format.open_memmap(
            folder / f"{name}.npy", mode="w+", dtype=np.uint8, shape=pixels.shape
        )
        mapped[...] = pixels
        mapped.flush()
        return ImageSet(labels, images=ReadRows(np.load(folder / f"{name}.npy", mmap_mode="r")))
    paths = []
    for i, image in enumerate(pixels):
        paths.append(folder / f"{name}-{i:03d}.png")
        cv2.imwrite(str(paths[-1]), image[:, :, ::-1])  # PNG: lossless, read back as RGB
    return ImageSet(labels, paths=paths)


def data(kind: str, folder: Path) -> PreparedData:
    return PreparedData(
        class_names=[f"c{i}" for i in range(N_TRAIN)],
        train=image_set(kind, N_TRAIN, folder, "train"),
        validation=image_set(kind, N_VAL, folder, "validation"),
        test=None,
        image_shape=SHAPE,
    )


def batches(dataset, count: int) -> list[tuple[np.ndarray, ...]]:
    """The first ``count`` batches of a pipeline, as NumPy."""
    if hasattr(dataset, "as_numpy_iterator"):
        it = dataset.as_numpy_iterator()
        return [tuple(np.asarray(part) for part in next(it)) for _ in range(count)]
    return [tuple(np.asarray(part) for part in dataset[i]) for i in range(count)]


def one_epoch(dataset) -> list[tuple[np.ndarray, ...]]:
    if hasattr(dataset, "as_numpy_iterator"):
        return [tuple(np.asarray(p) for p in b) for b in dataset.as_numpy_iterator()]
    return [tuple(np.asarray(p) for p in b) for b in dataset]


# ---- the arithmetic ----------------------------------------------------------------------


@st.composite
def shares(draw: st.DrawFn) -> tuple[int, int, int]:
    hosts = draw(st.integers(1, 6))
    devices = hosts * draw(st.integers(1, 4))
    return draw(st.integers(1, 300)), hosts, devices


@settings(max_examples=300, deadline=None)
@given(shares())
def test_the_hosts_parts_side_by_side_are_the_padded_global_batch(case):
    n, hosts, devices = case
    parts = [HostShare(hosts, k, devices).rows(n) for k in range(hosts)]
    positions = np.concatenate([p for p, _ in parts])
    real = np.concatenate([r for _, r in parts])
    padded = n + (-n) % devices
    assert len(positions) == padded and padded % devices == 0
    assert len({len(p) for p, _ in parts}) == 1  # equal parts: JAX needs them
    assert list(positions[:n]) == list(range(n))  # every row once, in order
    assert set(positions[n:].tolist()) <= {n - 1}  # padding repeats the last row
    assert real.tolist() == [1.0] * n + [0.0] * (padded - n)  # ...and weighs nothing


@pytest.mark.parametrize("n, hosts, devices", [(1, 2, 2), (7, 2, 2), (29, 2, 4), (13, 3, 6)])
def test_the_tensorflow_arithmetic_is_the_numpy_arithmetic(n, hosts, devices):
    import tensorflow as tf

    for k in range(hosts):
        share = HostShare(hosts, k, devices)
        positions, real = share.tf_rows(tf, tf.constant(n, tf.int64))
        want_positions, want_real = share.rows(n)
        assert positions.numpy().tolist() == want_positions.tolist()
        assert real.numpy().tolist() == want_real.tolist()


@pytest.mark.parametrize("hosts, index, devices", [(2, 2, 2), (2, -1, 2), (2, 0, 3), (3, 0, 2)])
def test_a_share_that_cannot_exist_is_refused(hosts, index, devices):
    with pytest.raises(ValueError):
        HostShare(hosts, index, devices)


# ---- what each host reads ---------------------------------------------------------------


@pytest.mark.parametrize("path", INPUTS)
def test_each_host_gathers_only_its_rows_of_the_cache_on_disk(tmp_path, path):
    """Every read of the memory map is one host's rows of one global batch of some epoch."""
    steps = math.ceil(N_TRAIN / BATCH)
    for index in (0, 1):
        share = HostShare(2, index, 2)
        prepared = data("disk_cache", tmp_path)
        pipes = build_pipelines(prepared, spec(path), first_epoch=0, share=share)
        got = batches(pipes.train, 2 * steps)
        one_epoch(pipes.validation_share)
        mine = {}  # (epoch, step) -> this host's rows of that global batch
        for epoch in range(12):  # prefetching may read some epochs ahead
            order = training_order(np.arange(N_TRAIN), 10_000, 3, epoch, "none")
            for step in range(steps):
                rows = order[step * BATCH : (step + 1) * BATCH]
                mine[epoch, step] = tuple(rows[share.rows(len(rows))[0]].tolist())
        reads = prepared.train.images.reads
        assert reads and set(reads) <= set(mine.values())
        assert max(len(r) for r in reads) == share.part(BATCH) == BATCH // 2
        # what the host trains on is what it read (labels are rows)
        for i, batch in enumerate(got):
            assert tuple(batch[1].tolist()) == mine[divmod(i, steps)]
        val = sorted({row for r in prepared.validation.images.reads for row in r})
        want = sorted({int(i) for s in range(0, N_VAL, BATCH) for i in _host_part(s, share)})
        assert val == want and len(val) <= math.ceil(N_VAL / 2) + 1


def _host_part(start: int, share: HostShare) -> np.ndarray:
    rows = np.arange(start, min(start + BATCH, N_VAL))
    return rows[share.rows(len(rows))[0]]


@pytest.mark.parametrize("path", INPUTS)
def test_each_host_decodes_only_its_files(tmp_path, path, monkeypatch):
    decoded: dict[str, list[str]] = {}
    for module in (zoo.data.tf_pipeline, zoo.data.py_pipeline):
        real = module.read_image

        def counting(file, *args, _real=real, **kwargs):
            decoded.setdefault(Path(file).name.split("-")[0], []).append(Path(file).name)
            return _real(file, *args, **kwargs)

        monkeypatch.setattr(module, "read_image", counting)
    prepared = data("files", tmp_path)
    names = {}
    for index in (0, 1):
        decoded.clear()
        pipes = build_pipelines(prepared, spec(path), first_epoch=0, share=HostShare(2, index, 2))
        one_epoch(pipes.validation_share)
        names[index] = set(decoded["validation"])
    assert not names[0] & names[1]  # apart from padding, which repeats a host's own row
    assert len(names[0] | names[1]) == N_VAL and max(map(len, names.values())) <= 6


# ---- what each host trains on -------------------------------------------------------------


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("path", INPUTS)
def test_hosts_side_by_side_train_on_the_one_host_padded_batches(tmp_path, path, source):
    prepared = data(source, tmp_path)
    steps = math.ceil(N_TRAIN / BATCH)
    one = build_pipelines(prepared, spec(path), first_epoch=1)
    whole = batches(even_batches(one.train, 4), 2 * steps)  # 4 devices, one host
    whole_val = one_epoch(even_batches(one.validation, 4))
    parts = {}
    for index in (0, 1):
        pipes = build_pipelines(prepared, spec(path), first_epoch=1, share=HostShare(2, index, 4))
        parts[index] = (batches(pipes.train, 2 * steps), one_epoch(pipes.validation_share))
    for split, want in ((0, whole), (1, whole_val)):
        got0, got1 = parts[0][split], parts[1][split]
        assert len(got0) == len(got1) == len(want)
        for a, b, w in zip(got0, got1, want, strict=True):
            assert len(a[0]) == len(b[0]) == len(w[0]) // 2
            for part in range(3):  # images, labels, real (the one-host weights)
                np.testing.assert_array_equal(np.concatenate([a[part], b[part]]), w[part])


@pytest.mark.parametrize(
    "augmentation",
    [{"recipe": "light", "path": "python"}, {"recipe": "light", "path": "graph"}],
    ids=["python", "graph"],
)
def test_each_host_augments_its_rows_with_seeds_of_its_own(tmp_path, augmentation):
    prepared = data("array", tmp_path)
    # one image everywhere: hosts drawing the same augmentations would send equal batches
    same = np.repeat(np.asarray(prepared.train.images)[:1], N_TRAIN, axis=0)
    prepared.train = ImageSet(prepared.train.labels, images=same)
    steps = math.ceil(N_TRAIN / BATCH)
    paths = INPUTS if augmentation["path"] == "python" else ["tf_data"]
    got = {}
    for path in paths:
        for index in (0, 1):
            share = HostShare(2, index, 2)
            for attempt in (0, 1):
                pipes = build_pipelines(
                    prepared,
                    spec(path, augmentation, sampler="balanced"),
                    first_epoch=2,
                    share=share,
                    augment_workers=0,
                )
                got[path, index, attempt] = batches(pipes.train, steps)
    one = build_pipelines(
        prepared, spec("tf_data", augmentation, sampler="balanced"), first_epoch=2
    )
    whole = batches(even_batches(one.train, 2), steps)
    for path in paths:
        for index in (0, 1):
            first, again = got[path, index, 0], got[path, index, 1]
            for a, b in zip(first, again, strict=True):  # a seeded run repeats
                for part in range(3):
                    np.testing.assert_array_equal(a[part], b[part])
            for a, w in zip(first, whole, strict=True):  # the same rows as one host's
                half = len(w[1]) // 2
                rows = slice(index * half, (index + 1) * half)
                np.testing.assert_array_equal(a[1], w[1][rows])
                np.testing.assert_array_equal(a[2], w[2][rows])
            # ...augmented: no batch is its unaugmented images
            plain = [prepared.train.images[b[1]] / 255 for b in first]
            assert not all(np.allclose(b[0], p) for b, p in zip(first, plain, strict=True))
        # the two hosts draw different augmentations (their seeds differ)
        for a, b in zip(got[path, 0, 0], got[path, 1, 0], strict=True):
            assert not np.array_equal(a[0], b[0])
    if len(paths) == 2:  # both input pipelines give a host the same batches
        for a, b in zip(got["tf_data", 0, 0], got["py_dataset", 0, 0], strict=True):
            for part in range(3):
                np.testing.assert_array_equal(a[part], b[part])


def test_class_weights_weigh_a_hosts_rows_and_padding_weighs_nothing(tmp_path):
    prepared = data("array", tmp_path)
    pipes = build_pipelines(prepared, spec("py_dataset"), share=HostShare(2, 1, 2))
    weights = {i: float(i + 1) for i in range(N_VAL)}
    fed = one_epoch(even_batches(pipes.validation_share, 2, weights, 2, 1))
    x, y, w = (np.concatenate([b[i] for b in fed]) for i in range(3))
    last = fed[-1]  # the last global batch: 3 rows, padded to 4, host 1's half is row 2 + pad
    assert last[1].tolist() == [N_VAL - 1, N_VAL - 1] and last[2].tolist() == [N_VAL, 0.0]
    assert w[:-1].tolist() == [weights[int(label)] for label in y[:-1]]


def _record(hosts: int) -> RunRecord:
    return RunRecord(
        name="hosts",
        status="interrupted",
        created="2026-01-01",
        class_names=["a", "b"],
        image_shape=SHAPE,
        scaling=ScalingRecord(recipe="unit", state={}),
        objective=ObjectiveRecord(
            loss="sparse_categorical_crossentropy", targets="sparse", label_smoothing=0.0
        ),
        strategy=StrategyRecord(name="data_parallel", replicas=hosts, hosts=hosts),
    )


def test_a_run_resumes_only_on_the_number_of_hosts_it_started_on():
    loaded = spec("tf_data")
    check_same_hosts(_record(2), 2, loaded)
    with pytest.raises(UserError) as caught:
        check_same_hosts(_record(2), 1, loaded)
    [problem] = caught.value.problems
    assert "trained on 2 hosts and would resume on 1" in problem.message
    assert "KERAS_DISTRIBUTION_NUM_PROCESSES=2" in problem.message
