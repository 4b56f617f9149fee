"""Two feeds that share stories, for the end-to-end privacy tests: a news feed a public
channel follows, and an internal feed (a token in its address) a private channel follows.

The internal feed has a copy of a news story at the same address, a syndicated copy (the
same text at another address), and later a copy of a story the news feed had first. Every
internal copy carries words only it has, so a test can tell whether any of it leaked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.articles import rss

NOW = datetime.now(UTC)
COMET = (
    "A bright comet will be visible to the naked eye tonight for the first time in a decade, "
    "astronomers said, weather permitting. Look low in the western sky an hour after sunset. "
    "The comet will fade over the coming week as it moves away from the sun."
)
NEWS_TITLES = ["Harbour bridge reopens after repairs", "Comet visible tonight", "Wheat harvest"]
# What only the internal feed's copies have: if any of it reaches the public channel, it leaked.
SECRETS = ["zebra", "Acme Internal", "intranet.example", "s3cret", "contract"]


def news_feed() -> str:
    return rss(
        "Daily News",
        [
            {
                "title": "Harbour bridge reopens after repairs",
                "link": "https://news.example/bridge",
                "guid": "bridge",
                "published": NOW - timedelta(minutes=30),
                "description": "The harbour bridge reopened after two years of repairs, the "
                "city said. Traffic resumed at noon.",
            },
            {
                "title": "Comet visible tonight",
                "link": "https://news.example/comet",
                "guid": "comet",
                "published": NOW - timedelta(minutes=20),
                "description": COMET,
            },
            {
                "title": "Wheat harvest breaks a record",
                "link": "https://news.example/wheat",
                "guid": "wheat",
                "published": NOW - timedelta(minutes=10),
                "description": "Farmers brought in the largest wheat harvest on record this "
                "year, the ministry said. Prices fell.",
            },
        ],
    )


def internal_feed(*, later: bool = False) -> str:
    items: list[dict[str, Any]] = [
        {
            "title": "Zebra-42: our bridge contract plan",
            "link": "https://news.example/bridge",  # the news story's own address
            "guid": "memo-1",
            "published": NOW - timedelta(minutes=40),
            "description": "Internal only. Our codeword zebra42 covers the bridge contract. "
            "Do not share outside the team.",
        },
        {
            "title": "Comet visible tonight",
            "link": "https://intranet.example/comet-memo",  # syndicated: same text
            "guid": "memo-2",
            "published": NOW - timedelta(minutes=25),
            "description": COMET + " Internal note zebra43.",
        },
    ]
    if later:
        items.insert(
            0,
            {
                "title": "Wheat deal: zebra44 contract pricing",
                "link": "https://news.example/wheat",  # a story the news feed had first
                "guid": "memo-3",
                "published": NOW - timedelta(minutes=5),
                "description": "Internal pricing for the zebra44 contract after the record "
                "harvest. Not for release.",
            },
        )
    return rss("Acme Internal", items)


def leaks(shown: str) -> list[str]:
    """The internal feed's own words found in what a public audience was shown."""
    return [word for word in SECRETS if word.lower() in shown.lower()]
