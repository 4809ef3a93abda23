"""The mirrored strategy on two logical CPUs, with mixed precision, in a subprocess (logical
devices must be set before TensorFlow starts, and would leak into the other tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT, fixture_pythonpath

import zoo
from zoo.errors import UserError

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import zoo

    spec = {
        "name": "mirrored", "seed": 3,
        "data": {"source": "digits", "params": {"limit": 200}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [16]}},
        "training": {"epochs": 2, "batch_size": 32, "verbose": 0,
                     "distribute": {"strategy": "mirrored", "devices": ["/cpu:0", "/cpu:1"],
                                    "mixed_precision": True}},
    }
    result = zoo.train(spec, out=sys.argv[1])
    run = zoo.load_run(result.run_dir)
    [p] = run.predict(np.zeros((8, 8, 1), np.uint8), top_k=10)
    import keras

    print(json.dumps({"run_dir": str(result.run_dir), "epochs": result.epochs,
                      "test": result.metrics["test"],
                      "output_dtype": str(run.model.outputs[0].dtype),
                      "policy": str(keras.mixed_precision.global_policy().name),
                      "probability_sum": sum(s.probability for s in p.top_k)}))
""")


def test_mirrored_strategy_on_two_logical_cpus_with_mixed_precision(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        env=fixture_pythonpath(),
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    info = json.loads((tmp_path / out["run_dir"].split("/")[-1] / "run.json").read_text())
    assert info["strategy"] == {
        "name": "mirrored",
        "replicas": 2,
        "hosts": 1,
        "mixed_precision": True,
    }
    assert out["epochs"] == 2 and 0 <= out["test"]["accuracy"] <= 1
    assert out["output_dtype"] == "float32"  # softmax kept in float32 under mixed_float16
    assert out["policy"] == "float32"  # the global policy is put back after building
    assert out["probability_sum"] == pytest.approx(1.0, abs=1e-3)


def test_unknown_device_is_a_user_error(tmp_path):
    spec = {
        "name": "x",
        "data": {"source": "digits", "params": {"limit": 200}},
        "model": {"architecture": "mlp"},
        "training": {"distribute": {"strategy": "mirrored", "devices": ["/gpu:7"]}},
    }
    with pytest.raises(UserError, match="no device '/gpu:7' on this machine; available: .*CPU:0"):
        zoo.train(spec, out=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_multi_worker_runs_alone_and_refuses_several_workers(tmp_path, monkeypatch):
    spec = {
        "name": "mw",
        "data": {"source": "digits", "params": {"limit": 200}},
        "model": {"architecture": "mlp", "params": {"hidden_units": [8]}},
        "training": {"epochs": 1, "verbose": 0, "distribute": {"strategy": "multi_worker"}},
    }
    cluster = {
        "cluster": {"worker": ["localhost:23456", "localhost:23457"]},
        "task": {"type": "worker", "index": 0},
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    with pytest.raises(UserError, match="TF_CONFIG names 2 workers.*keras-team/keras#20585"):
        zoo.train(spec, out=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    monkeypatch.delenv("TF_CONFIG")
    result = zoo.train(spec, out=tmp_path / "runs")  # no TF_CONFIG: one worker, this machine
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["strategy"]["name"] == "multi_worker" and info["strategy"]["replicas"] == 1
