"""Import TensorFlow and Keras without their start-up chatter on stderr.

TensorFlow's C++ core writes half a dozen lines (absl's "All log messages before
absl::InitializeLog()", oneDNN and CUDA notices) straight to file descriptor 2 while it is
imported, before ``TF_CPP_MIN_LOG_LEVEL`` can help, and CUDA's failed ``cuInit`` on a
machine without a GPU when it first looks for devices (done here, during the import).
zoo's commands print one line per problem on stderr, so the import runs with that
descriptor pointed at /dev/null.
``ZOO_TF_LOGS=1`` keeps the lines. An import error is still raised, with its traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType

SHOW_ENV = "ZOO_TF_LOGS"


def _initialize_devices() -> None:
    """Let TensorFlow look for GPUs now, while stderr is silenced: on a machine without
    one, CUDA's failed ``cuInit`` is an error line otherwise printed at the first op."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return
    try:
        tf.config.list_physical_devices()
    except Exception:  # noqa: BLE001 (devices are looked for again, loudly, when used)
        pass


def import_keras() -> ModuleType:
    """``import keras`` (TensorFlow behind it), quietly the first time."""
    return import_quietly("keras")


def import_quietly(name: str) -> ModuleType:
    """``import name`` with TensorFlow's start-up lines (if it comes along) silenced."""
    if name in sys.modules or os.environ.get(SHOW_ENV, "").strip() not in ("", "0"):
        return importlib.import_module(name)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture, IDEs)
        return importlib.import_module(name)
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        module = importlib.import_module(name)
        _initialize_devices()
        return module
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)
