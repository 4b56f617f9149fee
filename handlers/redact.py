"""Keeping secrets in URLs out of everything newsbot shows: logs, replies, notices, lists.

A private feed may carry credentials (``https://user:pw@host/feed`` or ``?token=…``), and
a Redis or LLM URL may carry a password. newsbot keeps such URLs to use them, but whatever
it shows has the password and any password-like query parameter replaced by ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry a credential (compared lower-case, without - and _).
_SECRET_PARAMS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "accesstoken",
        "authtoken",
        "apikey",
        "key",
        "auth",
        "sig",
        "signature",
        "clientsecret",
    }
)
# A URL inside free text (an error message, a log line): scheme, then no spaces or quotes.
_URL_IN_TEXT = re.compile(r"\b(?:https?|rediss?|unix|wss?)://[^\s\"'<>]+", re.IGNORECASE)


def _secret_param(name: str) -> bool:
    return name.lower().replace("-", "").replace("_", "") in _SECRET_PARAMS


def has_secret(url: str) -> bool:
    """Does the URL carry a password or a password-like query parameter?"""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return False
    if password:
        return True
    return any(_secret_param(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True))


def redact_url(url: str) -> str:
    """The URL with its password and password-like parameters replaced by ``***``."""
    if not has_secret(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        host = netloc.rpartition("@")[2]
        netloc = f"{parts.username or ''}:{MASK}@{host}"
    query = urlencode(
        [
            (name, MASK if _secret_param(name) else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Free text with every URL in it redacted."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda found: redact_url(found.group(0)), text)
