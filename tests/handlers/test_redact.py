"""Credentials in URLs are masked wherever newsbot shows a URL."""

from __future__ import annotations

import pytest

from handlers.redact import has_secret, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@feeds.example.com/x.xml", "https://user:***@feeds.example.com/x.xml"),
        ("https://:pw@feeds.example.com:8443/x", "https://:***@feeds.example.com:8443/x"),
        ("redis://db:6379/0?password=s3cret", "redis://db:6379/0?password=***"),
        (
            "https://example.com/rss?id=7&api_key=abc&Access-Token=xyz",
            "https://example.com/rss?id=7&api_key=***&Access-Token=***",
        ),
        ("https://example.com/rss?id=7", "https://example.com/rss?id=7"),
        ("https://user@example.com/rss", "https://user@example.com/rss"),
        ("not a url", "not a url"),
    ],
)
def test_urls_are_shown_without_their_secrets(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert has_secret(url) == (url != shown)
    assert redact_url(shown) == shown, "redacting twice changes nothing"


def test_urls_inside_text_are_redacted() -> None:
    text = "GET https://u:hunter2@x.example/feed?token=t0k failed; retry redis://:pw@db/0 later"
    shown = redact_text(text)
    assert "hunter2" not in shown and "t0k" not in shown and ":pw@" not in shown
    assert shown.startswith("GET https://u:***@x.example/feed?token=***")
