"""Issue #21, item 1: Discord's refusals in one table, a JSON code over its status, and
an unknown answer transient (with the attempt cap)."""

from __future__ import annotations

import pytest

from bot.platforms.discord_adapter.refusals import CODES, STATUSES, classify
from bot.roles.refusal import Refusal


@pytest.mark.parametrize(
    ("status", "code", "refusal"),
    [
        (403, 50001, Refusal.CHANNEL),  # Missing Access
        (403, 50013, Refusal.CHANNEL),  # Missing Permissions
        (400, 50083, Refusal.CHANNEL),  # an archived thread
        (403, 50007, Refusal.CHANNEL),  # a member's DMs closed
        (404, 10003, Refusal.GONE),  # Unknown Channel
        (400, 50035, Refusal.MESSAGE),  # Invalid Form Body
        (401, 0, Refusal.TOKEN),
        (429, 0, Refusal.TRANSIENT),
        (503, 0, Refusal.TRANSIENT),
        (400, 0, Refusal.MESSAGE),
        (418, 0, Refusal.TRANSIENT),  # a status nobody expects
        (400, 999999, Refusal.MESSAGE),  # an unknown code: its status decides
    ],
)
def test_each_answer_has_its_class(status: int, code: int, refusal: Refusal) -> None:
    assert classify(status, code)[0] is refusal


def test_every_entry_of_the_tables_is_a_class_with_a_meaning() -> None:
    for refusal, meaning in [*CODES.values(), *STATUSES.values()]:
        assert isinstance(refusal, Refusal) and meaning
    assert classify(401, 50013)[0] is Refusal.TOKEN, "a refused token wins over any code"
