"""Log lines never carry a URL's credentials, in text or JSON, in fields or tracebacks."""

from __future__ import annotations

import logging
import sys

import pytest

from bot.logging_setup import JsonFormatter, TextFormatter

URL = "https://reader:hunter2@private.example.com/feed.xml?token=t0k3n"


@pytest.mark.parametrize("formatter", [TextFormatter(), JsonFormatter()])
def test_credentials_in_urls_are_masked(formatter: logging.Formatter) -> None:
    try:
        raise OSError(f"cannot fetch {URL}")
    except OSError:
        record = logging.getLogger("t").makeRecord(
            "t",
            logging.WARNING,
            __file__,
            1,
            "feed poll failed for %s",
            (URL,),
            exc_info=sys.exc_info(),
            extra={"feed_url": URL, "failures": 2},
        )
    line = formatter.format(record)
    assert "hunter2" not in line and "t0k3n" not in line
    assert line.count("reader:***@private.example.com") == 3
    assert "failures" in line
