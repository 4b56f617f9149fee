"""How a channel's stories look: a style, or a template of the channel's own.

- ``standard``: linked title, summary, and a line with source, time and other outlets.
- ``compact``: linked title and that line, no summary.
- ``headlines``: the linked title alone.
- ``template``: the channel's template, with the placeholders in `PLACEHOLDERS`.

A template is checked when it is set: an unknown placeholder is named. It is filled per
platform (`fill`): every value, and the template's own text, encoded for the platform (so
neither a feed nor the template can mention anyone), and values shortened until the result
fits the platform's limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

STYLES = ("standard", "compact", "headlines", "template")
PLACEHOLDERS = ("title", "link", "source", "summary", "outlets", "also", "time")
STYLE, TEMPLATE = "style", "template"  # the channel settings
# Characters each value may take before the first fit; halved until the message fits.
BUDGETS = {
    "title": 300,
    "link": 2000,
    "source": 100,
    "summary": 1500,
    "outlets": 10,
    "also": 300,
    "time": 40,
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


class TemplateError(ValueError):
    """A template that names a placeholder newsbot does not know."""


@dataclass(frozen=True)
class Style:
    """A channel's style; `template` is set for the template style."""

    name: str = "standard"
    template: str = ""

    @classmethod
    def of(cls, settings: Mapping[str, str]) -> Style:
        """The style a channel's settings hold (standard when unset or unreadable)."""
        name = settings.get(STYLE) or "standard"
        template = settings.get(TEMPLATE) or ""
        if name == "template" and template:
            return cls(name, template)
        return cls(name if name in STYLES[:3] else "standard")


STANDARD = Style()


def check_template(text: str) -> str:
    """`text` as a template; `TemplateError` naming any unknown placeholder."""
    unknown = sorted({name for name in _PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
    if unknown:
        names = ", ".join("{" + name + "}" for name in unknown)
        known = " ".join("{" + name + "}" for name in PLACEHOLDERS)
        raise TemplateError(f"unknown placeholder {names}; a template may use {known}")
    if not _PLACEHOLDER.search(text):
        raise TemplateError("a template needs at least one placeholder, such as {title}")
    return text


def parts(template: str) -> list[tuple[bool, str]]:
    """The template as (is_placeholder, text) pieces, in order."""
    pieces: list[tuple[bool, str]] = []
    last = 0
    for found in _PLACEHOLDER.finditer(template):
        if found[1] in PLACEHOLDERS:
            pieces += [(False, template[last : found.start()]), (True, found[1])]
            last = found.end()
    return [p for p in [*pieces, (False, template[last:])] if p[1]]


def fill(
    template: str,
    values: Mapping[str, str],
    *,
    value: Callable[[str, str, int], str],
    literal: Callable[[str], str],
    limit: int,
) -> str:
    """The template filled in: `value(name, raw, budget)` encodes one value within its
    budget, `literal` the template's own text. Budgets halve until the result is within
    `limit`; past that (a template of little but text), the whole is clipped."""
    pieces = parts(template)
    budgets = dict(BUDGETS)
    for _ in range(8):
        out = "".join(
            value(text, values.get(text, ""), budgets[text]) if is_name else literal(text)
            for is_name, text in pieces
        )
        if len(out) <= limit:
            return out
        budgets = {name: max(budget // 2, 8) for name, budget in budgets.items()}
    plain = "".join(values.get(t, "")[:40] if is_name else t for is_name, t in pieces)
    size = limit
    while size > 0:
        encoded = literal(plain[:size])
        if len(encoded) <= limit:
            return encoded
        size -= max(len(encoded) - limit, 1)
    return ""
