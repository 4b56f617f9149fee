"""The query language of alerts, search and subscription filters.

    words            ukraine ceasefire          (both must appear: AND is implied)
    phrases          "interest rates"
    operators        AND, OR, NOT (upper case), and -word for NOT word
    grouping         (ukraine OR russia) AND -sport
    fields           title:election  source:"BBC News"  author:smith  title:(iran OR israel)

Matching is case- and accent-insensitive and on word boundaries ("AI" does not match
"said"); a simple plural matches its singular and back ("rate" finds "rates"). NOT binds
tighter than AND, AND tighter than OR. A malformed query raises `QueryError`, whose message
points at the problem and shows an example.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

FIELDS = ("title", "source", "author")
EXAMPLE = 'example: ukraine AND (ceasefire OR "peace talks") -sport'
MAX_QUERY = 500
# Parentheses and NOTs nest at most this deep: deeper is no real query, and each level is
# a frame of recursion in parsing and matching.
MAX_DEPTH = 20
_WORD = re.compile(r"\w+", re.UNICODE)
# A word with its combining marks (decomposed accents, Hebrew points, Arabic vowels), which
# folding then removes: "e\u0301te\u0301" is one word, "ete".
_MARKS = (
    r"[\u0300-\u036f\u0591-\u05c7\u064b-\u065f\u0670\u1ab0-\u1aff\u1dc0-\u1dff"
    r"\u20d0-\u20ff\ufe20-\ufe2f]"
)
_MARK = re.compile(_MARKS)
_MARKED_WORD = re.compile(rf"(?:\w|{_MARKS})+")


class QueryError(ValueError):
    """A query that cannot be read; the message says where and shows an example."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.position = position
        pointer = f"{query}\n{' ' * position}^"
        super().__init__(f"{message} (at character {position + 1})\n{pointer}\n{EXAMPLE}")


@functools.cache
def _combining() -> dict[int, None]:
    """Every character `unicodedata.combining` calls combining, to delete with
    `str.translate` (built once, on the first text that is not ASCII)."""
    return {
        code: None for code in range(0x300, sys.maxunicode + 1) if unicodedata.combining(chr(code))
    }


def fold(text: str) -> str:
    if text.isascii():
        return text.lower()  # casefold, and nothing to decompose
    return unicodedata.normalize("NFKD", text.casefold()).translate(_combining())


@functools.lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words_of(text: str) -> list[str]:
    """The folded, plural-insensitive words of a text, in order.

    Words are cut first and folded one by one (most are ASCII, and each distinct word is
    folded once): the same words as folding the whole text, at a fraction of the cost."""
    if text.isascii():
        return list(map(_stem, _WORD.findall(text.lower())))
    return list(itertools.chain.from_iterable(map(_pieces, _MARKED_WORD.findall(text.casefold()))))


@functools.lru_cache(maxsize=1 << 16)
def _pieces(word: str) -> tuple[str, ...]:
    """A word found before folding, as the words folding makes of it (none for a lone
    mark, two for "½")."""
    return tuple(_stem(w) for w in _WORD.findall(fold(word)))


@dataclass(frozen=True)
class Term:
    """Words that must appear in this order (one word, or a phrase), in a field or anywhere."""

    words: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Term | Not | And | Or


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str
    position: int


_FIELD = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_BREAKS = '()"'


def _tokens(query: str) -> list[_Token]:
    """Split a query into words, phrases, operators, fields and parentheses."""
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token("open" if ch == "(" else "close", ch, i))
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError('a phrase is missing its closing "', query, i)
            tokens.append(_Token("phrase", query[i + 1 : end], i))
            i = end + 1
        elif ch == "-" and i + 1 < n and (query[i + 1].isalnum() or query[i + 1] in '("'):
            tokens.append(_Token("minus", "-", i))
            i += 1
        else:
            j = i
            while j < n and not query[j].isspace() and query[j] not in _BREAKS:
                j += 1
            text = query[i:j]
            field = _FIELD.fullmatch(text)
            if field and (field[2] or field[1].lower() in FIELDS or (j < n and query[j] in '"(')):
                tokens.append(_Token("field", field[1], i))
                if field[2]:
                    tokens.append(_Token("word", field[2], i + len(field[1]) + 1))
            elif text in {"AND", "OR", "NOT"}:
                tokens.append(_Token(text, text, i))
            else:
                tokens.append(_Token("word", text, i))
            i = j
    return tokens


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokens(query)
        self.index = 0
        self.field: str | None = None  # inside title:( … ), the field its words are in
        self.depth = 0

    def deeper(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"the query nests deeper than {MAX_DEPTH} levels", token)

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message: str, token: _Token | None = None) -> QueryError:
        position = token.position if token is not None else len(self.query)
        return QueryError(message, self.query, position)

    def parse(self) -> Node:
        if not self.tokens:
            raise self.fail("the query is empty")
        node = self.parse_or()
        extra = self.peek()
        if extra is not None:
            raise self.fail("unexpected ')'" if extra.kind == "close" else "unexpected text", extra)
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_not()]
        while (token := self.peek()) is not None and token.kind not in {"OR", "close"}:
            if token.kind == "AND":
                self.take()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_not(self) -> Node:
        token = self.peek()
        if token is not None and token.kind in {"NOT", "minus"}:
            self.take()
            self.deeper(token)
            node = Not(self.parse_not())
            self.depth -= 1
            return node
        return self.parse_atom()

    def parse_atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("the query ends where a word was expected")
        if token.kind in {"AND", "OR"}:
            raise self.fail(f"{token.kind} needs a word on each side", token)
        if token.kind == "close":
            raise self.fail("unexpected ')'", token)
        self.take()
        if token.kind == "open":
            self.deeper(token)
            node = self.parse_or()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise self.fail("a '(' is never closed", token)
            self.take()
            self.depth -= 1
            return node
        if token.kind == "field":
            name = token.value.lower()
            if name not in FIELDS:
                raise self.fail(f"unknown field {token.value!r}; use {', '.join(FIELDS)}", token)
            target = self.peek()
            if target is None or target.kind not in {"word", "phrase", "open"}:
                raise self.fail(f'{name}: needs a word, a "phrase" or a (group) after it', token)
            if target.kind == "open":
                outer, self.field = self.field, name
                try:
                    return self.parse_atom()
                finally:
                    self.field = outer
            self.take()
            return self.term(target, name)
        return self.term(token, self.field)

    def term(self, token: _Token, field: str | None) -> Term:
        words = tuple(words_of(token.value))
        if not words:
            raise self.fail("this has no letters or digits to search for", token)
        return Term(words, field)


