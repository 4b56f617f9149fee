"""Discord messages with embeds for a digest, within every Discord limit for any input.

Limits (Discord docs): content 2000; at most 10 embeds; embed title 256, description 4096,
footer 2048, and all embeds of a message together 6000. Every message says
`allowed_mentions: {"parse": []}`, and feed text has its Markdown escaped and its
mentions defused, so no feed can ping anyone or restyle the digest.
"""

from __future__ import annotations

import re
from typing import Any

from bot.render.styled import template_values
from bot.render.text_limits import clip, fit, marked, safe_url, when
from handlers.alerts import AlertItem, AlertMessage
from handlers.digest import Digest
from handlers.reply import Reply
from handlers.story import DigestItem
from handlers.story_actions import ACTIONS, PICK, action_value
from handlers.styles import STANDARD, Style, fill

CONTENT = 2000
MAX_EMBEDS = 10
EMBED_TITLE = 256
DESCRIPTION = 3000
FOOTER = 200
MESSAGE_EMBED_TEXT = 6000
NO_MENTIONS: dict[str, list[str]] = {"parse": []}
SELECT_OPTIONS = 25  # a string select's options
OPTION_TEXT = 100  # an option's label, value and description; a custom_id
BUTTON_LABEL = 80
SECONDARY, DANGER = 2, 4  # button styles

_MARKDOWN = re.compile(r"([\\*_~`|>#\[\]()\-:])")
_MENTION = re.compile(r"@(?=\S)")
_LINK = re.compile(r"https?://\S+")
_TEXT_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_LINE_START = re.compile(r"(?m)^(\s*)([#>-])")
# Discord's angle forms: users, roles, channels, commands, emoji, timestamps.
_ANGLE = re.compile(r"<(?=[@#&:/]|a:|t:)")


def defuse(text: str) -> str:
    """Break @mentions and <@id> forms with a zero-width space, for plain-text fields."""
    return _ANGLE.sub("<\u200b", _MENTION.sub("@\u200b", text))


def escape(text: str) -> str:
    """Escape Markdown and defuse mentions, for fields Discord renders as Markdown."""
    return defuse(_MARKDOWN.sub(r"\\\1", text))


def escape_text(text: str) -> str:
    """A message's text (replies, notices), feed titles in it included, shown as typed:
    the characters that make Markdown anywhere (emphasis, code, spoilers, the brackets of
    a masked link) and those that do at a line's start (headings, quotes, lists) are
    escaped, and mentions defused; its links stay clickable (Markdown cannot start inside
    one, and no masked link can form around one once the brackets are escaped)."""
    shown, last = [], 0
    for link in _LINK.finditer(text):
        shown += [_plain(text[last : link.start()]), defuse(link.group())]
        last = link.end()
    return "".join([*shown, _plain(text[last:])])


def _plain(text: str) -> str:
    return defuse(_LINE_START.sub(r"\1\\\2", _TEXT_MARKDOWN.sub(r"\\\1", text)))


def embed_for(item: DigestItem, style: Style = STANDARD) -> dict[str, Any]:
    """A story as an embed in the channel's style: title, link, summary and the line of
    source, time and other outlets (standard); without the summary (compact); the linked
    title alone (headlines); or the channel's template filled in, as the description."""
    if style.name == "template":
        text = fill(
            style.template,
            template_values(item),
            value=_template_value,
            literal=defuse,
            limit=DESCRIPTION,
        )
        return {"description": text or "…"}
    lines = (
        [fit(item.summary, DESCRIPTION - 1500, escape)]
        if item.summary.strip() and style.name == "standard"
        else []
    )
    named, more = item.other_outlets()
    if named:
        names = []
        for copy in named:
            label = fit(copy.source, 60, escape)
            target = safe_url(copy.url).replace(")", "%29")
            names.append(f"[{label}]({target})" if target and len(target) <= 500 else label)
        lines.append("also: " + ", ".join(names) + (f" +{more}" if more else ""))
    embed: dict[str, Any] = {
        "title": fit(item.title, EMBED_TITLE, escape) or "(untitled)",
        "description": "\n".join(lines),
        "footer": {"text": fit(item.byline(when(item.published)), FOOTER, defuse)},
    }
    url = safe_url(item.url)
    if url:
        embed["url"] = url
    if item.published:
        embed["timestamp"] = item.published.isoformat()
    if not embed["description"] or style.name == "headlines":
        del embed["description"]
    if style.name == "headlines":
        del embed["footer"]
    return embed


def _template_value(name: str, raw: str, budget: int) -> str:
    """One placeholder's value as Discord Markdown: escaped and defused, the link bare
    (Discord links it), or nothing when it does not fit its budget."""
    if name == "link":
        target = defuse(safe_url(raw))
        return target if len(target) <= budget else ""
    return fit(raw, budget, escape)


