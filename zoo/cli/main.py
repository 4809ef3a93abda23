"""The ``zoo`` command: one verb per module in ``zoo.cli``.

Each verb module has ``add_parser(subparsers)`` and ``run(args) -> int`` and imports
TensorFlow only inside ``run`` when it needs it, so ``zoo list`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from zoo import backend, progress
from zoo.cli.output import print_json, print_problems
from zoo.errors import PluginContractError, UserError
from zoo.version import __version__

VERBS = (
    "list",
    "info",
    "plugins",
    "validate",
    "schema",
    "build",
    "fetch",
    "data",
    "preview",
    "train",
    "evaluate",
    "predict",
    "export",
    "runs",
    "cache",
    "plugin",
    "sweep",
)
EXIT_OK, EXIT_USER_ERROR = 0, 2
# Verbs that always need TensorFlow: imported up front, without its start-up lines on stderr.
# Verbs that import Keras up front (quietly). train, sweep and build import it themselves,
# once the spec has said which backend (runtime.backend) Keras must start with.
TENSORFLOW_VERBS = frozenset({"evaluate", "predict", "export"})


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="A declarative model zoo for TensorFlow/Keras image classifiers.",
        epilog="Run 'zoo VERB --help' for a verb's options.",
    )

    parser.add_argument("--version", action="version", version=f"zoo {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        module = importlib.import_module(f"zoo.cli.cmd_{verb}")
        verb_parser = module.add_parser(sub)
        verb_parser.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USER_ERROR

    progress.enable(getattr(args, "format", "text") != "json")  # drawn on a terminal only
    try:
        if args.verb in TENSORFLOW_VERBS:  # Keras on $KERAS_BACKEND (else tensorflow), quietly
            backend.activate(backend.requested(), key_path="KERAS_BACKEND")
        return int(args.handler(args) or EXIT_OK)
    except UserError as exc:
        if getattr(args, "format", "text") == "json":
            print_json({"ok": False, "problems": [p.to_dict() for p in exc.problems]})
        print_problems(exc.problems)
        return EXIT_USER_ERROR
    except PluginContractError as exc:  # an installed plugin misbehaved: name it, no traceback
        if getattr(args, "format", "text") == "json":
            print_json({"ok": False, "problems": [{"message": str(exc)}]})
        sys.stderr.write(f"zoo: error: {exc}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("zoo: interrupted\n")
        return 130
    except BrokenPipeError:  # `zoo list | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
