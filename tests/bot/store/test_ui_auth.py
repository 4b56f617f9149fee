"""Signing in to the web page: one-time links, sessions and the sign-in limit."""

from __future__ import annotations

import hashlib

from bot.store.connection import RedisHandle
from bot.store.ui_auth import LINK_SECONDS, LOGINS_PER_MINUTE, OPERATOR, Scope, UiAuth

MEMBER = Scope("slack", "T1", "U1")


async def test_a_link_is_looked_at_freely_and_redeemed_once(handle: RedisHandle) -> None:
    auth = UiAuth(handle.client, handle.keys)
    token = await auth.issue(MEMBER)
    assert await auth.peek(token) == MEMBER and await auth.peek(token) == MEMBER
    assert await auth.redeem(token) == MEMBER
    assert await auth.redeem(token) is None and await auth.peek(token) is None, "once"
    other = await UiAuth(handle.client, handle.keys).issue(OPERATOR)
    assert await auth.redeem(other) == OPERATOR, "every process signs with the same secret"


async def test_an_expired_forged_or_altered_link_is_refused(handle: RedisHandle) -> None:
    now = [1_800_000_000.0]
    auth = UiAuth(handle.client, handle.keys, clock=lambda: now[0])
    token = await auth.issue(MEMBER)
    link_id, expires, signature = token.split(".")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    for forged in (
        f"{link_id}.{expires}.{flipped}",
        f"{link_id}.{int(expires) + 3600}.{signature}",  # a longer life
        f"{link_id}..{signature}",
        "nonsense",
        "a.b.c.d",
    ):
        assert await auth.redeem(forged) is None, forged
    assert await auth.peek(token) == MEMBER, "the failed tries used nothing up"
    now[0] += LINK_SECONDS + 1
    assert await auth.redeem(token) is None, "15 minutes"
    # A scope swapped in Redis no longer matches the signature.
    fresh = await auth.issue(MEMBER)
    await handle.client.set(
        handle.keys.ui_link(fresh.split(".")[0]), Scope("slack", "T2", "U1").to_json()
    )
    assert await auth.redeem(fresh) is None


async def test_a_session_keeps_its_scope_and_csrf_token_until_it_ends(
    handle: RedisHandle,
) -> None:
    auth = UiAuth(handle.client, handle.keys)
    cookie, session = await auth.start_session(MEMBER)
    found = await auth.session(cookie)
    assert found == session and found.scope == MEMBER and len(found.csrf) >= 24
    hashed = hashlib.sha256(cookie.encode()).hexdigest()[:32]
    assert await handle.client.exists(handle.keys.ui_session(hashed)) == 1
    assert await handle.client.exists(handle.keys.ui_session(cookie)) == 0, "only a hash"
    assert await auth.session("x" * 500) is None and await auth.session("") is None
    await auth.end_session(cookie)
    assert await auth.session(cookie) is None


async def test_sign_ins_are_limited_per_address(handle: RedisHandle) -> None:
    auth = UiAuth(handle.client, handle.keys)
    allowed = [await auth.may_sign_in("203.0.113.7") for _ in range(LOGINS_PER_MINUTE + 2)]
    assert allowed == [True] * LOGINS_PER_MINUTE + [False, False]
    assert await auth.may_sign_in("203.0.113.8"), "another address is not held back"
