"""Keyword alerts, decided on plain data: which queries may be alerts, which alerts a story
can match at all, and which of its words to highlight.

Evaluating every alert against every story costs alerts × stories. Instead each alert is
indexed by its *required words*: a set of words one of which every matching story must
contain (one word of a phrase, the most selective operand of an AND, every operand of an
OR). A story's words then pick the few alerts worth evaluating in full; an alert with no
required word (only NOT terms) cannot be made.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from handlers.query import (
    EXAMPLE,
    And,
    Node,
    Not,
    Or,
    Term,
    Words,
    matches_words,
    parse_query,
    positive_terms,
)
from handlers.story import DigestItem
from handlers.summarize import STOPWORDS

DURATION_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"([1-9][0-9]{0,3})([mhdw])")
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_PAUSE = 52 * 7 * 86400
# Words nearly every story has: STOPWORDS (longer ones) and the short ones it leaves out.
# Two-letter names (AI, US, UK, EU) stay meaningful.
COMMON = STOPWORDS | frozenset(
    [
        "a",
        "i",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "an",
        "as",
        "is",
        "it",
        "or",
        "be",
        "we",
        "he",
        "do",
        "no",
        "so",
        "up",
        "if",
        "my",
        "me",
        "us",
    ]
) - {"us"}


class AlertError(ValueError):
    """A query or duration an alert cannot use; the message says why and what works."""


def parse_duration(text: str) -> int:
    """``30m``, ``2h``, ``3d`` or ``1w`` as seconds (at most a year)."""
    found = _DURATION.fullmatch(text.strip().lower())
    if not found:
        raise AlertError(f"{text.strip()!r} is not a duration; write 30m, 2h, 3d or 1w")
    seconds = int(found[1]) * DURATION_UNITS[found[2]]
    if seconds > MAX_PAUSE:
        raise AlertError("pause for at most a year (52w); /news alert remove deletes an alert")
    return seconds


def _stemmed(word: str) -> str:
    """A query word as the index holds it (folded and singular, like story words)."""
    words = Words.of(word).order
    return words[0] if words else ""


def _selectivity(words: frozenset[str]) -> tuple[int, int]:
    """Smaller is better: fewer alternatives, then longer (rarer) words."""
    return len(words), -min((len(w) for w in words), default=0)


def required_words(node: Node) -> frozenset[str] | None:
    """Words one of which any story this query matches contains; None when there are none
    (a query of NOT terms only)."""
    if isinstance(node, Term):
        if not node.words:
            return None
        useful = [w for w in node.words if w not in COMMON] or list(node.words)
        return frozenset({max(useful, key=len)})
    if isinstance(node, Not):
        return None
    options = [required_words(operand) for operand in node.operands]
    if isinstance(node, And):
        known = [o for o in options if o]
        return min(known, key=_selectivity) if known else None
    if any(not o for o in options):
        return None  # one side of an OR can match without any required word
    return frozenset().union(*(o for o in options if o))


def parse_alert_query(text: str, *, max_length: int) -> Node:
    """A query an alert can use, or `AlertError`/`QueryError` saying what is wrong."""
    text = text.strip()
    if not text:
        raise AlertError(f"say what the alert looks for; {EXAMPLE}")
    if len(text) > max_length:
        raise AlertError(
            f"an alert query is at most {max_length} characters (this one has {len(text)}); "
            "keep the words that matter"
        )
    node = parse_query(text)
    if required_words(node) is None:
        raise AlertError(
            "an alert needs a word to look for, not only NOT or -word terms; "
            'e.g. /news alert add "interest rates" -mortgage'
        )
    words = {w for term in positive_terms(node) for w in term.words}
    if all(w in COMMON for w in words):
        raise AlertError(
            "that alert is only common words, which nearly every story has; add a more "
            "specific word, e.g. /news alert add ukraine ceasefire"
        )
    return node


@dataclass(frozen=True)
class StoryText:
    """What an alert is matched against: the story's fields and its full text."""

    title: str
    source: str = ""
    author: str = ""
    text: str = ""  # summary and full text

    def fields(self) -> dict[str, str]:
        return {
            "title": self.title,
            "source": self.source,
            "author": self.author,
            "text": self.text,
        }


class _StoryWords:
    """A story's words per field, computed once however many alerts look."""

    def __init__(self, story: StoryText) -> None:
        self._fields = story.fields()
        self._cache: dict[str | None, Words] = {}

    def __call__(self, field: str | None) -> Words:
        if field not in self._cache:
            text = (
                " \n ".join(self._fields.values()) if field is None else self._fields.get(field, "")
            )
            self._cache[field] = Words.of(text)
        return self._cache[field]


def found_words(node: Node, words: _StoryWords) -> frozenset[str]:
    """The words of the query's positive terms that the story has: what to highlight."""
    found: set[str] = set()
    for term in positive_terms(node):
        if words(term.field).contain(term.words):
            found.update(term.words)
    return frozenset(found)


class Hit(NamedTuple):
    """An alert a story matched, and the words to highlight."""

    alert_id: str
    words: frozenset[str]


