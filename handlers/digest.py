"""The platform-neutral digest that every renderer draws from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.story import DigestItem


@dataclass(frozen=True)
class Digest:
    """A heading, the stories in the order to show them, and how many more were left out."""

    heading: str
    items: tuple[DigestItem, ...]
    generated_at: datetime
    more: int = 0
