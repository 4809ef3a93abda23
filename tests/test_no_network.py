"""zoo opens no network connection the user did not ask for: importing it and its recipes
(albumentations asks PyPI for updates on import unless told not to) stays offline."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_importing_zoo_and_its_augmentation_makes_no_connection():
    code = textwrap.dedent(
        """
        import socket, warnings
        def refuse(*args, **kwargs):
            raise AssertionError(f"a network connection was attempted: {args}")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        warnings.simplefilter("error")
        import zoo
        import zoo_builtins.recipes.augmentation
        import albumentations
        print("offline")
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}  # no NO_ALBUMENTATIONS_UPDATE given
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "offline", done.stderr[-2000:]
