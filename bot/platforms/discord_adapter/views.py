"""Components rendered as plain dicts, as the discord.py view a message is sent with.

The view is stopped at once: it only carries the components into the message, and no
process keeps it in memory waiting for clicks (they arrive as interactions, answered by
`bot.platforms.discord_adapter.components`).
"""

from __future__ import annotations

from typing import Any

import discord


def view_of(rows: list[dict[str, Any]]) -> discord.ui.View:
    """A discord.py view holding these action rows (buttons and string selects), stopped:
    it only carries the components into a message."""
    view = discord.ui.View(timeout=None)
    for number, row in enumerate(rows):
        for part in row.get("components", []):
            if part["type"] == 2:
                view.add_item(
                    discord.ui.Button(
                        style=discord.ButtonStyle(part.get("style", 2)),
                        label=part.get("label"),
                        custom_id=part.get("custom_id"),
                        row=number,
                    )
                )
            elif part["type"] == 3:
                options = [
                    discord.SelectOption(
                        label=o["label"], value=o["value"], description=o.get("description")
                    )
                    for o in part["options"]
                ]
                view.add_item(
                    discord.ui.Select(
                        custom_id=part["custom_id"],
                        placeholder=part.get("placeholder"),
                        options=options,
                        row=number,
                    )
                )
    view.stop()
    return view
