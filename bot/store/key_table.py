"""The Redis key table of docs/contracts.md, made from `bot.store.keys`'s own list.

python -m bot.store.key_table                              # print the table
python -m bot.store.key_table --write docs/contracts.md    # put it between the markers
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from bot.store import keys

START = "<!-- keys: made by python -m bot.store.key_table; do not edit by hand -->"
END = "<!-- keys: end -->"
_BULLET = re.compile(r"^- ``(?P<name>[^`]+)`` (?P<type>[a-z]+): (?P<what>.*)$")


def hash_tag(name: str) -> str:
    """A key's hash tag as Redis Cluster reads it (the first ``{…}`` with something in
    it), braces included; "" when it has none and its whole name is hashed."""
    opening = name.find("{")
    closing = name.find("}", opening + 1)
    if opening < 0 or closing <= opening + 1:
        return ""
    return name[opening : closing + 1]


@dataclass(frozen=True)
class KeyDoc:
    """One documented key: its name pattern (after the prefix), type and description."""

    name: str
    type: str
    what: str

    @property
    def tag(self) -> str:
        return hash_tag(self.name)

    def matches(self, name: str) -> bool:
        """Whether a real key name (after the prefix) fits this pattern."""
        parts = re.split(r"<[a-z_]+>", self.name)
        pattern = ".+".join(re.escape(part) for part in parts)
        return re.fullmatch(pattern, name) is not None


def documented() -> list[KeyDoc]:
    """Every key `bot.store.keys` documents, in its order."""
    found: list[KeyDoc] = []
    lines = (keys.__doc__ or "").splitlines()
    for number, line in enumerate(lines):
        match = _BULLET.match(line)
        if match is None:
            continue
        what = [match["what"]]
        for more in lines[number + 1 :]:
            if not more.startswith("  "):
                break
            what.append(more.strip())
        found.append(KeyDoc(match["name"], match["type"], " ".join(what)))
    return found


def table() -> str:
    rows = [
        "| key (after `newsbot:`) | type | hash tag | what it holds |",
        "|---|---|---|---|",
    ]
    for key in documented():
        tag = f"`{key.tag}`" if key.tag else "none: used alone"
        what = key.what.replace("|", "\\|").replace("``", "`")
        rows.append(f"| `{key.name}` | {key.type} | {tag} | {what} |")
    return "\n".join(rows)


def block() -> str:
    return f"{START}\n{table()}\n{END}"


def with_table(text: str) -> str:
    """`text` with the part between the markers replaced by the current table."""
    start, end = text.index(START), text.index(END) + len(END)
    return text[:start] + block() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, metavar="FILE", help="update FILE in place")
    args = parser.parse_args(argv)
    if args.write is None:
        print(table())
        return 0
    args.write.write_text(with_table(args.write.read_text("utf-8")), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
