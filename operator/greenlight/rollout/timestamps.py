"""RFC 3339 timestamps as stored in status: always UTC, parsed leniently (a `Z` suffix too)."""

from __future__ import annotations

import datetime


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str | None) -> datetime.datetime | None:
    """The moment `text` names, or None when it is empty or not a timestamp."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def seconds_since(text: str | None, now: datetime.datetime) -> float | None:
    moment = parse_time(text)
    return None if moment is None else (now - moment).total_seconds()
