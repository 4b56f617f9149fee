"""Digest schedules: when a channel's next digest is due, correct across DST changes.

Accepted forms, each optionally followed by an IANA time zone (else the default one):

    daily 09:00 Europe/Berlin     weekdays 08:30     weekly mon 09:00
    every 4h  (every 30m, every 2h …; anchored to midnight in the schedule's zone)
    0 9 * * 1-5   (a 5-field cron expression)
    off

Times are wall-clock times in the schedule's zone. A time that does not exist on a
spring-forward day fires at the same moment the clock skips to (02:30 becomes 03:30); a
time that happens twice on a fall-back day fires once, the first time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

EXAMPLES = "daily 09:00 Europe/Berlin, weekdays 08:30, weekly mon 09:00, every 4h, 0 9 * * 1-5, off"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_EVERY = re.compile(r"^(\d{1,5})\s*(m|min|h|hr|hours?|minutes?)$")
_SEARCH_DAYS = 400
# A cron schedule must fire within this many years of any moment (Feb 29 fires every 4).
_CRON_HORIZON_YEARS = 5
_ZONE_NAME = re.compile(r"^(?:UTC|GMT|[A-Z][A-Za-z_]+(?:/[A-Za-z0-9_+-]+)+)$")


class ScheduleError(ValueError):
    """A schedule that cannot be read; the message shows the accepted forms."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}. Examples: {EXAMPLES}")


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule. `kind` is daily, weekdays, weekly, every, cron or off."""

    kind: str
    zone: str = "UTC"
    at: time = time(9, 0)
    weekday: int = 0
    every: timedelta = timedelta(hours=24)
    cron: str = ""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def describe(self) -> str:
        """The schedule written back in the accepted form."""
        clock = self.at.strftime("%H:%M")
        if self.kind == "off":
            return "off"
        if self.kind == "daily":
            text = f"daily {clock}"
        elif self.kind == "weekdays":
            text = f"weekdays {clock}"
        elif self.kind == "weekly":
            text = f"weekly {DAYS[self.weekday]} {clock}"
        elif self.kind == "every":
            minutes = int(self.every.total_seconds() // 60)
            text = f"every {minutes // 60}h" if minutes % 60 == 0 else f"every {minutes}m"
        else:
            text = self.cron
        return f"{text} {self.zone}"

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (aware), in UTC; None when off."""
        if self.kind == "off":
            return None
        if moment.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        local = moment.astimezone(self.tz)
        if self.kind == "cron":
            return self._next_cron(moment, local)
        day = local.date() - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            for candidate in self._times_on(day):
                fire = _at(day, candidate, self.tz)
                if fire > moment:
                    return fire.astimezone(UTC)
            day += timedelta(days=1)
        return None

    def _times_on(self, day: date) -> list[time]:
        if self.kind == "daily":
            return [self.at]
        if self.kind == "weekdays":
            return [self.at] if day.weekday() < 5 else []
        if self.kind == "weekly":
            return [self.at] if day.weekday() == self.weekday else []
        step = int(self.every.total_seconds() // 60)
        return [time(m // 60, m % 60) for m in range(0, 24 * 60, step)]

    def _next_cron(self, moment: datetime, local: datetime) -> datetime | None:
        # croniter steps through naive wall-clock times; each is then placed in the zone.
        start = (local - timedelta(hours=3)).replace(tzinfo=None, second=0, microsecond=0)
        iterator = croniter(self.cron, start)
        for _ in range(5000):
            try:
                candidate: datetime = iterator.get_next(datetime)
            except CroniterError:  # an expression with no date left (30 Feb)
                return None
            fire = _at(candidate.date(), candidate.time(), self.tz)
            if fire > moment:
                return fire.astimezone(UTC)
        return None


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The moment a wall clock in `tz` shows `clock` on `day` (first time; gaps skip ahead)."""
    naive = datetime.combine(day, clock)
    aware = naive.replace(tzinfo=tz, fold=0)
    # In a spring-forward gap, fold=0 gives a time that does not exist; round-tripping
    # through UTC lands on the real moment the clock jumped to.
    return aware.astimezone(UTC).astimezone(tz)


def _check_fires(schedule: Schedule) -> None:
    """Refuse a cron expression that never fires (`0 9 30 2 *`) or fires only rarely."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fire = schedule.next_after(start)
    if fire is None or fire - start > timedelta(days=366 * _CRON_HORIZON_YEARS):
        raise ScheduleError(
            f"{schedule.cron!r} never fires (no such date within {_CRON_HORIZON_YEARS} years)"
        )


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r} (use a name like Europe/Berlin)") from None
    return name


def _clock(text: str) -> time:
    match = _CLOCK.match(text)
    if not match:
        raise ScheduleError(f"{text!r} is not a time of day like 09:00")
    return time(int(match[1]), int(match[2]))


def parse_schedule(text: str, *, default_zone: str = "UTC", zone: str | None = None) -> Schedule:
    """Parse a schedule; `zone` (the command's separate time zone argument) wins over one
    written in `text`, which wins over `default_zone`."""
    words = text.split()
    if not words:
        raise ScheduleError("the schedule is empty")
    written_zone = None
    if len(words) > 1 and _ZONE_NAME.match(words[-1]):
        written_zone = words.pop()
    name = _zone(zone or written_zone or default_zone)
    head = words[0].lower()
    if head == "off" and len(words) == 1:
        return Schedule("off", name)
    if head in {"daily", "weekdays"} and len(words) == 2:
        return Schedule(head, name, at=_clock(words[1]))
    if head == "weekly" and len(words) == 3:
        day = words[1].lower()[:3]
        if day not in DAYS:
            raise ScheduleError(f"{words[1]!r} is not a day of the week (mon … sun)")
        return Schedule("weekly", name, at=_clock(words[2]), weekday=DAYS.index(day))
    if head == "every":
        match = _EVERY.match(" ".join(words[1:]).lower())
        if not match or int(match[1]) == 0:
            raise ScheduleError("'every' needs an interval like 4h or 30m")
        minutes = int(match[1]) * (60 if match[2].startswith("h") else 1)
        if minutes < 5 or minutes > 24 * 60 or (24 * 60) % minutes:
            raise ScheduleError("'every' needs an interval that divides the day (5m to 24h)")
        return Schedule("every", name, every=timedelta(minutes=minutes))
    if len(words) == 5:
        expression = " ".join(words)
        if not croniter.is_valid(expression):
            raise ScheduleError(f"{expression!r} is not a valid 5-field cron expression")
        schedule = Schedule("cron", name, cron=expression)
        _check_fires(schedule)
        return schedule
    raise ScheduleError(f"cannot read the schedule {text!r}")
