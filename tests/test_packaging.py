"""The install a user gets holds every package (an editable install would hide a gap)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    installed = set(find_packages(where=str(ROOT), include=include))
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for package in ("bot", "handlers")
        for init in (ROOT / package).rglob("__init__.py")
    }
    assert on_disk <= installed, f"not installed: {sorted(on_disk - installed)}"
    assert {"bot.render", "bot.platforms"} <= installed
