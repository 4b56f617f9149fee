"""The `/news` command grammar: text in, a checked command out (no I/O).

Slack passes the command text as typed (with escaping on, links arrive as ``<https://…>``
and channels as ``<#C…|name>``); Discord's options are joined back into the same text by
its adapter; the console passes the line. All three end here, so a command means the same
everywhere and a mistake gets the same answer: what is wrong and how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from handlers.alerts import AlertError, parse_alert_query, parse_duration
from handlers.channels import MODES, Mode
from handlers.query import MAX_QUERY, QueryError, parse_query
from handlers.schedule import EXAMPLES, Schedule, ScheduleError, parse_schedule

Name = Literal[
    "help", "subscribe", "unsubscribe", "feeds", "digest", "schedule", "latest", "search",
    "summarize", "alert", "mode", "filter", "quiet", "breaking", "trending", "rank", "style",
    "dashboard",
]  # fmt: skip
AlertAction = Literal["add", "list", "remove", "pause", "resume"]
DEFAULT_LATEST = 5
MAX_LATEST = 20
BREAKING_OUTLETS = 4  # `breaking on` alone: 4 outlets …
BREAKING_MINUTES = 60  # … within 60 minutes of the story's first copy
MAX_BREAKING_OUTLETS = 50
MAX_BREAKING_MINUTES = 24 * 60
DEFAULT_TRENDING_HOURS = 6
MAX_TRENDING_HOURS = 7 * 24
RANKS = ("time", "coverage", "smart")
STYLES = ("compact", "standard", "headlines")
TEMPLATE_MAX = 500

USAGE: dict[str, str] = {
    "subscribe": "/news subscribe <feed url> [digest|instant]",
    "unsubscribe": "/news unsubscribe <feed id or url>",
    "feeds": "/news feeds",
    "digest": "/news digest",
    "schedule": "/news schedule [<when> [timezone]]",
    "latest": f"/news latest [n]  (1–{MAX_LATEST}, default {DEFAULT_LATEST})",
    "search": "/news search <query>",
    "summarize": "/news summarize <article url>",
    "alert": "/news alert add <query> [in #channel] | list | remove <id> | pause <30m|2h|3d|1w> "
    "| resume",
    "mode": "/news mode <feed> digest|instant",
    "filter": "/news filter <feed> <query> | /news filter <feed> off "
    "| /news filter <feed> test <query>",
    "quiet": "/news quiet <message> | /news quiet off",
    "breaking": "/news breaking on [outlets] [minutes] | /news breaking off",
    "trending": f"/news trending [hours]  (1–{MAX_TRENDING_HOURS}, "
    f"default {DEFAULT_TRENDING_HOURS})",
    "rank": "/news rank time|coverage|smart",
    "style": "/news style compact|standard|headlines | /news style template <text> "
    "| /news style test",
    "dashboard": "/news dashboard",
    "help": "/news help",
}
QUIET_MAX = 300

HELP = f"""\
newsbot commands:
  /news subscribe <feed url> [digest|instant]  follow a feed here (digest is the default)
  /news unsubscribe <feed id or url>           stop following a feed (ids as in /news feeds)
  /news feeds                                  this channel's feeds, their health and schedule
  /news digest                                 post this channel's digest now
  /news schedule [<when> [timezone]]           when digests post (alone: show it): {EXAMPLES}
  /news mode <feed> digest|instant             how one feed's stories reach this channel
  /news filter <feed> <query> | off            only stories matching the query (off: all)
  /news filter <feed> test <query>             which of the feed's last 20 stories would pass
  /news quiet <message> | off                  what an empty digest says here (off: nothing)
  /news breaking on [outlets] [minutes] | off  post a digest story at once when that many
                                               outlets carry it that soon (default 4 in 60)
  /news trending [hours]                       stories gaining the most outlets (default 6 h)
  /news rank time|coverage|smart               how digests order stories here
  /news style compact|standard|headlines       how stories look here
  /news style template <text> | test           a template of your own; preview the style
  /news dashboard                              a one-time link to newsbot's page (managers)
  /news latest [n]                             the newest stories of this channel's feeds
  /news search <query>                         search stored stories of this channel's feeds
  /news summarize <article url>                summary of one article
  /news alert add <query>                      DM me stories that match, as they arrive
  /news alert add <query> in #channel          post matches in a channel (managers)
  /news alert list | remove <id>               my alerts, with their ids; remove one
  /news alert pause <30m|2h|3d|1w> | resume    stop my alerts for a while; start them again
  /news help                                   this text
