"""Schedules with an injected clock: wall-clock times, DST days, and every accepted form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.schedule import ScheduleError, parse_schedule


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def fires(text: str, start: datetime, count: int, **kwargs: str) -> list[datetime]:
    schedule = parse_schedule(text, **kwargs)
    moments = []
    moment = start
    for _ in range(count):
        found = schedule.next_after(moment)
        assert found is not None
        moments.append(found)
        moment = found
    return moments


def test_daily_keeps_wall_clock_time_across_spring_forward() -> None:
    # Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29.
    assert fires("daily 09:00 Europe/Berlin", utc(2026, 3, 27, 12), 3) == [
        utc(2026, 3, 28, 8),
        utc(2026, 3, 29, 7),
        utc(2026, 3, 30, 7),
    ]


def test_a_time_skipped_by_spring_forward_fires_when_the_clock_jumps() -> None:
    assert fires("daily 02:30 Europe/Berlin", utc(2026, 3, 28, 12), 2) == [
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 30, 0, 30),
    ]


def test_a_time_repeated_by_fall_back_fires_once() -> None:
    # 02:30 happens twice on 2026-10-25 in Berlin: 00:30 UTC and 01:30 UTC.
    assert fires("daily 02:30 Europe/Berlin", utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 26, 1, 30),
    ]


def test_weekdays_and_weekly() -> None:
    # 2026-11-27 is a Friday.
    assert fires("weekdays 08:30", utc(2026, 11, 27, 9), 2) == [
        utc(2026, 11, 30, 8, 30),
        utc(2026, 12, 1, 8, 30),
    ]
    assert fires("weekly mon 09:00", utc(2026, 11, 27), 2, default_zone="America/New_York") == [
        utc(2026, 11, 30, 14),
        utc(2026, 12, 7, 14),
    ]


def test_every_is_anchored_to_midnight_in_its_zone() -> None:
    assert fires("every 4h Asia/Kolkata", utc(2026, 11, 27, 0, 10), 3) == [
        utc(2026, 11, 27, 2, 30),
        utc(2026, 11, 27, 6, 30),
        utc(2026, 11, 27, 10, 30),
    ]
    assert fires("every 30m", utc(2026, 11, 27, 10, 0), 2) == [
        utc(2026, 11, 27, 10, 30),
        utc(2026, 11, 27, 11),
    ]


def test_cron_in_a_zone_across_dst() -> None:
    assert fires("0 9 * * 1-5", utc(2026, 10, 23, 12), 2, zone="Europe/Berlin") == [
        utc(2026, 10, 26, 8),
        utc(2026, 10, 27, 8),
    ]
    assert fires("*/20 * * * *", utc(2026, 11, 27, 10, 5), 2) == [
        utc(2026, 11, 27, 10, 20),
        utc(2026, 11, 27, 10, 40),
    ]


def test_off_never_fires_and_forms_round_trip() -> None:
    assert parse_schedule("off").next_after(utc(2026, 1, 1)) is None
    for text in (
        "daily 09:00 Europe/Berlin",
        "weekly fri 17:45 UTC",
        "every 4h UTC",
        "every 30m UTC",
        "0 9 * * 1-5 UTC",
        "off",
    ):
        assert (
            parse_schedule(parse_schedule(text).describe()).describe()
            == parse_schedule(text).describe()
        )


def test_zone_argument_wins_over_the_written_one() -> None:
    assert parse_schedule("daily 09:00 Asia/Tokyo", zone="Europe/Paris").zone == "Europe/Paris"
    assert parse_schedule("daily 09:00", default_zone="Asia/Tokyo").zone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("daily 25:00", "not a time of day"),
        ("weekly funday 09:00", "not a day of the week"),
        ("every 7h", "divides the day"),
        ("every soon", "interval like 4h"),
        ("daily 09:00 Mars/Olympus", "unknown time zone"),
        ("61 * * * *", "not a valid 5-field cron"),
        ("0 9 30 2 *", "never fires"),
        ("0 9 31 4,6,9,11 *", "never fires"),
        ("every " + "9" * 5000, "interval like 4h"),
        ("every " + "9" * 5000 + "h", "interval like 4h"),
        ("sometimes", "cannot read"),
    ],
)
def test_bad_schedules_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text)
    assert message in str(caught.value) and "Examples:" in str(caught.value)


def test_a_cron_on_the_29th_of_february_fires_in_the_next_leap_year() -> None:
    fire = parse_schedule("0 9 29 2 *").next_after(utc(2026, 3, 1))
    assert fire == utc(2028, 2, 29, 9)
