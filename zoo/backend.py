"""The Keras backend of this process: which one a spec asks for, and switching to it in time.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so the choice is made before
anything imports Keras: ``runtime.backend`` in the spec when set, else ``$KERAS_BACKEND``,
else TensorFlow (the default, and the only backend with tf.distribute strategies and
in-graph augmentation). A process whose Keras already runs another backend cannot switch;
that is a clear error, not a silent run on the wrong backend.

Importing this module imports neither Keras nor any backend.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from zoo.errors import Problem, UserError
from zoo.tf_import import import_keras, import_quietly

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "tensorflow"
KEY_PATH = "runtime.backend"
# What to install for each backend (the package extras of pyproject.toml).
INSTALL_HINT = {
    "tensorflow": "pip install 'zoo[tensorflow]'",
    "jax": "pip install 'zoo[jax]' (on a GPU: pip install 'jax[cuda12]')",
    "torch": "pip install 'zoo[torch]'",
}


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it (cheap: no TensorFlow)."""
    if module in sys.modules:
        return sys.modules[module] is not None
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def tensorflow_installed() -> bool:
    return installed("tensorflow")


def requested(spec_backend: str | None = None) -> str:
    """The backend a spec's ``runtime.backend`` (None: not set) asks for in this environment."""
    if spec_backend:
        return spec_backend
    env = os.environ.get("KERAS_BACKEND", "").strip().lower()
    return env if env in BACKENDS else DEFAULT_BACKEND


def loaded() -> str | None:
    """The backend of the Keras already imported in this process, or None if not imported."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    try:
        return str(keras.backend.backend())
    except AttributeError:  # keras is being imported right now
        return os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND


def active() -> str:
    """The backend Keras runs (or will run when imported) in this process."""
    return loaded() or requested()


def problems_for(backend: str, key_path: str = KEY_PATH) -> list[Problem]:
    """Why ``backend`` cannot run in this process (not installed, or Keras runs another)."""
    if backend not in BACKENDS:
        return [
            Problem(
                f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}",
                key_path=key_path,
            )
        ]
    if not installed(backend):
        return [
            Problem(
                f"backend '{backend}' is not installed; {INSTALL_HINT[backend]}", key_path=key_path
            )
        ]
    current = loaded()
    if current is not None and current != backend:
        return [
            Problem(
                f"this process already runs Keras on '{current}', and Keras cannot switch backends "
                f"once imported; start a new process for '{backend}' (zoo train does this itself)",
                key_path=key_path,
            )
        ]
    return []


def select(backend: str, key_path: str = KEY_PATH) -> str:
    """Make Keras run ``backend`` once it is imported (sets ``KERAS_BACKEND``; imports
    nothing). Raises :class:`UserError` when that is impossible."""
    problems = problems_for(backend, key_path)
    if problems:
        raise UserError(problems)
    if loaded() is None:
        os.environ["KERAS_BACKEND"] = backend
    return backend


def activate(backend: str, key_path: str = KEY_PATH) -> str:
    """:func:`select` ``backend``, then import Keras (quietly)."""
    select(backend, key_path)

    import_keras()
    if backend != "tensorflow" and tensorflow_installed():
        import_quietly("tensorflow")  # Keras seeds it and tf.data feeds every backend
    return backend


def input_pipeline(wanted: str = "auto") -> str:
    """``tf_data`` or ``py_dataset`` for a spec's ``runtime.input``: auto takes tf.data
    whenever TensorFlow is installed (it feeds every backend), else the PyDataset path."""
    if wanted != "auto":
        return wanted
    return "tf_data" if tensorflow_installed() else "py_dataset"
