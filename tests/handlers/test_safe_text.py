"""What a terminal would obey, or a reader misread, never survives into what newsbot shows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.safe_text import link_text, neutral, one_line, printable

ESCAPES = ["\x1b[31m", "\x1bc", "\x1b]8;;https://evil.example\x07", "\x9b31m", "\x07", "\x00"]


@pytest.mark.parametrize("escape", ESCAPES)
def test_terminal_escapes_are_stripped(escape: str) -> None:
    shown = printable(f"Breaking{escape} news")
    assert "\x1b" not in shown and "\x9b" not in shown and "\x07" not in shown
    assert shown.startswith("Breaking") and shown.endswith(" news")


def test_bidi_overrides_and_zero_width_spaces_go_from_titles() -> None:
    assert neutral("Invoice \u202egpj.exe\u202c for\u200b you\u2066") == "Invoice gpj.exe for you"
    assert neutral("می\u200cخواهم") == "می\u200cخواهم", "a zero-width non-joiner is Persian text"


@pytest.mark.parametrize(
    ("text", "url", "shown"),
    [
        (
            "https://bank.example/login",
            "https://evil.example/x",
            "https://bank.example/login (evil.example)",
        ),
        ("bank.example", "https://evil.example/x", "bank.example (evil.example)"),
        ("bank.example", "https://www.bank.example/x", "bank.example"),
        ("Bank raises rates", "https://evil.example/x", "Bank raises rates"),
        ("Example.com buys a rival", "https://news.example/x", "Example.com buys a rival"),
        ("10.0.0.1", "https://news.example/x", "10.0.0.1 (news.example)"),
    ],
)
def test_a_title_that_looks_like_an_address_shows_the_real_host(
    text: str, url: str, shown: str
) -> None:
    assert link_text(text, url) == shown


@given(st.text())
def test_nothing_shown_can_steer_a_terminal(text: str) -> None:
    for shown in (printable(text), neutral(text), one_line(text)):
        assert not any(0x00 <= ord(c) < 0x20 and c not in "\t\n" for c in shown)
        assert not any(0x7F <= ord(c) <= 0x9F for c in shown)
    assert "\n" not in one_line(text)
    assert not any(
        c in neutral(text) for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )
