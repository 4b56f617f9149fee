"""The fold rules on plain texts: what is one story and what must stay apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.fingerprint import Fingerprint, band_keys, key_terms, shingles
from handlers.story_match import Text, match

NOW = datetime(2026, 11, 27, tzinfo=UTC)
BOILERPLATE = (
    "New episodes every Tuesday. Subscribe to the channel and follow the podcast "
    "on every platform for more stories from the road."
)


def text(title: str, lead: str, feed: str = "f1", hours: float = 0) -> Text:
    return Text(Fingerprint.of(title, lead), NOW - timedelta(hours=hours), feed)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("About", ""), ("About", "")),
        (("(untitled)", ""), ("(untitled)", "")),
        (("Joe's Mirror Method", BOILERPLATE), ("Netflix Actor Incentives", BOILERPLATE)),
        (
            ("YouTube Reflections, Part 1: Silliness", BOILERPLATE),
            ("YouTube Reflections, Part 2: Media Analysis", BOILERPLATE),
        ),
        (
            ("Last week's hot topics (26/06/11)", BOILERPLATE),
            ("Last week's hot topics (19/06/11)", BOILERPLATE),
        ),
    ],
)
def test_look_alikes_of_one_feed_stay_apart(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert match(text(*first), text(*second)) is None


def test_a_syndicated_copy_is_a_near_duplicate() -> None:
    lead = (
        "Chinese refineries have placed new orders for Russian crude that will be shipped "
        "from ports that typically supply India, analysts said on Monday."
    )
    found = match(
        text("Chinese refineries buy Russian oil", lead, "a"),
        text("Chinese refineries buy Russian oil", lead + " Reuters contributed.", "b"),
    )
    assert found is not None and found.kind == "near-duplicate" and found.score > 0.8


def test_numbers_in_titles_must_agree_across_outlets() -> None:
    lead = "A drone strike on a market in Sudan's Kordofan region killed civilians, monitors said."
    left = text("Drone attack on Sudan market kills 28 in Kordofan", lead, "a")
    right = text("Drone attack on Sudan market kills 5 in Kordofan", lead, "b")
    assert match(left, right) is None
    assert match(left, text("Drone attack on Sudan market kills at least 28", lead, "b"))


def test_key_terms_are_names_and_numbers() -> None:
    terms = key_terms(
        "Officials said Prime Minister Anthony Albanese met 34 families. The meeting "
        "in Canberra lasted 2 hours."
    )
    assert {"prime minister anthony albanese", "34", "canberra", "2"} <= set(terms)
    assert "officials" not in terms and "the" not in terms


def test_minhash_bands_are_stable_and_shared_by_similar_texts() -> None:
    base = "the quick brown fox jumps over the lazy dog near the river bank today"
    assert band_keys(shingles(base)) == band_keys(shingles(base))
    near = band_keys(shingles(base + " again"))
    far = band_keys(shingles("completely different words about markets and interest rates now"))
    assert set(near) & set(band_keys(shingles(base)))
    assert not set(far) & set(band_keys(shingles(base)))
