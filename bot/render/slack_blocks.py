"""Slack Block Kit messages for a digest, within every Slack limit for any input.

Limits (Block Kit reference): at most 50 blocks; section text 3000; header 150 and
plain_text only; context at most 10 elements; all block text together about 11,000 (Slack
rejects more with msg_blocks_too_long, so newsbot keeps under 10,000). Every message
carries a top-level `text` fallback and turns unfurling off. Feed text is escaped (& < >),
which also keeps a feed from writing <!channel> or <@U…>.
"""

from __future__ import annotations

from typing import Any

from bot.render.styled import template_values
from bot.render.text_limits import clip, fit, marked, safe_url, when
from handlers.alerts import AlertItem, AlertMessage
from handlers.digest import Digest
from handlers.reply import Reply
from handlers.story import DigestItem
from handlers.story_actions import ACTIONS, PREFIX, action_value
from handlers.styles import STANDARD, Style, fill

MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
CONTEXT_ELEMENTS = 10
MESSAGE_TEXT = 10_000
TITLE = 300
SUMMARY = 1500
CONTEXT_TEXT = 300
OUTLET = 60  # characters of an outlet's name in the also line

OPTION_TEXT = 75  # an overflow option's text
STORY_ACTIONS = f"{PREFIX}:story"  # the overflow's action_id (unique within its block)

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three control characters, as its docs say to escape them."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _target(url: str) -> str:
    """A URL as Slack's link markup may hold it ("" when it is not http or https)."""
    return safe_url(url).replace("|", "%7C").replace("<", "%3C").replace(">", "%3E")


def link(url: str, text: str) -> str:
    target = _target(url)
    label = escape(text)
    return f"<{target}|{label}>" if target else label


def _mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


def story_menu(story_id: str) -> Block:
    """The story's actions as an overflow menu: the section's accessory, so it costs no
    block, and exactly the five actions (an overflow holds at most five options)."""
    return {
        "type": "overflow",
        "action_id": STORY_ACTIONS,
        "options": [
            {
                "text": {"type": "plain_text", "emoji": True, "text": label[:OPTION_TEXT]},
                "value": action_value(action, story_id),
            }
            for action, label in ACTIONS.items()
        ],
    }


def story_blocks(
    item: DigestItem, *, actions: bool = False, style: Style = STANDARD
) -> list[Block]:
    """A story in the channel's style: a section (linked title, and the summary in the
    standard style) and a context line (source, time, other copies), but for headlines (the
    section alone) and a template (the section, filled in); with `actions`, the section
    carries the story's actions menu."""
    title = f"*{link(item.url, clip(item.title, TITLE) or '(untitled)')}*"
    if len(title) > SECTION_TEXT // 2:  # an absurdly long URL: show the title unlinked
        title = f"*{fit(item.title or '(untitled)', TITLE, escape)}*"
    text = title
    if style.name == "template":
        text = fill(
            style.template,
            template_values(item),
            value=_template_value,
            literal=escape,
            limit=SECTION_TEXT,
        )
    elif style.name == "standard":
        summary = fit(item.summary, min(SUMMARY, SECTION_TEXT - len(title) - 1), escape)
        text = f"{title}\n{summary}" if summary else title
    section: Block = {
        "type": "section",
        "block_id": f"story-{item.id}"[:255],
        "text": _mrkdwn(text or " "),
    }
    if actions and item.story_id:
        section["accessory"] = story_menu(item.story_id)
    if style.name in {"headlines", "template"}:
        return [section]
    elements = [_mrkdwn(fit(item.byline(when(item.published)), CONTEXT_TEXT, escape))]
    named, more = item.other_outlets()
    if named:
        tail = f" +{more}" if more else ""
        linked = ", ".join(link(c.url, clip(c.source, OUTLET)) for c in named)
        if len(linked) + len(tail) + 6 > CONTEXT_TEXT:  # long links: the names alone
            linked = ", ".join(escape(clip(c.source, OUTLET)) for c in named)
        elements.append(_mrkdwn(f"also: {linked}{tail}"))
    return [section, {"type": "context", "elements": elements[:CONTEXT_ELEMENTS]}]


