"""The built wheel holds every package of the source tree.

An editable install imports straight from the checkout, so a package directory that setuptools
leaves out of the wheel (no `__init__.py`: `find_packages` skips it) only fails once installed.
Here the wheel is built from a copy of the tree and its contents compared with the tree itself.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[2]
# Build outputs and local state that a checkout may hold beside the sources.
NOT_SOURCES = shutil.ignore_patterns(
    "__pycache__", "*.egg-info", "build", "dist", ".ipynb_checkpoints", "mlruns", "mlflow.db", "*.keras"
)


def top_level_packages() -> list[str]:
    """The top-level package names setup.cfg asks `find_packages` to include."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    include = config["options.packages.find"]["include"].split()
    return sorted(name for name in include if "*" not in name)


def source_modules() -> set[str]:
    """Every .py file under the top-level packages, as a path relative to the checkout."""
    return {
        path.relative_to(ROOT).as_posix()
        for package in top_level_packages()
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }


def test_the_wheel_holds_every_package_directory_and_module(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for path in ROOT.iterdir():
        if path.is_file() and path.name != "mlflow.db":
            shutil.copy2(path, source / path.name)
    for package in top_level_packages():
        shutil.copytree(ROOT / package, source / package, ignore=NOT_SOURCES)
    # No build isolation: the test uses the environment's setuptools and needs no download.
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"]
    subprocess.run([*build, "--wheel-dir", str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()

    modules = source_modules()
    packages = {str(PurePosixPath(module).parent) for module in modules}
    packaged = {str(PurePosixPath(name).parent) for name in names if name.endswith(".py")}
    assert sorted(packages - packaged) == [], "package directories missing from the wheel"
    assert sorted(modules - names) == [], "modules missing from the wheel"
    assert {"forecast/jobs", "forecast/experiments"} <= packaged
    assert "forecast = forecast.entry:main" in scripts
