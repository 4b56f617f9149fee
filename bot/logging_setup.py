"""Logging set-up: text or JSON lines on stderr, with each record's structured fields.

Every URL in a line (message, fields, traceback) has its password and password-like
parameters masked (`handlers.redact`): a private feed's credentials never reach a log."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from handlers.redact import redact_text
from handlers.safe_text import printable

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {
        k: printable(redact_text(v)) if isinstance(v, str) else v
        for k, v in vars(record).items()
        if k not in _STANDARD and not k.startswith("_")
    }


def _message(record: logging.LogRecord) -> str:
    return printable(redact_text(record.getMessage()))


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    assert record.exc_info is not None
    return printable(redact_text(formatter.formatException(record.exc_info)))


class TextFormatter(logging.Formatter):
    """``time level logger: message key=value …``"""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{when} {record.levelname.lower():7} {record.name}: {_message(record)}"
        if extra:
            line += f" {extra}"
        if record.exc_info:
            line += "\n" + _traceback(self, record)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _message(record),
        }
        data.update(_fields(record))
        if record.exc_info:
            data["exception"] = _traceback(self, record)
        return json.dumps(data, default=str, ensure_ascii=False)


# What libraries log that a user cannot act on: newsbot never uses Discord's voice, and
# bolt's note that the client's token wins over SLACK_BOT_TOKEN (they are the same).
NOISE = {
    "discord.client": ("voice will NOT be supported",),
    "slack_bolt.AsyncApp": ("As you gave `client` as well",),
}


class _Quiet(logging.Filter):
    def __init__(self, parts: tuple[str, ...]) -> None:
        super().__init__()
        self._parts = parts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(part in message for part in self._parts)


def quiet_library_noise() -> None:
    """Drop the `NOISE` lines at their loggers (once, whoever set logging up)."""
    for name, parts in NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Quiet) for f in logger.filters):
            logger.addFilter(_Quiet(parts))


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("trafilatura", "htmldate", "courlan", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    quiet_library_noise()
