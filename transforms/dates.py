"""Publication dates from text and from source paths. Never invent a date: unsure means None."""
from __future__ import annotations

import datetime as dt
import re

from dateutil import parser as date_parser

#: Dates outside this range are typos or parse accidents, not publication dates.
MIN_YEAR = 1800
_PATH_DATE = re.compile(r"(?<!\d)((?:18|19|20)\d\d)([-_/.])(0[1-9]|1[0-2])\2(0[1-9]|[12]\d|3[01])(?!\d)")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.+\-Z]*)?\s*$")


def _plausible(day: dt.date, today: dt.date | None = None) -> dt.date | None:
    today = today or dt.date.today()
    if day.year < MIN_YEAR or day > today + dt.timedelta(days=1):
        return None
    return day


def parse_date_text(text: str, today: dt.date | None = None) -> dt.date | None:
    """A full calendar date (year, month and day all present) from a date string, else None."""
    text = text.strip()
    if not text:
        return None
    iso = _ISO_DATE.match(text)
    if iso:
        try:
            return _plausible(dt.date(*map(int, iso.groups())), today)
        except ValueError:
            return None
    # Parse twice with different defaults: any component the string lacks shows up as a
    # difference, and then the string was not a full date.
    try:
        first = date_parser.parse(text, default=dt.datetime(2000, 1, 1), fuzzy=False)
        second = date_parser.parse(text, default=dt.datetime(2001, 2, 2), fuzzy=False)
    except (ValueError, OverflowError):
        return None
    if first.date() != second.date():
        return None
    return _plausible(first.date(), today)


def date_from_path(path: str, today: dt.date | None = None) -> dt.date | None:
    """The last valid date in a path: ``.../2025-09-02/...`` or ``.../2025/09/02/...``.

    A separator is required: bare digit runs (``20250902``) occur in ids and hashes too.
    """
    for match in reversed(list(_PATH_DATE.finditer(path))):
        year, _, month, day = match.groups()
        try:
            found = _plausible(dt.date(int(year), int(month), int(day)), today)
        except ValueError:
            continue
        if found:
            return found
    return None
