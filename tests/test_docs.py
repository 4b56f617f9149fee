"""docs/ is the contract: its key table is made from bot/store/keys.py and current, every
key newsbot names is documented with its hash tag, every setting is in the settings table,
and the code points at docs/, not at a file outside the repository (issue #23)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from bot.settings import _SPECS
from bot.store.key_table import KeyDoc, block, documented, hash_tag
from bot.store.keys import Keys

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_the_key_table_in_contracts_is_current() -> None:
    text = (DOCS / "contracts.md").read_text("utf-8")
    assert block() in text, "run: python -m bot.store.key_table --write docs/contracts.md"


def test_every_key_newsbot_names_is_documented_with_its_tag() -> None:
    keys = Keys(prefix="")
    docs = documented()
    names = []
    for name, member in inspect.getmembers(Keys):
        if name.startswith("_") or name in {"prefix", "old_channel_key"}:
            continue
        if isinstance(member, property):
            names.append(getattr(keys, name))
        elif callable(member):
            params = list(inspect.signature(member).parameters)[1:]
            names.append(member(keys, *(f"x{p}" for p in params)))
    undocumented = [n for n in names if not any(doc.matches(n) for doc in docs)]
    assert undocumented == []
    for name in names:  # the documented tag is the one Redis Cluster hashes
        doc = next(d for d in docs if d.matches(name))
        tag = hash_tag(name)
        assert KeyDoc(doc.tag, "", "").matches(tag) if doc.tag else tag == "", name


def test_every_setting_is_in_the_settings_table() -> None:
    text = (DOCS / "contracts.md").read_text("utf-8")
    table = text[text.index("## Settings") : text.index("## `/news`")]
    missing = [spec.env for spec in _SPECS.values() if spec.env not in table]
    assert missing == []


def test_the_code_cites_docs_not_a_design_file_outside_the_repository() -> None:
    citing = [
        str(path.relative_to(ROOT))
        for folder in ("bot", "handlers", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
        if "DESIGN.md" in path.read_text("utf-8") and path.name != "test_docs.py"
    ]
    assert citing == []


def test_links_between_the_docs_resolve() -> None:
    for doc in [*DOCS.glob("*.md"), ROOT / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text("utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}"
