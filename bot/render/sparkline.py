"""A small inline SVG line of counts (stories per day), for the managers' page."""

from __future__ import annotations

from collections.abc import Sequence

WIDTH, HEIGHT = 112, 24


def sparkline_points(counts: Sequence[int], *, width: int = WIDTH, height: int = HEIGHT) -> str:
    """The ``points`` of an SVG polyline through `counts`, left to right, the largest at
    the top (a flat line along the bottom when every count is 0)."""
    if not counts:
        return ""
    top = max(max(counts), 1)
    step = width / max(len(counts) - 1, 1)
    usable = height - 2
    return " ".join(
        f"{n * step:.1f},{height - 1 - usable * count / top:.1f}" for n, count in enumerate(counts)
    )
