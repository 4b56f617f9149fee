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


def test_the_pages_templates_and_styles_are_installed() -> None:
    """A wheel holds only the files package-data names: every template and stylesheet."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["bot.web"]
    web = ROOT / "bot" / "web"
    files = [p for p in web.rglob("*") if p.is_file() and p.suffix in {".html", ".css"}]
    assert files, "the page has templates"
    for path in files:
        relative = path.relative_to(web)
        assert any(relative.match(pattern) for pattern in patterns), f"not installed: {relative}"
