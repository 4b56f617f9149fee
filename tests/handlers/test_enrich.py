"""The enrich step's page budget: a feed of many thin items reads only a few pages."""

from __future__ import annotations

from handlers.enrich import budget_pages
from tests.articles import article


def test_only_the_first_thin_entries_of_a_fetch_read_their_pages() -> None:
    thin = [article(entry_key=f"t{n}", description="<p>Short.</p>") for n in range(30)]
    full = article(entry_key="full", description="<p>" + "word " * 100 + "</p>")
    budgeted = budget_pages([*thin[:10], full, *thin[10:]], most=20)
    assert [a.read_page for a in budgeted].count(False) == 10
    assert budgeted[10].read_page and not budgeted[-1].read_page and budgeted[0].read_page
