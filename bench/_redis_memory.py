"""Redis memory by key family, for the benchmarks that report where the bytes go."""

from __future__ import annotations

from redis.asyncio import Redis


def family(key: str) -> str:
    """A key with its ids taken out: `newsbot:story:ab12…` is `newsbot:story:*`."""
    return ":".join("*" if any(c.isdigit() for c in part) else part for part in key.split(":"))


async def memory_by_family(client: Redis) -> list[tuple[str, int, int]]:
    """(family, keys, bytes) of every key, largest first, from MEMORY USAGE."""
    sizes: dict[str, list[int]] = {}
    batch: list[str] = []

    async def measure() -> None:
        async with client.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.memory_usage(key, samples=0)
            for key, used in zip(batch, await pipe.execute(), strict=True):
                entry = sizes.setdefault(family(key), [0, 0])
                entry[0] += 1
                entry[1] += int(used or 0)
        batch.clear()

    async for key in client.scan_iter(count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await measure()
    await measure()
    return sorted(((f, n, b) for f, (n, b) in sizes.items()), key=lambda row: -row[2])