def embed_text(embed: dict[str, Any]) -> int:
    """Characters Discord counts toward the 6000 of a message's embeds."""
    return (
        len(embed.get("title", ""))
        + len(embed.get("description", ""))
        + len(embed.get("footer", {}).get("text", ""))
    )


def render_discord_text(text: str) -> dict[str, Any]:
    """A create-message body for text (a notice, a quiet digest, a reply): Markdown in it
    is shown as typed, never obeyed (`escape_text`)."""
    return {"content": fit(text, CONTENT, escape_text) or "…", "allowed_mentions": NO_MENTIONS}


def render_discord_reply(reply: Reply) -> dict[str, Any]:
    """A `/news` reply: its text, then as many of its stories as one message holds."""
    embeds: list[dict[str, Any]] = []
    used = 0
    for item in reply.items:
        embed = embed_for(item, reply.style)
        size = embed_text(embed)
        if len(embeds) >= MAX_EMBEDS or used + size > MESSAGE_EMBED_TEXT:
            break
        embeds.append(embed)
        used += size
    return {**render_discord_text(reply.text), "embeds": embeds}


def story_buttons(story_id: str) -> dict[str, Any]:
    """An action row with the story's five actions as buttons."""
    return {
        "type": 1,
        "components": [
            {
                "type": 2,
                "style": DANGER if action == "mute" else SECONDARY,
                "label": label[:BUTTON_LABEL],
                "custom_id": action_value(action, story_id),
            }
            for action, label in ACTIONS.items()
        ],
    }


def story_select(items: list[DigestItem]) -> dict[str, Any]:
    """An action row with one select of the message's stories ("Pick a story…"); picking
    one answers with that story's buttons."""
    options = [
        {
            "label": fit(item.title, OPTION_TEXT, defuse) or "(untitled)",
            "value": item.story_id,
            "description": fit(f"{item.source} · {when(item.published)}", OPTION_TEXT, defuse),
        }
        for item in items[:SELECT_OPTIONS]
    ]
    select = {"type": 3, "custom_id": PICK, "placeholder": "Pick a story…", "options": options}
    return {"type": 1, "components": [select]}


def render_discord(digest: Digest) -> list[dict[str, Any]]:
    """Create-message bodies, split across messages as needed. Their stories' actions go
    under each: buttons under a message of one story (an instant post), a "Pick a story…"
    select under one of several (a digest)."""
    heading = fit(digest.heading, 500, escape)
    items = list(digest.items)
    payloads = _split(heading, [embed_for(item, digest.style) for item in items], digest.more)
    start = 0
    for payload in payloads:
        shown = [i for i in items[start : start + len(payload["embeds"])] if i.story_id]
        start += len(payload["embeds"])
        if len(shown) == 1 and len(items) == 1:
            payload["components"] = [story_buttons(shown[0].story_id)]
        elif shown:
            payload["components"] = [story_select(shown)]
    return payloads


def _split(heading: str, embeds: list[dict[str, Any]], more: int) -> list[dict[str, Any]]:
    """Messages of at most 10 embeds and 6,000 characters each, the heading on the first."""
    messages: list[list[dict[str, Any]]] = [[]]
    used = 0
    for embed in embeds:
        size = embed_text(embed)
        if len(messages[-1]) >= MAX_EMBEDS or used + size > MESSAGE_EMBED_TEXT:
            messages.append([])
            used = 0
        messages[-1].append(embed)
        used += size
    payloads: list[dict[str, Any]] = []
    for number, chunk in enumerate(messages, start=1):
        content = f"**{heading}**" if number == 1 else ""
        if number == len(messages) and more:
            content = (content + "\n" if content else "") + f"…and {more} more"
        payloads.append(
            {"content": clip(content, CONTENT), "embeds": chunk, "allowed_mentions": NO_MENTIONS}
        )
    return payloads


def alert_embed(shown: AlertItem) -> dict[str, Any]:
    """A story an alert matched: its summary with the matched words in bold."""
    item = shown.item
    summary = marked(item.summary, shown.words, DESCRIPTION - 400, escape, lambda r: f"**{r}**")
    found = ", ".join(f"**{escape(w)}**" for w in sorted(shown.words))
    about = f"alert {shown.alert_id}" + (f" {shown.query!r}" if shown.query else "")
    embed: dict[str, Any] = {
        "title": fit(item.title, EMBED_TITLE, escape) or "(untitled)",
        "description": f"{summary}\nmatched: {clip(found, 300)}".strip(),
        "footer": {"text": fit(f"{item.source} · {about}", FOOTER, defuse)},
    }
    url = safe_url(item.url)
    if url:
        embed["url"] = url
    if item.published:
        embed["timestamp"] = item.published.isoformat()
    return embed


def render_discord_alert(message: AlertMessage) -> list[dict[str, Any]]:
    """Create-message bodies: the heading, then one embed per match, split as needed."""
    return _split(
        fit(message.heading, 500, escape), [alert_embed(shown) for shown in message.items], 0
    )
