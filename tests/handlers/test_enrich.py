"""The enrich step's page budget: a feed of many thin items reads only a few pages."""

from __future__ import annotations

from handlers.enrich import budget_pages
from tests.articles import article


def test_only_the_first_thin_entries_of_a_fetch_read_their_pages() -> None:
    thin = [article(entry_key=f"t{n}", description="<p>Short.</p>") for n in range(30)]
    full = article(entry_key="full", description="<p>" + "word " * 100 + "</p>")
    budgeted = budget_pages([*thin[:10], full, *thin[10:]], most=20)
    assert [a.read_page for a in budgeted].count(True) == 20
    assert budgeted[0].read_page and not budgeted[-1].read_page
    assert not budgeted[10].read_page  # a full entry has no page to read


def test_markup_does_not_make_a_thin_entry_look_full() -> None:
    dressed = article(description='<p class="lead"><span>Short.</span></p>' * 60)
    [budgeted] = budget_pages([dressed], most=5)
    assert budgeted.read_page


def test_no_page_is_read_with_a_budget_of_zero() -> None:
    entries = [article(entry_key=f"t{n}", description="<p>Short.</p>") for n in range(5)]
    assert not any(a.read_page for a in budget_pages(entries, most=0))
