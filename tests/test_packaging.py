"""What `pip install .` (the README's first command, not editable) puts on the machine."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_of_the_tree_is_installed():
    # an editable install and the tests' own path find any folder; a plain install only the listed ones
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tops = {name.split(".")[0] for name in listed}
    found = {".".join(p.parent.relative_to(REPO).parts) for p in REPO.glob("**/__init__.py")
             if p.parent.relative_to(REPO).parts[0] in tops and "work" not in p.parent.relative_to(REPO).parts}
    assert found - listed == set(), "packages missing from pyproject's [tool.setuptools] packages"
    assert listed - found == set()