def _template_value(name: str, raw: str, budget: int) -> str:
    """One placeholder's value as Slack mrkdwn: escaped, the link as a link (or nothing,
    when it does not fit its budget)."""
    if name == "link":
        target = _target(raw)
        return f"<{target}>" if target and len(target) + 2 <= budget else ""
    return fit(raw, budget, escape)


def block_text(block: Block) -> int:
    """Characters of text a block carries, as Slack counts toward a message's total."""
    size = len(block.get("text", {}).get("text", ""))
    return size + sum(len(e.get("text", "")) for e in block.get("elements", []))


def render_slack(digest: Digest) -> list[dict[str, Any]]:
    """`chat.postMessage` bodies (without `channel`), split across messages as needed."""
    header = {
        "type": "header",
        "text": {"type": "plain_text", "emoji": True, "text": clip(digest.heading, HEADER_TEXT)},
    }
    messages: list[list[Block]] = [[header]]
    used = block_text(header)
    for item in digest.items:
        blocks = story_blocks(item, actions=True, style=digest.style)
        size = sum(block_text(b) for b in blocks)
        if len(messages[-1]) + len(blocks) > MAX_BLOCKS - 1 or used + size > MESSAGE_TEXT:
            messages.append([])
            used = 0
        messages[-1].extend(blocks)
        used += size
    if digest.more:
        note = {"type": "context", "elements": [_mrkdwn(f"…and {digest.more} more")]}
        if len(messages[-1]) + 1 > MAX_BLOCKS:
            messages.append([])
        messages[-1].append(note)
    total = len(messages)
    return [
        {
            "text": fit(
                f"{digest.heading} ({len(digest.items)} stories"
                + (f", part {n} of {total})" if total > 1 else ")"),
                300,
                escape,
            ),
            "blocks": blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        for n, blocks in enumerate(messages, start=1)
    ]


def render_slack_reply(reply: Reply) -> dict[str, Any]:
    """A `/news` reply as a message body: its text, then its stories, within the limits."""
    text = fit(reply.text, SECTION_TEXT, escape) or " "
    blocks: list[Block] = [{"type": "section", "text": _mrkdwn(text)}]
    used = len(text)
    for item in reply.items:
        more = story_blocks(item, style=reply.style)
        size = sum(block_text(b) for b in more)
        if len(blocks) + len(more) > MAX_BLOCKS or used + size > MESSAGE_TEXT:
            break
        blocks += more
        used += size
    return {
        "text": fit(reply.text, 300, escape) or " ",
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def alert_blocks(shown: AlertItem) -> list[Block]:
    """A story an alert matched: linked title, summary with the matched words in bold, and
    a context line naming the alert and the words."""
    item = shown.item
    title = f"*{link(item.url, clip(item.title, TITLE) or '(untitled)')}*"
    if len(title) > SECTION_TEXT // 2:
        title = f"*{fit(item.title or '(untitled)', TITLE, escape)}*"
    summary = marked(item.summary, shown.words, SUMMARY, escape, lambda run: f"*{run}*")
    found = ", ".join(f"*{escape(w)}*" for w in sorted(shown.words))
    about = f"alert {shown.alert_id}" + (f" {shown.query!r}" if shown.query else "")
    context = fit(f"{item.source} · {when(item.published)} · {about}", CONTEXT_TEXT, escape)
    return [
        {
            "type": "section",
            "block_id": f"alert-{shown.alert_id}-{item.id}"[:255],
            "text": _mrkdwn(f"{title}\n{summary}" if summary else title),
        },
        {
            "type": "context",
            "elements": [_mrkdwn(context), _mrkdwn(clip(f"matched: {found}", CONTEXT_TEXT))],
        },
    ]


def render_slack_alert(message: AlertMessage) -> list[dict[str, Any]]:
    """One `chat.postMessage` body per 20 matches (a batch holds at most 10)."""
    heading = {
        "type": "header",
        "text": {"type": "plain_text", "emoji": True, "text": clip(message.heading, HEADER_TEXT)},
    }
    payloads = []
    for start in range(0, max(len(message.items), 1), 20):
        blocks = [heading]
        for shown in message.items[start : start + 20]:
            blocks += alert_blocks(shown)
        payloads.append(
            {
                "text": fit(message.heading, 300, escape),
                "blocks": blocks[:MAX_BLOCKS],
                "unfurl_links": False,
                "unfurl_media": False,
            }
        )
    return payloads
