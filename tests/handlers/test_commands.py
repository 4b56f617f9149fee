"""The `/news` grammar: every command parses, and every mistake says how to write it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.commands import MAX_LATEST, CommandError, parse_command


@pytest.mark.parametrize("text", ["", "/news", "help", "/news help", "  HELP  "])
def test_nothing_or_help_is_help(text: str) -> None:
    assert parse_command(text).name == "help"


def test_subscribe_takes_a_url_and_an_optional_mode() -> None:
    plain = parse_command("/news subscribe https://example.com/feed.xml")
    assert (plain.name, plain.target, plain.mode) == (
        "subscribe",
        "https://example.com/feed.xml",
        None,
    )
    assert parse_command("subscribe https://example.com/f INSTANT").mode == "instant"
    assert plain.manager_only


def test_an_address_without_its_scheme_is_tried_with_https() -> None:
    command = parse_command("subscribe feeds.bbci.co.uk/news/world/rss.xml instant")
    assert command.target == "https://feeds.bbci.co.uk/news/world/rss.xml"
    assert command.scheme_added and command.mode == "instant"
    assert not parse_command("subscribe https://example.com/f").scheme_added


def test_slack_escaped_links_are_unwrapped() -> None:
    command = parse_command("subscribe <https://example.com/feed.xml|example.com/feed.xml>")
    assert command.target == "https://example.com/feed.xml"
    assert parse_command("unsubscribe <https://example.com/f>").target == "https://example.com/f"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("subscribe", "usage: /news subscribe"),
        ("subscribe not-a-url", "is not a feed address; give one like https://"),
        ("subscribe ftp://example.com/feed", "is not a feed address"),
        ("subscribe https://e.com/f weekly", "unknown mode 'weekly'"),
        ("unsubscribe", "its id (f3) or its URL"),
        ("feeds now", "feeds takes nothing"),
        ("latest 0", f"1 to {MAX_LATEST}"),
        ("latest lots", f"1 to {MAX_LATEST}"),
        ("latest ²", f"1 to {MAX_LATEST}"),
        ("latest " + "9" * 5000, f"1 to {MAX_LATEST}"),
        ("schedule every " + "9" * 5000, "interval like 4h"),
        ("search " + "(" * 247 + "x" + ")" * 247, "nests deeper than 20"),
        ("schedule hourly", "usage: /news schedule [<when> [timezone]]"),
        ("summarize file:///etc/passwd", "http:// or https://"),
        ("search", "say what to search for"),
        ("frobnicate", "unknown command 'frobnicate'"),
        ("alert", "say add, list, remove, pause or resume"),
        ("alert add", "say what the alert looks for"),
        ("alert add -sport NOT football", "needs a word to look for"),
        ("alert add the of and", "only common words"),
        ("alert add (ukraine", "is never closed"),
        ("alert remove 3", "its id, like a3"),
        ("alert pause soon", "30m, 2h, 3d or 1w"),
        ("alert pause 60w", "at most a year"),
        ("alert list all", "takes nothing"),
    ],
)
def test_mistakes_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(text)
    assert says in str(caught.value)


def test_schedule_alone_shows_it_and_anyone_may_ask() -> None:
    shown = parse_command("schedule")
    assert shown.name == "schedule" and shown.schedule is None and not shown.manager_only
    assert parse_command("schedule off").manager_only


def test_a_malformed_search_points_at_the_problem() -> None:
    with pytest.raises(CommandError) as caught:
        parse_command('search "unclosed phrase')
    assert "^" in str(caught.value) and "example" in str(caught.value)


def test_schedule_and_latest_keep_their_values() -> None:
    command = parse_command("schedule weekdays 08:30 Europe/Berlin")
    assert command.schedule is not None and command.schedule.zone == "Europe/Berlin"
    assert parse_command("schedule daily 07:00", default_zone="Asia/Tokyo").schedule.zone == (  # type: ignore[union-attr]
        "Asia/Tokyo"
    )
    assert parse_command("latest").count == 5
    assert parse_command("latest 12").count == 12
    assert not parse_command("latest").manager_only


@given(st.text(max_size=200))
def test_any_text_parses_or_gives_a_command_error(text: str) -> None:
    try:
        command = parse_command(text)
    except CommandError as exc:
        assert str(exc)
    else:
        assert command.name


def test_alert_commands_read_as_written() -> None:
    added = parse_command('alert add "interest rates" -mortgage')
    assert (added.action, added.query, added.channel) == ("add", '"interest rates" -mortgage', "")
    assert not added.manager_only, "a personal alert is anyone's"
    channel = parse_command("alert add ukraine ceasefire in <#C0123|news>")
    assert (channel.query, channel.channel) == ("ukraine ceasefire", "C0123")
    assert channel.manager_only, "a channel alert posts for everyone there"
    assert parse_command("alert remove A7").target == "a7"
    assert parse_command("alert pause 2h").seconds == 7200
    assert parse_command("alert pause 1w").seconds == 7 * 86400
    assert parse_command("alert resume").action == "resume"


@pytest.mark.parametrize(
    ("typed", "name", "target"),
    [
        ("list", "feeds", ""),
        ("sub https://example.com/feed", "subscribe", "https://example.com/feed"),
        ("add https://example.com/feed", "subscribe", "https://example.com/feed"),
        ("unsub f3", "unsubscribe", "f3"),
        ("remove f3", "unsubscribe", "f3"),
    ],
)
def test_the_words_people_type_for_commands(typed: str, name: str, target: str) -> None:
    command = parse_command(typed)
    assert (command.name, command.target) == (name, target)


@pytest.mark.parametrize(
    ("typed", "meant", "usage"),
    [
        ("serch x", "search", "/news search <query>"),
        ("sbuscribe https://a.example", "subscribe", "/news subscribe <feed url>"),
        ("lates", "latest", "/news latest [n]"),
        ("unsubscrib f3", "unsubscribe", "/news unsubscribe <feed id or url>"),
    ],
)
def test_a_typo_gets_the_nearest_command_and_its_usage_only(
    typed: str, meant: str, usage: str
) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(typed)
    message = str(caught.value)
    assert f"did you mean {meant}?" in message and usage in message
    assert "newsbot commands:" not in message and len(message.splitlines()) == 2


def test_an_unknown_word_far_from_every_command_points_to_help() -> None:
    with pytest.raises(CommandError, match="/news help lists the commands"):
        parse_command("frobnicate")


@pytest.mark.parametrize(
    ("typed", "channel"),
    [
        ("alert add ukraine ceasefire in #main", "main"),
        ("alert add ukraine ceasefire in #world-news", "world-news"),
        ("alert add ukraine ceasefire in <#C0123|news>", "C0123"),
        ("alert add ukraine ceasefire in <#112233>", "112233"),
    ],
)
def test_alert_in_a_channel_is_a_channel_on_every_platform(typed: str, channel: str) -> None:
    command = parse_command(typed)
    assert (command.query, command.channel) == ("ukraine ceasefire", channel)
    assert command.manager_only
