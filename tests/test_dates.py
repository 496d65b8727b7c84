"""Publication dates: full dates only, never invented."""
from __future__ import annotations

import datetime as dt

import pytest

from transforms.dates import date_from_path, parse_date_text

TODAY = dt.date(2026, 1, 1)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-09-02", dt.date(2025, 9, 2)),
        ("2025-09-02T10:30:00Z", dt.date(2025, 9, 2)),
        ("September 3, 2025", dt.date(2025, 9, 3)),
        ("3 September 2025", dt.date(2025, 9, 3)),
        ("Sep 3 2025", dt.date(2025, 9, 3)),
        ("2025-13-45", None),  # not a date
        ("September 2025", None),  # no day: do not invent the 1st
        ("3 September", None),  # no year
        ("Monday", None),
        ("", None),
        ("../../etc", None),
        ("2027-01-01", None),  # in the future of TODAY
        ("1066-10-14", None),  # before MIN_YEAR
    ],
)
def test_parse_date_text(text, expected):
    assert parse_date_text(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "path, expected",
    [
        ("s3://news/2025-09-02/a.txt", dt.date(2025, 9, 2)),
        ("/data/2025/09/02/a.txt", dt.date(2025, 9, 2)),
        ("/data/2024-01-01/2025_09_02_a.txt", dt.date(2025, 9, 2)),  # the closest to the file wins
        ("/data/2025/13/02/a.txt", None),
        ("/data/000_a4e4d0ae175f7d74.txt", None),
        ("/data/20250902/a.txt", None),  # bare digit runs are ids, not dates
        ("/data/12025-09-021/a.txt", None),
    ],
)
def test_date_from_path(path, expected):
    assert date_from_path(path, today=TODAY) == expected