Queries: words, "exact phrases", AND, OR, NOT or -word, parentheses, and title:, source:,
author: prefixes; e.g. /news search title:"climate summit" -opinion
Subscribing, unsubscribing, the schedule, mode, filters, the quiet message, breaking news,
ranking and style are for channel managers. On a posted story, its menu (Slack) or buttons
(Discord) give a longer summary, its coverage, 👍 / 👎 and, for managers, mute."""

# Words people type for a command, in the typed grammar (Slack and the console).
ALIASES: dict[str, str] = {
    "list": "feeds",
    "sub": "subscribe",
    "add": "subscribe",
    "unsub": "unsubscribe",
    "remove": "unsubscribe",
}

MANAGER_ONLY = frozenset(
    {"subscribe", "unsubscribe", "schedule", "mode", "filter", "quiet", "dashboard"}
)
# Manager-only when they change something (alone, or `style test`, they only show it).
MANAGER_SETTINGS = frozenset({"breaking", "rank", "style"})

_ANGLE_LINK = re.compile(r"^<((?:https?|mailto):[^|>]*)(?:\|[^>]*)?>$", re.IGNORECASE)


class CommandError(ValueError):
    """A command that cannot be run as written; the message says why and how to write it."""


@dataclass(frozen=True)
class Command:
    """One parsed `/news` command; only the fields its name uses are set."""

    name: Name
    target: str = ""  # a URL, or a feed id or URL
    mode: Mode | None = None
    schedule: Schedule | None = None
    schedule_text: str = ""
    count: int = DEFAULT_LATEST
    query: str = ""
    action: AlertAction | None = None
    channel: str = ""  # a channel alert's channel id
    seconds: int = 0  # a pause
    test: bool = False  # filter test: show what the query would pass, change nothing
    setting: str = ""  # breaking on|off, a rank, a style or template|test; "" shows it
    scheme_added: bool = False  # subscribe: given without https://, which was added

    @property
    def manager_only(self) -> bool:
        if self.name == "alert":
            return bool(self.channel)  # a channel alert posts for everyone there
        if self.name in MANAGER_SETTINGS:
            return self.setting not in {"", "test"}
        return self.name in MANAGER_ONLY and not (self.name == "schedule" and not self.schedule)


# An address given without its scheme: a host name with a dot, then a path or nothing.
_HOST_FIRST = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+(?::\d+)?(?:/\S*)?$", re.I
)


def unwrap_link(token: str) -> str:
    """``<https://x|label>`` (Slack's escaped link) as ``https://x``; anything else as is."""
    found = _ANGLE_LINK.match(token)
    return found.group(1) if found else token


def _usage(name: str, problem: str) -> CommandError:
    return CommandError(f"{problem}\nusage: {USAGE[name]}")


