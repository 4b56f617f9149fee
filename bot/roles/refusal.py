"""What a platform's refusal of a delivery means, whatever the platform.

Each adapter maps every error its platform can answer a post with to one `Refusal` class,
in one table per platform (``bot.platforms.*.refusals``); the outbox acts on the class:

- **transient**: retried with backoff (`backoff`), counting attempts; after
  `NEWSBOT_DELIVERY_MAX_ATTEMPTS` spread over at least an hour the delivery is
  dead-lettered. A channel's later deliveries wait behind it, in order. Unknown errors are
  transient.
- **token**: the platform refuses the bot's token. Every delivery waits, none counts an
  attempt, and the adapter rechecks the token once a minute.
- **channel**: the channel refuses the bot (not invited, a permission missing, an archived
  thread, a member's DMs closed): the channel is held. Its deliveries wait in its hold until
  it works again (`bot.store.holds`).
- **message**: the message itself is refused (invalid blocks, too long, an invalid form
  body): it is sent once more as plain text within the platform's limits, then
  dead-lettered; it never holds the channel's other deliveries.
- **gone**: the channel was deleted or archived: held like a channel refusal, and its
  subscriptions removed after `NEWSBOT_REFUSED_CHANNEL_DAYS`.
"""

from __future__ import annotations

from enum import StrEnum

from bot.errors import NewsbotError

# The first retry waits this long, each next one twice as long, up to `BACKOFF_MAX`.
BACKOFF_FIRST = 5.0
BACKOFF_MAX = 1800.0
# A delivery is dead-lettered only after this many attempts *and* this long since the first.
MAX_ATTEMPTS = 10
DEAD_AFTER = 3600.0


class Refusal(StrEnum):
    TRANSIENT = "transient"
    TOKEN = "token"  # noqa: S105 (a refusal class, not a secret)
    CHANNEL = "channel"
    MESSAGE = "message"
    GONE = "gone"

    @property
    def holds_channel(self) -> bool:
        return self in (Refusal.CHANNEL, Refusal.GONE)


# Short names for the platforms' refusal tables.
TRANSIENT, TOKEN, CHANNEL, MESSAGE, GONE = (
    Refusal.TRANSIENT,
    Refusal.TOKEN,
    Refusal.CHANNEL,
    Refusal.MESSAGE,
    Refusal.GONE,
)


class DeliveryFailed(NewsbotError):
    """A delivery the platform refused, with the class of the refusal.

    `retry_after` is the platform's own wait (an HTTP 429, a token recheck); such a wait
    counts no attempt."""

    def __init__(
        self,
        message: str,
        *,
        refusal: Refusal = Refusal.TRANSIENT,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.retry_after = retry_after

    @property
    def counts(self) -> bool:
        """Whether this refusal counts as an attempt towards the dead-letter cap."""
        return self.refusal is Refusal.TRANSIENT and self.retry_after is None


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1 for the first retry)."""
    return float(min(BACKOFF_FIRST * 2.0 ** max(attempt - 1, 0), BACKOFF_MAX))
