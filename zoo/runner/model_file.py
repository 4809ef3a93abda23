"""Loading a run's ``model.keras``: always in Keras safe mode, every failure one clear line.

A run folder is data, possibly from someone else: zoo never runs code from it. Keras'
``safe_mode=True`` already refuses a ``Lambda`` layer, but with a raw ``ValueError``; a
truncated file comes back as "File not found", and a model of the wrong shape only fails
later, deep inside TensorFlow. :func:`load_model` checks the archive first, loads it in safe
mode, checks its shape against the run, and turns each failure into a
:class:`~zoo.errors.UserError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from zoo.errors import Problem, UserError

CONFIG_MEMBER = "config.json"  # the model's architecture inside a .keras archive
CORRUPT = "is not a valid Keras file (truncated or corrupt)"


def _fail(path: Path, message: str) -> UserError:
    return UserError([Problem(message, str(path))])


def layer_configs(config: Any) -> Iterator[dict[str, Any]]:
    """Every serialized object in a Keras config (layers nest inside models and wrappers)."""
    if isinstance(config, dict):
        if "class_name" in config:
            yield config
        for value in config.values():
            yield from layer_configs(value)
    elif isinstance(config, list):
        for value in config:
            yield from layer_configs(value)


def check_archive(path: Path) -> None:
    """Refuse what is not a whole ``.keras`` archive, or one holding a ``Lambda`` layer,
    before Keras reads it (Keras calls a cut-off file "not found")."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise _fail(path, "no such file") from None
    except OSError as exc:
        raise _fail(path, f"cannot read file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        raise _fail(path, "is not a regular file; expected a .keras model file")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read(CONFIG_MEMBER))
            broken = archive.testzip()  # CRC of every member: a damaged weights file
    except (zipfile.BadZipFile, EOFError, json.JSONDecodeError, UnicodeDecodeError):
        raise _fail(path, CORRUPT) from None
    except KeyError:
        raise _fail(path, f"{CORRUPT}: it has no {CONFIG_MEMBER}") from None
    except OSError as exc:
        raise _fail(path, f"cannot read file: {exc.strerror or exc}") from None
    if broken is not None:
        raise _fail(path, f"{CORRUPT}: {broken} is damaged")
    if any(layer.get("class_name") == "Lambda" for layer in layer_configs(config)):
        raise _fail(path, "contains a Lambda layer, which zoo never loads (arbitrary code)")


def _shape(shape: Sequence[Any]) -> str:
    return "(" + ",".join("?" if d is None else str(d) for d in shape) + ")"


def check_shapes(
    model: Any, path: Path, expect_input_shape: Sequence[int] | None, expect_classes: int | None
) -> None:
    """The model takes one image of the run's shape and outputs one score per class."""
    inputs = model.input_shape
    if isinstance(inputs, list) or (inputs and isinstance(inputs[0], (tuple, list))):
        raise _fail(path, f"has {len(inputs)} inputs; zoo models take one image")
    if expect_input_shape is not None:
        want = tuple(int(d) for d in expect_input_shape)
        have = tuple(inputs[1:])
        fits = len(have) == len(want) and all(
            h is None or h == w for h, w in zip(have, want, strict=True)
        )
        if not fits:
            raise _fail(path, f"takes input {_shape(have)} but the run's images are {_shape(want)}")
    if expect_classes is not None:
        outputs = model.output_shape
        if isinstance(outputs, list) or (outputs and isinstance(outputs[0], (tuple, list))):
            raise _fail(path, f"has {len(outputs)} outputs; zoo models have one")
        if tuple(outputs[1:]) != (expect_classes,):
            got = outputs[1] if len(outputs) == 2 else _shape(outputs[1:])
            raise _fail(
                path, f"outputs {got} scores per image but the run expects {expect_classes}"
            )


def load_model(
    path: str | Path,
    *,
    expect_input_shape: Sequence[int] | None = None,
    expect_classes: int | None = None,
) -> Any:
    """The ``keras.Model`` in ``path``, loaded uncompiled in safe mode.

    :param expect_input_shape: ``(height, width, channels)`` the model must take.
    :param expect_classes: output units the model must have (1 for one sigmoid unit).
    :raises UserError: one line naming the file: missing, truncated or corrupt, holding code
        (a ``Lambda`` layer, or anything else safe mode refuses), using a layer no installed
        plugin registers, or of the wrong shape.
    """
    path = Path(path)
    check_archive(path)
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except (ValueError, TypeError) as exc:
        text = " ".join(str(exc).split())
        if "safe_mode" in text:
            raise _fail(
                path,
                "Keras safe mode refuses to load it, and zoo never loads it "
                f"otherwise (arbitrary code): {_first_sentence(text)}",
            ) from None
        if "Could not locate" in text or "Unknown" in text:
            raise _fail(
                path,
                f"uses a layer or object no installed plugin provides: {_first_sentence(text)}",
            ) from None
        raise _fail(path, f"{CORRUPT}: {_first_sentence(text)}") from None
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise _fail(path, f"{CORRUPT}: {_first_sentence(str(exc))}") from None
    check_shapes(model, path, expect_input_shape, expect_classes)
    return model


def _first_sentence(text: str, limit: int = 200) -> str:
    """Keras messages run to paragraphs; one line is enough to say what went wrong."""
    text = " ".join(text.split())
    end = text.find(". ")
    text = text[: end + 1] if 0 < end < limit else text
    return text if len(text) <= limit else text[: limit - 3] + "..."