def parse_command(text: str, *, default_zone: str = "UTC") -> Command:
    """Parse the text after `/news` (a leading ``/news`` is allowed too)."""
    words = text.strip().split(None, 1)
    if words and words[0].lower() == "/news":
        words = words[1].split(None, 1) if len(words) > 1 else []
    if not words:
        return Command("help")
    name, rest = words[0].lower(), (words[1].strip() if len(words) > 1 else "")
    name = ALIASES.get(name, name)
    if name in {"help", "feeds", "digest", "dashboard"}:
        if rest and name != "help":
            raise _usage(name, f"{name} takes nothing after it")
        return Command(name)  # type: ignore[arg-type]
    if name == "subscribe":
        return _subscribe(rest)
    if name == "unsubscribe":
        parts = rest.split()
        if len(parts) != 1:
            raise _usage(name, "say which feed to unsubscribe: its id (f3) or its URL")
        return Command("unsubscribe", target=unwrap_link(parts[0]))
    if name == "schedule":
        return _schedule(rest, default_zone)
    if name == "latest":
        return _latest(rest)
    if name == "search":
        if not rest:
            raise _usage(name, "say what to search for")
        try:
            parse_query(rest)
        except QueryError as exc:
            raise CommandError(str(exc)) from exc
        return Command("search", query=rest)
    if name == "summarize":
        parts = rest.split()
        if len(parts) != 1 or not unwrap_link(parts[0]).lower().startswith(("http://", "https://")):
            raise _usage(name, "give one article URL starting with http:// or https://")
        return Command("summarize", target=unwrap_link(parts[0]))
    if name == "alert":
        return _alert(rest)
    if name == "mode":
        parts = rest.split()
        if len(parts) != 2 or parts[1].lower() not in MODES:
            raise _usage(name, "give the feed (its id or URL), then digest or instant")
        return Command("mode", target=unwrap_link(parts[0]), mode=parts[1].lower())  # type: ignore[arg-type]
    if name == "filter":
        return _filter(rest)
    if name == "quiet":
        if not rest:
            raise _usage(name, "give the message an empty digest posts, or off")
        if len(rest) > QUIET_MAX:
            raise _usage(name, f"the message is at most {QUIET_MAX} characters")
        return Command("quiet", query="" if rest.lower() == "off" else rest)
    if name == "breaking":
        return _breaking(rest)
    if name == "trending":
        if not rest:
            return Command("trending", count=DEFAULT_TRENDING_HOURS)
        if not re.fullmatch(r"[0-9]{1,4}", rest) or not 1 <= int(rest) <= MAX_TRENDING_HOURS:
            raise _usage(name, f"hours is a number from 1 to {MAX_TRENDING_HOURS}")
        return Command("trending", count=int(rest))
    if name == "rank":
        if rest and rest.lower() not in RANKS:
            raise _usage(name, f"unknown order {rest!r}; use time, coverage or smart")
        return Command("rank", setting=rest.lower())
    if name == "style":
        return _style(rest)
    raise _unknown(name)


def _breaking(rest: str) -> Command:
    parts = rest.lower().split()
    if not parts:
        return Command("breaking")
    if parts == ["off"]:
        return Command("breaking", setting="off")
    if (
        parts[0] != "on"
        or len(parts) > 3
        or not all(re.fullmatch(r"[0-9]{1,4}", p) for p in parts[1:])
    ):
        raise _usage("breaking", "say on, optionally with outlets and minutes, or off")
    outlets = int(parts[1]) if len(parts) > 1 else BREAKING_OUTLETS
    minutes = int(parts[2]) if len(parts) > 2 else BREAKING_MINUTES
    if not 2 <= outlets <= MAX_BREAKING_OUTLETS:
        raise _usage("breaking", f"outlets is a number from 2 to {MAX_BREAKING_OUTLETS}")
    if not 1 <= minutes <= MAX_BREAKING_MINUTES:
        raise _usage("breaking", f"minutes is a number from 1 to {MAX_BREAKING_MINUTES}")
    return Command("breaking", setting="on", count=outlets, seconds=minutes * 60)


def _style(rest: str) -> Command:
    word, _, text = rest.partition(" ")
    word, text = word.lower(), text.strip()
    if not word:
        return Command("style")
    if word in STYLES or word == "test":
        if text:
            raise _usage("style", f"style {word} takes nothing after it")
        return Command("style", setting=word)
    if word == "template":
        if not text:
            raise _usage("style", "give the template, e.g. {title} ({source}) {link}")
        if len(text) > TEMPLATE_MAX:
            raise _usage("style", f"a template is at most {TEMPLATE_MAX} characters")
        return Command("style", setting="template", query=text)
    raise _usage("style", f"unknown style {word!r}; use compact, standard, headlines or template")


