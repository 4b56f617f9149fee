"""The import rule of the README's Architecture section, checked on the real imports.

`lint-imports` reads every import of `bot/` and `handlers/` (indirect ones too) against the
contracts in `pyproject.toml`. The tree as it is must keep them; a copy of it with one
forbidden import added must break the contract that forbids it, so the check can fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


# (module that gains the import, the import, the contract it breaks)
VIOLATIONS = [
    (
        "bot/store/keys.py",
        "from bot.platforms.console_adapter import ConsoleDeliverer",
        "bot/ is layered",
    ),
    ("bot/net/fetch.py", "from bot.roles.poller import Poller", "bot/ is layered"),
    ("bot/roles/outbox.py", "from bot.commands.core import CommandCore", "bot/ is layered"),
    ("bot/render/plain.py", "from bot.roles.outbox import Outbox", "bot/ is layered"),
    ("bot/settings.py", "from bot.store.keys import Keys", "imports no layer"),
    ("handlers/digest.py", "from bot.settings import Settings", "handlers/ decides"),
    ("handlers/digest.py", "import aiohttp", "handlers/ decides"),
    (
        "bot/platforms/second_adapter.py",
        "from bot.platforms.console_adapter import ConsoleDeliverer",
        "never import each other",
    ),
]


@pytest.mark.parametrize(("module", "line", "contract"), VIOLATIONS)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    for package in ("bot", "handlers"):
        shutil.copytree(ROOT / package, tmp_path / package)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    existing = target.read_text("utf-8") if target.exists() else '"""A second adapter."""\n'
    target.write_text(f"{existing}\n{line}  # noqa\n", "utf-8")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    _, _, broken = result.stdout.partition("Broken contracts")
    assert contract in broken, result.stdout
    assert module.removesuffix(".py").replace("/", ".") in broken


# Renderers take stories projected for their audience (`handlers.visibility`), a type of
# their own: `DigestItem` (inside `Digest`, `AlertItem` and `Reply`). A stored `Story`
# holds every copy, so no renderer may take one, and only `project` makes items.
STORED = {"Story", "load_stories", "newest_stories"}
PROJECTION = "handlers/visibility.py"


def projection_breaches(path: str, source: str) -> list[str]:
    """Where `source` (the module at `path`) goes around the projection."""
    import ast

    tree = ast.parse(source)
    found = []
    rendering = path.startswith("bot/render/")
    for node in ast.walk(tree):
        if rendering and isinstance(node, ast.ImportFrom):
            names = {alias.name for alias in node.names} & STORED
            found += [f"{path}:{node.lineno} imports {name}" for name in sorted(names)]
        if rendering and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for arg in [*node.args.args, *node.args.kwonlyargs]:
                shown = ast.unparse(arg.annotation) if arg.annotation else ""
                if {"Story", "StoryCopy"} & set(shown.replace("]", " ").replace("[", " ").split()):
                    found.append(f"{path}:{node.lineno} {node.name}({arg.arg}: {shown})")
        if (
            path != PROJECTION
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
            == "DigestItem"
        ):
            found.append(f"{path}:{node.lineno} makes a DigestItem")
    return found


def test_renderers_take_only_stories_projected_for_their_audience() -> None:
    breaches = []
    for package in ("bot", "handlers"):
        for module in sorted((ROOT / package).rglob("*.py")):
            path = module.relative_to(ROOT).as_posix()
            breaches += projection_breaches(path, module.read_text("utf-8"))
    assert breaches == []


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("bot/render/plain.py", "from handlers.story import Story\n"),
        ("bot/render/plain.py", "def show(story: Story) -> str: ...\n"),
        ("bot/render/plain.py", "def show(items: list[StoryCopy]) -> str: ...\n"),
        ("bot/roles/outbox_contents.py", "item = DigestItem('a', 't', 'u', 's', None, '', ())\n"),
    ],
)
def test_a_way_around_the_projection_is_found(path: str, source: str) -> None:
    assert projection_breaches(path, source)
