"""What a pipeline step is, and the adapter that runs a per-article function as a step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from handlers.article import Article
from handlers.offload import off_loop


class Step(Protocol):
    """One stage of the ingest pipeline.

    `run` takes a batch and returns the articles that go on, in order; an article left out
    was handled (for example a repeat of an entry already seen). A step that raises on a
    batch is run again one article at a time, so one bad entry fails only itself. When a
    `required` step fails for an article the article stops there; an optional step's
    failure lets it go on unchanged.
    """

    name: str
    required: bool

    async def run(self, articles: Sequence[Article]) -> list[Article]: ...


@dataclass
class PerArticleStep:
    """A step made of a pure function applied to each article."""

    name: str
    transform: Callable[[Article], Article | None]
    required: bool = True

    async def run(self, articles: Sequence[Article]) -> list[Article]:
        # A worker thread: the transforms parse HTML, which must not stall the event loop.
        return await off_loop(self._apply, articles)

    def _apply(self, articles: Sequence[Article]) -> list[Article]:
        return [out for article in articles if (out := self.transform(article)) is not None]