def _unknown(name: str) -> CommandError:
    """An unknown command: the nearest one by edit distance and its usage line, when one is
    near (a typo), else where the list is."""
    known = sorted(USAGE.keys() | ALIASES.keys())
    distance, nearest = min((_edits(name, k), k) for k in known)
    if distance <= max(1, min(2, len(name) // 3)):
        meant = ALIASES.get(nearest, nearest)
        return CommandError(
            f"unknown command {name!r}; did you mean {nearest}?\nusage: {USAGE[meant]}"
        )
    return CommandError(f"unknown command {name!r}; /news help lists the commands")


def _edits(left: str, right: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions."""
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def _filter(rest: str) -> Command:
    parts = rest.split(None, 1)
    if len(parts) != 2:
        raise _usage("filter", "give the feed (its id or URL), then a query, off, or test <query>")
    feed, query = unwrap_link(parts[0]), parts[1].strip()
    test = query.lower().startswith("test ")
    if test:
        query = query[5:].strip()
    elif query.lower() == "off":
        return Command("filter", target=feed, query="")
    try:
        parse_query(query)
    except QueryError as exc:
        raise CommandError(str(exc)) from exc
    return Command("filter", target=feed, query=query, test=test)


def _subscribe(rest: str) -> Command:
    parts = rest.split()
    if not 1 <= len(parts) <= 2:
        raise _usage("subscribe", "give the feed URL, then optionally digest or instant")
    url = unwrap_link(parts[0])
    bare = False
    if not url.lower().startswith(("http://", "https://")):
        if "://" in url or not _HOST_FIRST.match(url):
            raise _usage("subscribe", f"{url!r} is not a feed address; give one like https://…")
        url, bare = f"https://{url}", True  # feeds.example.com/rss: https is tried
    mode: Mode | None = None
    if len(parts) == 2:
        if parts[1].lower() not in MODES:
            raise _usage("subscribe", f"unknown mode {parts[1]!r}; use digest or instant")
        mode = parts[1].lower()  # type: ignore[assignment]
    return Command("subscribe", target=url, mode=mode, scheme_added=bare)


def _schedule(rest: str, default_zone: str) -> Command:
    if not rest:
        return Command("schedule")
    try:
        schedule = parse_schedule(rest, default_zone=default_zone)
    except ScheduleError as exc:
        raise _usage("schedule", str(exc)) from exc
    return Command("schedule", schedule=schedule, schedule_text=rest)


def _latest(rest: str) -> Command:
    if not rest:
        return Command("latest")
    # ASCII digits only: str.isdigit() accepts "²", and int() refuses 5,000 digits.
    if not re.fullmatch(r"[0-9]{1,4}", rest) or not 1 <= int(rest) <= MAX_LATEST:
        raise _usage("latest", f"n is a number from 1 to {MAX_LATEST}")
    return Command("latest", count=int(rest))


# "in <#C0123|news>" as Slack and Discord send a channel, or "in #news" as typed (the
# console's channels are names).
_ALERT_CHANNEL = re.compile(
    r"^(.*?)\s+in\s+(?:<#([A-Za-z0-9]+)(?:\|[^>]*)?>|#([A-Za-z0-9][\w-]{0,79}))$", re.DOTALL
)
_ALERT_ID = re.compile(r"a[0-9]{1,9}")


def _alert(rest: str) -> Command:
    action, _, argument = rest.partition(" ")
    action, argument = action.lower(), argument.strip()
    if action == "add":
        channel = ""
        found = _ALERT_CHANNEL.match(argument)
        if found:
            argument, channel = found[1].strip(), found[2] or found[3]
        try:
            parse_alert_query(argument, max_length=MAX_QUERY)
        except (AlertError, QueryError) as exc:
            raise _usage("alert", str(exc)) from exc
        return Command("alert", action="add", query=argument, channel=channel)
    if action in {"list", "resume"}:
        if argument:
            raise _usage("alert", f"alert {action} takes nothing after it")
        return Command("alert", action=action)  # type: ignore[arg-type]
    if action == "remove":
        if not _ALERT_ID.fullmatch(argument.lower()):
            raise _usage("alert", "say which alert to remove: its id, like a3 (/news alert list)")
        return Command("alert", action="remove", target=argument.lower())
    if action == "pause":
        try:
            seconds = parse_duration(argument)
        except AlertError as exc:
            raise _usage("alert", str(exc)) from exc
        return Command("alert", action="pause", seconds=seconds)
    raise _usage("alert", "say add, list, remove, pause or resume after alert")
