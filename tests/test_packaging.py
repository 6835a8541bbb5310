"""The installed distribution holds every package of the checkout (``pip install -e .`` users import
them from anywhere, not only from the repository root)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_top_level_package_is_installed() -> None:
    text = (ROOT / "pyproject.toml").read_text()  # tomllib is 3.11+; the project supports 3.10
    section = text[text.index("[tool.setuptools.packages.find]") :]
    patterns = re.findall(r'"([^"]+)"', re.search(r"include\s*=\s*\[([^\]]*)\]", section).group(1))
    packages = sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))
    assert {"core", "scenarios", "envs", "agents", "evaluation"} <= set(packages)
    missing = [p for p in packages if not any(fnmatch.fnmatch(p, pat) for pat in patterns)]
    assert not missing, f"pyproject.toml [tool.setuptools.packages.find] include lacks {missing}"
