"""Shared fixtures: a private Redis, a local feed server, settings pointing at both."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from bot.commands.core import CommandCore
from bot.net.fetch import Fetcher
from bot.net.guard import allow_any
from bot.roles.worker import ensure_group
from bot.settings import Settings, load_settings
from bot.store.connection import RedisHandle, open_redis
from tests.fakes.feed_server import FeedServer
from tests.fakes.redis_cluster import PrivateCluster
from tests.fakes.redis_server import PrivateRedis

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CACHE = ROOT / ".cache"
FEEDPARSER_SDIST = "feedparser==6.0.14"

# Property tests draw the same examples on every run, so CI passes or fails on the code
# alone; HYPOTHESIS_PROFILE=explore draws new, and more, examples to hunt for bugs.
hypothesis_settings.register_profile("default", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", max_examples=1000, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


# The store and role tests run on a single Redis and on a 3-master Redis Cluster.
BOTH_BACKENDS = (ROOT / "tests" / "bot" / "store", ROOT / "tests" / "bot" / "roles")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--write-screenshot",
        action="store_true",
        help="the browser test rewrites docs/dashboard.png, the README's screenshot",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    path = Path(str(metafunc.definition.path))
    if (
        "redis_url" in metafunc.fixturenames
        and any(path.is_relative_to(folder) for folder in BOTH_BACKENDS)
        and metafunc.definition.get_closest_marker("single_redis") is None
    ):
        metafunc.parametrize("redis_backend", ["single", "cluster"])


@pytest.fixture
def redis_backend() -> str:
    """Which Redis a test runs on; the store and role tests are parametrized over both."""
    return "single"


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCluster]:
    cluster = PrivateCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest, redis_backend: str) -> str:
    if redis_backend == "cluster":
        cluster: PrivateCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        return cluster.url
    server: PrivateRedis = request.getfixturevalue("redis_server")
    server.client().flushall()
    return server.url


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    await server.start()
    yield server
    await server.stop()


def make_settings(tmp_path: Path, **env: str) -> Settings:
    base = {
        "NEWSBOT_DATA_DIR": str(tmp_path / "data"),
        "NEWSBOT_ALLOW_PRIVATE_NETWORKS": "true",
        "NEWSBOT_HTTP_PORT": "0",
    }
    return load_settings({**base, **env}, cwd=tmp_path)


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return make_settings(tmp_path, NEWSBOT_REDIS_URL=redis_url, NEWSBOT_POLL_INTERVAL="0.2")


@pytest.fixture
async def handle(settings: Settings) -> AsyncIterator[RedisHandle]:
    async with open_redis(settings) as redis_handle:
        yield redis_handle


@pytest.fixture
async def core(settings: Settings, handle: RedisHandle) -> AsyncIterator[CommandCore]:
    """The /news command core on the test Redis, fetching through a guard that lets the
    local feed server in."""
    await ensure_group(handle.client, handle.keys)
    async with Fetcher(policy=allow_any) as fetcher:
        yield CommandCore(
            client=handle.client, keys=handle.keys, settings=settings, fetcher=fetcher
        )


@pytest.fixture(scope="session")
def feedparser_corpus() -> Path:
    """feedparser's own test corpus, from its sdist on the package index (cached)."""
    target = CACHE / "feedparser-tests"
    if not (target / "illformed").is_dir():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                FEEDPARSER_SDIST,
                "-d",
                str(CACHE),
            ],
            check=True,
        )
        sdist = next(CACHE.glob("feedparser-*.tar.gz"))
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if "/tests/" in m.name and m.isfile()]
            for member in members:
                member.name = member.name.split("/tests/", 1)[1]
            archive.extractall(target, members=members, filter="data")
    return target
