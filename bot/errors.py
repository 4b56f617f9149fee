"""One error hierarchy for newsbot; boundaries catch `NewsbotError` and report it plainly."""

from __future__ import annotations

from handlers.safe_text import printable


class NewsbotError(Exception):
    """Base of every error newsbot raises on purpose; its message is safe to show a user:
    whatever it quotes (a redirect's Location, a server's words) has no control characters."""

    def __str__(self) -> str:
        return printable(super().__str__())


class ConfigError(NewsbotError):
    """Settings are invalid; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid settings:\n" + "\n".join(f"  - {p}" for p in problems))


class StoreError(NewsbotError):
    """Redis could not be reached or started."""


class FetchError(NewsbotError):
    """A feed or page could not be fetched; the message says why in one line."""


class FetchRefused(FetchError):
    """The fetch guard refused a URL or an address (scheme, private network, redirects)."""


class ParseError(NewsbotError):
    """A document yielded no entries and is not a usable feed."""


class SourceError(NewsbotError):
    """A digest source (URL, file or OPML) could not be read."""