def parse_query(query: str) -> Node:
    """Parse a query, or raise `QueryError` pointing at what is wrong."""
    query = query.strip()
    if len(query) > MAX_QUERY:
        raise QueryError(f"the query is longer than {MAX_QUERY} characters", query[:60], 59)
    return _Parser(query).parse()


_ENDS_S = operator.methodcaller("endswith", "s")
_IS_ASCII = operator.methodcaller("isascii")


class Words:
    """A text's words as a set, and in order (and as adjacent pairs) once a phrase needs
    them: what matching reads."""

    def __init__(self, text: str) -> None:
        if text.isascii():
            self._raw: list[str] = _WORD.findall(text.lower())
        else:
            text = text.casefold()
            self._raw = (_MARKED_WORD if _MARK.search(text) else _WORD).findall(text)
        unique = set(self._raw)
        # Most words are ASCII and keep their spelling; only a word ending in "s" can
        # change when made singular. Fold and stem just the others.
        self._folded = {w: _pieces(w) for w in itertools.filterfalse(_IS_ASCII, unique)}
        ascii_words = unique.difference(self._folded) if self._folded else unique
        self._respell = {w: s for w in filter(_ENDS_S, ascii_words) if (s := _stem(w)) != w}
        self.found = frozenset(
            ascii_words.difference(self._respell).union(
                self._respell.values(), *self._folded.values()
            )
        )
        self._order: list[str] | None = None
        self._pairs: set[tuple[str, str]] | None = None

    @classmethod
    def of(cls, text: str) -> Words:
        return cls(text)

    @property
    def order(self) -> list[str]:
        """`words_of(text)`, worked out the first time a phrase needs it."""
        if self._order is None:
            if not self._folded:
                self._order = list(map(self._respell.get, self._raw, self._raw))
            else:
                self._order = list(itertools.chain.from_iterable(map(_pieces, self._raw)))
        return self._order

    @property
    def pairs(self) -> set[tuple[str, str]]:
        """Each two words that follow one another: a two-word phrase is one set test."""
        if self._pairs is None:
            order = self.order
            self._pairs = set(itertools.pairwise(order))
        return self._pairs

    def contain(self, needle: tuple[str, ...]) -> bool:
        if not self.found.issuperset(needle):
            return False
        if len(needle) < 2:
            return True
        if not self.pairs.issuperset(itertools.pairwise(needle)):
            return False
        if len(needle) == 2:
            return True
        order, first, width = self.order, needle[0], len(needle)
        wanted = list(needle)
        start = 0
        while True:  # each place the phrase's first word occurs (list.index runs in C)
            try:
                at = order.index(first, start)
            except ValueError:
                return False
            if order[at : at + width] == wanted:
                return True
            start = at + 1


def matches(node: Node, fields: Mapping[str, str]) -> bool:
    """Does a story match? `fields` has "title", "source", "author" and "text"."""
    cache: dict[str | None, Words] = {}

    def words(field: str | None) -> Words:
        if field not in cache:
            text = " \n ".join(fields.values()) if field is None else fields.get(field, "")
            cache[field] = Words.of(text)
        return cache[field]

    return matches_words(node, words)


def matches_words(node: Node, words: Callable[[str | None], Words]) -> bool:
    """Does a story match, given its words by field (None: all its text)?"""

    def check(current: Node) -> bool:
        if isinstance(current, Term):
            return words(current.field).contain(current.words)
        if isinstance(current, Not):
            return not check(current.operand)
        if isinstance(current, And):
            return all(check(operand) for operand in current.operands)
        return any(check(operand) for operand in current.operands)

    return check(node)


def positive_terms(node: Node) -> list[Term]:
    """The terms a match can rest on (not under NOT): what a search index is asked for."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [term for operand in node.operands for term in positive_terms(operand)]