@dataclass(frozen=True)
class _Plan:
    """A query of plain words and phrases under AND, OR and NOT, decided by set tests on
    the story's words: all of `every` and `phrases`, none of `none`, and one of `some`
    (when there is a `some`)."""

    every: frozenset[str]
    none: frozenset[str] = frozenset()
    some: frozenset[str] | None = None
    phrases: tuple[tuple[str, ...], ...] = ()

    def words(self, story: Words) -> frozenset[str] | None:
        """The words to highlight when the story matches; None when it does not."""
        found = story.found
        if not self.every <= found or not self.none.isdisjoint(found):
            return None
        if self.phrases and not all(map(story.contain, self.phrases)):
            return None
        every = self.every.union(*self.phrases) if self.phrases else self.every
        if self.some is None:
            return every
        some = self.some & found
        return every | some if some else None


def _anywhere(term: Node) -> tuple[str, ...] | None:
    """A term's words when it is a word or phrase looked for in the whole story."""
    return term.words if isinstance(term, Term) and term.field is None and term.words else None


def _plan(node: Node) -> _Plan | None:
    """The common shapes as a `_Plan`: ``a``, ``a b``, ``"a b"``, ``a OR b``, ``a -b`` and
    their mixes (an AND of words, phrases, NOT words and at most one OR of words)."""
    if isinstance(node, Or):
        options = [_anywhere(o) for o in node.operands]
        if all(o is not None and len(o) == 1 for o in options):
            return _Plan(frozenset(), some=frozenset(o[0] for o in options if o))
        return None
    every: set[str] = set()
    none: set[str] = set()
    phrases: list[tuple[str, ...]] = []
    some: frozenset[str] | None = None
    for operand in node.operands if isinstance(node, And) else (node,):
        term = _anywhere(operand)
        excluded = _anywhere(operand.operand) if isinstance(operand, Not) else None
        if term is not None and len(term) == 1:
            every.add(term[0])
        elif term is not None:
            phrases.append(term)
        elif excluded is not None and len(excluded) == 1:
            none.update(excluded)
        elif isinstance(operand, Or) and some is None and (inner := _plan(operand)):
            some = inner.some
        else:
            return None
    return _Plan(frozenset(every), frozenset(none), some, tuple(phrases))


class AlertIndex:
    """Alerts by required word; `match` evaluates only the alerts a story can match, and
    the common shapes (`_Plan`) by set tests alone."""

    def __init__(self, alerts: Iterable[tuple[str, Node]]) -> None:
        self._nodes: dict[str, Node] = {}
        self._plans: dict[str, _Plan] = {}
        self._by_word: defaultdict[str, list[str]] = defaultdict(list)
        for alert_id, node in alerts:
            required = required_words(node)
            if not required:
                continue  # refused when made; skipped if one got in some other way
            plan = _plan(node)
            if plan is not None:
                self._plans[alert_id] = plan
            else:
                self._nodes[alert_id] = node
            for word in required:
                self._by_word[word].append(alert_id)

        self._words = frozenset(self._by_word)

    def __len__(self) -> int:
        return len(self._nodes) + len(self._plans)

    def match(self, story: StoryText) -> list[Hit]:
        if not self._by_word:
            return []
        words = _StoryWords(story)
        everywhere = words(None)
        found = everywhere.found
        candidates = set(
            itertools.chain.from_iterable(map(self._by_word.__getitem__, found & self._words))
        )
        hits = []
        plans = self._plans
        for alert_id in candidates:
            plan = plans.get(alert_id)
            if plan is not None:
                highlighted = plan.words(everywhere)
                if highlighted is not None:
                    hits.append(Hit(alert_id, highlighted))
                continue
            node = self._nodes[alert_id]
            if matches_words(node, words):
                hits.append(Hit(alert_id, found_words(node, words)))
        hits.sort()
        return hits


def highlight(text: str, words: frozenset[str]) -> list[tuple[str, bool]]:
    """`text` cut into runs, each marked True where it is a matched word."""
    if not words:
        return [(text, False)] if text else []
    runs: list[tuple[str, bool]] = []
    start = 0
    for found in _WORD.finditer(text):
        if _stemmed(found.group()) in words:
            if found.start() > start:
                runs.append((text[start : found.start()], False))
            runs.append((found.group(), True))
            start = found.end()
    if start < len(text):
        runs.append((text[start:], False))
    return runs


@dataclass(frozen=True)
class AlertItem:
    """One story an alert matched, as the alert message shows it."""

    item: DigestItem
    alert_id: str
    query: str  # empty when the alert was removed before its message went
    words: frozenset[str]


@dataclass(frozen=True)
class AlertMessage:
    """A batch of alert matches for one member (a DM) or one channel (a channel alert)."""

    items: tuple[AlertItem, ...]
    personal: bool

    @property
    def heading(self) -> str:
        count = len(self.items)
        queries = sorted(
            {f"{i.alert_id} {i.query!r}" if i.query else i.alert_id for i in self.items}
        )
        stories = "a new story" if count == 1 else f"{count} new stories"
        return f"newsbot alert: {stories} for {', '.join(queries)}"
