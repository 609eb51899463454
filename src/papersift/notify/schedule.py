"""Digest periods, pure: which period is due for a user's frequency, hour and time zone.

A daily digest's period is the local calendar day ("2026-12-05"), due from ``hour`` that day; a
weekly digest's period is the ISO week ("2026-W49"), due from ``hour`` on its Monday. The period
due at an instant is the one whose start is the latest scheduled moment at or before it: a sender
that was down for three days sends one digest (today's), never three.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

FREQUENCIES = ("daily", "weekly")


@dataclass(frozen=True)
class Period:
    key: str  # stored in digest_sends.period
    frequency: str
    start: datetime  # aware, in the user's zone: the moment it became due
    label: str  # for subjects: "Saturday, December 5, 2026" / "week of December 1, 2026"


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError with a clear message when unknown."""
    try:
        if name not in _zones():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or "
                         "America/New_York") from None


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_names() -> list[str]:
    return sorted(_zones())


def _local_start(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """``hour``:00 on ``day`` in ``tz`` (a time skipped by a DST change resolves forward, fold=0)."""
    return datetime.combine(day, time(hour), tzinfo=tz)


def due_period(frequency: str, hour: int, tz_name: str, at: datetime | None = None) -> Period:
    """The period whose digest is due at ``at`` (aware, or naive UTC; default now)."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")
    if not 0 <= hour <= 23:
        raise ValueError("hour must be 0-23")
    tz = zone(tz_name)
    now = at or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(tz)
    if frequency == "daily":
        day = local.date()
        if _local_start(day, hour, tz) > now:
            day -= timedelta(days=1)
        return Period(day.isoformat(), "daily", _local_start(day, hour, tz),
                      f"{day:%A}, {day:%B} {day.day}, {day.year}")
    monday = local.date() - timedelta(days=local.weekday())
    if _local_start(monday, hour, tz) > now:
        monday -= timedelta(days=7)
    year, week, _ = monday.isocalendar()
    return Period(f"{year}-W{week:02d}", "weekly", _local_start(monday, hour, tz),
                  f"week of {monday:%B} {monday.day}, {monday.year}")


def period_length(frequency: str) -> timedelta:
    return timedelta(days=7 if frequency == "weekly" else 1)
