"""Every error newsbot shows is safe to print: it may quote a server or a feed."""

from __future__ import annotations

from bot.errors import FetchError


def test_an_error_quoting_a_servers_words_shows_no_escape() -> None:
    error = FetchError("HTTP 302 to http://x.example/\x1b]8;;evil\x07\x1b[2Jhome")
    assert str(error) == "HTTP 302 to http://x.example/]8;;evil[2Jhome"
