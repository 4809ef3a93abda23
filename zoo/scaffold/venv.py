"""A plugin's own virtual environment that uses the zoo installed here, made offline.

``zoo plugin new NAME --venv`` writes ``zoo-NAME/.venv``: a fresh environment whose
site-packages chains to this one's (a ``.pth`` file runs ``site.addsitedir`` on it, so the
installed zoo, TensorFlow and the rest are importable, editable installs included), with
the plugin installed editable into it without build isolation and without dependencies:
nothing is downloaded, and what the plugin's author installs there stays out of zoo's own
environment.
"""

from __future__ import annotations

import subprocess
import sysconfig
import venv
from pathlib import Path

from zoo.errors import Problem, UserError

CHAIN_FILE = "zoo-environment.pth"


def make_plugin_venv(package: Path) -> Path:
    """``package/.venv`` chained to this environment, the package installed editable."""
    env = package / ".venv"
    venv.EnvBuilder(with_pip=True, clear=False).create(env)
    site_packages = Path(
        sysconfig.get_path("purelib", vars={"base": str(env), "platbase": str(env)})
    )
    here = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    lines = [f"import site; site.addsitedir({path!r})" for path in sorted(here)]
    (site_packages / CHAIN_FILE).write_text("\n".join(lines) + "\n")
    python = env / "bin" / "python"
    if not python.exists():  # Windows
        python = env / "Scripts" / "python.exe"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-build-isolation",
            "--no-deps",
            "--no-index",
            "-e",
            str(package),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise UserError(
            [Problem(f"could not install the plugin into its environment: {why}", str(env))]
        )
    return env
