"""Publication date and byline from the plain text of a whole news page (no markup needed).

A scraped page holds many dates: the site's clock, teaser dates, photo captions, embedded posts,
comment timestamps, copyright years, dates inside the story. The publication date is the one on
a short *date line* (a date with at most a few names, a place, a time or a "Published" cue)
standing next to where the article's prose starts: just above it under the headline, or just
after its lead. So: find the page's date lines, find where the article's prose starts (the
densest block of sentences), and take the nearest date line that is not an item of a list.
"Published" beats a plain date beats "Updated"; unsure (nothing near, ambiguous numbers, a day
after the crawl, two different days on the line) gives None.

Month and weekday names for every language come from dateparser's locale tables (dateparser
comes with trafilatura, through htmldate); the rest is plain regexes, so a page costs about half
a millisecond. The byline is read next to the date line: "By ...", "Von ...", "Par ..." with the
names cut from the outlet, role and date. Plain functions, no Beam.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from functools import lru_cache

from transforms.line_features import word_equivalents
from transforms.stoplists import resolve_stoplist
from transforms.text import SENTENCE_END, looks_like_title

#: Publication years below this are parse accidents on a web page, not publication dates.
MIN_YEAR = 1990

# ---------------------------------------------------------------------------------------------
# Month names


_ALIASES = {"no": "nb", "zh-cn": "zh-Hans", "zh-tw": "zh-Hant", "iw": "he", "in": "id", "tl": "fil"}
#: Languages whose names are read when the page's language is unknown (their conflicts dropped).
DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "sv", "nb", "da", "pl", "cs", "tr", "ru", "id")
_MONTH_KEYS = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")
_WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: English without dateparser, so the commonest case never depends on the tables being there.
_ENGLISH = {
    "date_order": "MDY",
    **{key: [key, key[:3]] for key in _MONTH_KEYS + _WEEKDAY_KEYS},
    "september": ["september", "sep", "sept"],
}


@lru_cache(maxsize=None)
def _locale(language: str) -> tuple[dict[str, int], tuple[str, ...], str]:
    """(month name -> number, weekday names, date order) of one language, from dateparser."""
    code = _ALIASES.get(language.lower(), language)
    try:
        module = __import__(f"dateparser.data.date_translation_data.{code}", fromlist=["info"])
        info = module.info
    except ImportError:  # a language dateparser has no table for (or no dateparser at all)
        info = _ENGLISH if code == "en" else {}
    months: dict[str, int] = {}
    weekdays: list[str] = []
    for table in (info, *info.get("locale_specific", {}).values()):
        for number, key in enumerate(_MONTH_KEYS, 1):
            for name in table.get(key, ()):
                name = name.lower().rstrip(".")
                # Names with digits (CJK "1月") are read by the numeric patterns instead.
                if len(name) >= 3 and not any(ch.isdigit() for ch in name):
                    months.setdefault(name, number)
        for key in _WEEKDAY_KEYS:
            weekdays += [n.lower().rstrip(".") for n in table.get(key, ()) if len(n) >= 2]
    return months, tuple(sorted(set(weekdays), key=len, reverse=True)), info.get("date_order", "")


@lru_cache(maxsize=64)
def _tables(languages: tuple[str, ...]) -> tuple[dict[str, int], tuple[str, ...], str]:
    """Month names of the page's language(s) plus English; a name two languages read as
    different months is dropped (Croatian listopad is October, Czech and Polish November)."""
    months: dict[str, int] = {}
    clash: set[str] = set()
    weekdays: set[str] = set()
    order = ""
    for lang in languages:
        names, days, lang_order = _locale(lang)
        order = order or lang_order
        weekdays.update(days)
        for name, number in names.items():
            if months.get(name, number) != number:
                clash.add(name)
            months.setdefault(name, number)
    for name in clash:
        del months[name]
    return months, tuple(sorted(weekdays, key=len, reverse=True)), order


# ---------------------------------------------------------------------------------------------
# Dates in a line

_YEAR = r"((?:19|20)\d\d)"
# A letter may be glued before the day only as the end of a longer word ("Mallorca15.04.25",
# not "v1.2.24").
# (The first digit comes before the look-behind: a pattern that starts with a digit lets the
# regex engine skip straight to digits, one that starts with a look-behind tries every position.)
_SHORT_DATE = r"(?P<a4>\d(?<![\d.:/]\d)(?:(?<![^\W\d_]\d)|(?<=[^\W\d_]{3}\d))\d?)(?P<s4>[./])(?P<b4>\d{1,2})(?P=s4)(?P<y4>\d\d)(?![\d./])"
_NUM_DATE = re.compile(
    # 2024-02-14, 2024/12/03, 2025.05.15, 2024. 5. 15.   (year first: always Y-M-D)
    r"(?<![\d.])(?P<y1>(?:19|20)\d\d)(?:(?P<s1>[-/])(?P<m1>\d{1,2})(?P=s1)(?P<d1>\d{1,2})"
    r"|\.\s?(?P<m2>\d{1,2})\.\s?(?P<d2>\d{1,2}))(?![\d/])"
    # 17.04.2024, 06. 01. 2026, 30/04/2024, 7-3-2025 (a time may be glued to the year: 202407:55)
    r"|(?<![\d.:/])(?P<a>\d{1,2})(?:(?P<dot>\.)\s?(?P<b1>\d{1,2})\.\s?|(?P<s2>[/-])(?P<b2>\d{1,2})(?P=s2))"
    r"(?P<y2>(?:19|20)\d\d)(?!\d?[/.]\d)"
    # 2025年1月13日, 2025년 5월 15일
    r"|(?P<y3>(?:19|20)\d\d)\s*[年년]\s*(?P<m3>\d{1,2})\s*[月월]\s*(?P<d3>\d{1,2})\s*[日일]"
    # 27.04.24, 11/13/19 (a two-digit year: read only before a time or after a "Published" cue;
    # dots and slashes read as in _numeric)
    r"|" + _SHORT_DATE
)
_TIME = re.compile(
    r"(?<!\d)\d{1,2}(?:[:.h]\s?\d{2}(?:[:.]\d{2})?)\s*(?:[ap]\.?\s?m\.?|uhr|h\b|hrs\b|horas?\b)?"
    r"|(?<!\d)\d{1,2}\s*(?:[ap]\.?\s?m\.?|uhr)(?![^\W\d_])|\d{1,2}\s*[時시]\s*(?:\d{1,2}\s*[分분])?",
    re.IGNORECASE,
)


@lru_cache(maxsize=64)
def _text_date_regex(languages: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, int]]:
    months, _, _ = _tables(languages)
    alternation = "|".join(re.escape(n) for n in sorted(months, key=len, reverse=True))
    # A month name is a whole word, but may be glued after a lowercase letter when it starts
    # with a capital ("Lesotho TimesNovember 21, 2025": inline elements run together).
    month = r"(?:(?<![^\W\d_])|(?<=[a-zà-ÿ])(?=[A-ZÀ-Þ]))((?i:" + alternation + r"))\.?(?![^\W\d_])"
    day = r"(?<!\d)(\d{1,2})(?:\.|st|nd|rd|th|er|º|ª)?"
    pattern = (
        # 30 août 2023, 5. Juni 2025, 25 de mayo de 2025, 20 February, 2024, 06. feb 2025
        day + r",?\s*(?:de\s+|del\s+)?" + month + r",?\s*(?:de\s+|del\s+)?" + _YEAR
        # November 19, 2019; Nov. 19, 2019; Apr 27th 2024; April 28 2023; March 7, 20247:55
        + r"|" + month + r"\s*" + day + r"(?!\d)\s*,?\s*" + _YEAR
        # 2024 m. kovo 31 d., 2024. április 28.
        + r"|(?<!\d)" + _YEAR + r"\.?\s+(?:m\.\s+)?" + month + r"\s+(\d{1,2})\b"
    )
    return re.compile(pattern), months


#: A year, or a date with a two-digit year: lines without one hold no date. (Both start with a
#: digit, "19"/"20" written as a digit then a look-behind, for the reason above.)
_YEAR_HINT = re.compile(r"\d(?:(?<=1)9|(?<=2)0)\d\d|\d(?<![\d.:/]\d)\d?([./])\d{1,2}\1\d\d(?![\d./])")
#: A time right after a two-digit-year date: "27.04.24 um 07:39", "05.08.24 kl. 14:47".
_TIME_AFTER = re.compile(
    r"\s*[,|·•–-]?\s*(?:(?:um|kl|klo|à|at|alle|a las|o)\.?\s+)?\d{1,2}[:.h]\d\d(?::\d\d)?(?![.\d])"
    r"(?!\s*(?:min|sek|sec|%|€|\$|£|eur|euro|usd|chf|kr)(?![^\W\d_]))",  # not a duration, a price, a split time
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]{3,}")


def _camel_tail(word: str) -> str:
    """'TimesNovember' -> 'november': a capitalised word glued after another one."""
    for k in range(len(word) - 1, 0, -1):
        if word[k].isupper() and word[k - 1].islower():
            return word[k:].lower()
    return ""


class _Found:
    """One date in a line: the day and where it stands."""

    __slots__ = ("day", "start", "end")

    def __init__(self, day: dt.date, start: int, end: int):
        self.day, self.start, self.end = day, start, end


def _valid(year: int, month: int, day: int, latest: dt.date) -> dt.date | None:
    try:
        found = dt.date(year, month, day)
    except ValueError:
        return None
    return found if MIN_YEAR <= year and found <= latest else None


def _numeric(day_first: int, month_first: int, year: int, sep: str, order: str, latest: dt.date, english: bool = False) -> dt.date | None:
    """Read A.B.YYYY / A/B/YYYY. Dots are day-first, except on an English page (``english``:
    US sites write 11.19.2019 too); slashes, dashes and English dots follow the language's
    order unless the numbers (or a date after the crawl) settle it; unsure -> None."""
    dmy = _valid(year, month_first, day_first, latest)
    if sep == "." and not english:
        return dmy
    mdy = _valid(year, day_first, month_first, latest)
    if dmy and mdy and dmy != mdy:
        # English pages use both orders (US 7/3/2025, UK 03/07/2025): no guess there.
        if order.startswith("M") or not order:
            return None
        return dmy if order.startswith("D") else None
    return dmy or mdy


def dates_in_line(line: str, languages: tuple[str, ...], latest: dt.date) -> list[_Found]:
    """Every full calendar date (day, month and year all written) in one line, in order."""
    if not _YEAR_HINT.search(line):
        return []
    found: list[_Found] = []
    text_matches: list[re.Match[str]] = []
    _, _, order = _tables(languages)
    english = languages == ("en",)
    for m in _NUM_DATE.finditer(line):
        g = m.groupdict()
        if g["y1"]:
            day_ = _valid(int(g["y1"]), int(g["m1"] or g["m2"]), int(g["d1"] or g["d2"]), latest)
        elif g["y2"]:
            sep = g["dot"] or g["s2"]
            day_ = _numeric(int(g["a"]), int(g["b1"] or g["b2"]), int(g["y2"]), sep, order, latest, english)
        elif g["y3"]:
            day_ = _valid(int(g["y3"]), int(g["m3"]), int(g["d3"]), latest)
        elif _TIME_AFTER.match(line, m.end()) or _PUBLISHED.search(line, 0, m.start()):
            if order.startswith("Y") or (languages == DEFAULT_LANGUAGES and _valid(2000 + int(g["a4"]), int(g["b4"]), int(g["y4"]), latest)):
                continue  # 24.05.03: in Korean, Japanese, Swedish ... the year comes first
            year = 2000 + int(g["y4"])
            year = year if year <= latest.year else year - 100
            day_ = _numeric(int(g["a4"]), int(g["b4"]), year, g["s4"], order, latest, english)
        else:
            continue  # "1.2.24" alone: a version or a section as much as a day
        if day_:
            found.append(_Found(day_, m.start(), m.end()))
    regex, months = _text_date_regex(languages)
    # The month-name pattern is slow to try at every position: only lines naming a month.
    if any(w.lower() in months or (not w[1:].islower() and _camel_tail(w) in months) for w in _WORD.findall(line)):
        text_matches = list(regex.finditer(line))
    for m in text_matches:
        g = m.groups()
        if g[0]:
            day, month, year = g[0], g[1], g[2]
        elif g[3]:
            month, day, year = g[3], g[4], g[5]
        else:
            year, month, day = g[6], g[7], g[8]
        number = months.get(month.lower().rstrip("."))
        day_ = _valid(int(year), number, int(day), latest) if number else None
        if day_ and not any(f.start < m.end() and m.start() < f.end for f in found):
            found.append(_Found(day_, m.start(), m.end()))
    found.sort(key=lambda f: f.start)
    return found


# ---------------------------------------------------------------------------------------------
# Date lines

_PUBLISHED = re.compile(
    r"(?<![^\W\d_])(?:(?:first |originally )?published|posted|publication date|released|created|date published"
    r"|(?:zuerst |erstmals )?veröffentlicht|publiziert|erschienen|erstellt|publié|mis en ligne|publicad[oa]|pubblicat[oa]"
    r"|publicat|gepubliceerd|gepost|publicerad|publisert|publiceret|udgivet|offentliggjort|publikacja|opublikowano"
    r"|publikováno|zveřejněno|yayınlanma|yayın tarihi|giriş|опубликовано|дата публикации|diterbitkan|dipublikasikan"
    r"|terbit|birt)(?![^\W\d_])|公開|配信|掲載|发布|發布|입력|등록",
    re.IGNORECASE,
)
_UPDATED = re.compile(
    r"(?<![^\W\d_])(?:(?:last |zuletzt )?updated?|akt\.|modified|edited|revised|aktualisiert|geändert|mis à jour|modifié"
    r"|actualisé|actualizad[oa]|actualización|aggiornat[oa]|modificat[oa]|modifica|atualizad[oa]|bijgewerkt"
    r"|gewijzigd|uppdaterad|oppdatert|opdateret|aktualizacja|zaktualizowano|aktualizováno|güncelleme|güncellendi"
    r"|обновлено|обновлен[оа]?|diperbarui|uppfært|cập nhật)(?![^\W\d_])|更新|수정|업데이트",
    re.IGNORECASE,
)

_ZONE = re.compile(r"\b(?:GMT|UTC)\s?[+-−]?\s?\d{0,2}(?::?\d\d)?\b|\b(?:[A-Z]{1,3}[SD]?T|MES?Z|CES?T|EES?T|WES?T)\b")
_FILLER = re.compile(
    r"(?<![^\W\d_])(?:am|um|at|on|le|la|à|kl|klo|de|del|el|il|alle|the|by|von|par|por|door|av|af|di|da|du|a|às"
    r"|uhr|h|hrs|min|mins|minutes?|minuten|minuti|minutos?|read|reading|time|lesezeit|lesedauer|lectura|lettura"
    r"|stand|date|datum|fecha|data|ago|vor|stunden?|hours?|kommentare?|comments?|teilen|share)(?![^\W\d_])\.?"
    r"|[\d:.,/\-–—|•·()（）\[\]@+*#]+",
    re.IGNORECASE,
)


_SEPARATORS = re.compile(r"\s[-–—|/•·]\s|[|•·,;:()（）]|\s[-–—]|[-–—]\s")


def _residual(line: str, spans: list[tuple[int, int]], weekdays: tuple[str, ...]) -> tuple[str, int]:
    """What a date line says besides its dates, times, weekdays, cues and fillers, and the
    most words of it between two separators (a byline's names, not a caption's clause)."""
    parts, last = [], 0
    for start, end in spans:
        parts.append(line[last:start])
        last = end
    parts.append(line[last:])
    rest = " | ".join(parts)
    rest = _PUBLISHED.sub(" ", _UPDATED.sub(" ", _TIME.sub(" | ", _ZONE.sub(" ", rest))))
    if weekdays:
        rest = _weekday_regex(weekdays).sub(" ", rest)
    longest = max((len(_FILLER.sub(" ", seg).split()) for seg in _SEPARATORS.split(rest)), default=0)
    return " ".join(_FILLER.sub(" ", rest).split()), longest


@lru_cache(maxsize=64)
def _weekday_regex(weekdays: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<![^\W\d_])(?:" + "|".join(map(re.escape, weekdays)) + r")\.?(?![^\W\d_])", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Choosing the publication date

#: A date line says little besides its date: at most this many other words (a byline's names,
#: an outlet, a place). A sentence that mentions a date is prose, not a date line.
MAX_OTHER_WORDS = 8
MAX_LINE_CHARS = 240
#: ... and at most this many of them in a row (names; a caption's clause is longer).
MAX_CLAUSE_WORDS = 5
#: Embedded posts ("— Name (@handle) July 18, 2026") carry the post's date, not the article's.
_EMBED = re.compile(r"\(@\w+\)|^\s*[—–]\s")
_COPYRIGHT = re.compile(r"©|\(c\)|copyright|all rights reserved|alle rechte|tous droits|derechos reservados", re.IGNORECASE)


class DateLine:
    """A short line holding a date: which day it gives for publication, and how it says so."""

    __slots__ = ("index", "day", "cue", "other", "line")

    def __init__(self, index: int, day: dt.date, cue: str, other: str, line: str):
        self.index, self.day, self.cue, self.other, self.line = index, day, cue, other, line

    def __repr__(self) -> str:
        return f"DateLine({self.index}, {self.day}, {self.cue!r}, {self.other!r})"


def _read_date_line(index: int, line: str, previous: str, languages: tuple[str, ...], latest: dt.date) -> DateLine | None:
    """The line as a date line, or None when it is not one (too long, a sentence, a caption,
    a copyright, an embedded post, a range of two days).

    Each date takes the cue written before it in the line (or on a short line just above):
    "Published", "Updated" or none; the line gives its published date, else its plain one,
    else its updated one.
    """
    if len(line) > MAX_LINE_CHARS or _COPYRIGHT.search(line) or _EMBED.search(line) or _LABEL.match(line):
        return None  # ... or a source's or a photo's label ("Source: Defense Ministry, October 25, 2019")
    found = dates_in_line(line, languages, latest)
    if not found:
        return None
    _, weekdays, _ = _tables(languages)
    other, longest = _residual(line, [(f.start, f.end) for f in found], weekdays)
    words = word_equivalents(other)
    if words > MAX_OTHER_WORDS or longest > MAX_CLAUSE_WORDS or (words >= 3 and SENTENCE_END.search(line)):
        return None
    labelled, last = [], 0
    for f in found:
        before = line[last:f.start]
        if not last and not before.strip(" :") and len(previous) <= 40:
            before = previous  # "Published" / "Veröffentlicht am" on a line of its own above
        published = [m.start() for m in _PUBLISHED.finditer(before)]
        updated = [m.start() for m in _UPDATED.finditer(before)]
        if published and (not updated or published[-1] > updated[-1]):
            labelled.append(("published", f))
        else:
            labelled.append(("updated" if updated else "", f))
        last = f.end
    if len({f.day for label, f in labelled if label != "updated"}) > 1:
        return None  # two days and no "Updated" between them: a range or an issue, not one date
    for wanted in ("published", "", "updated"):
        chosen = next((f for label, f in labelled if label == wanted), None)
        if chosen:
            cue = wanted
            break
    return DateLine(index, chosen.day, cue, other, line)


#: Where the publication date may stand, in lines before and after the start of the article's
#: prose: a plain date line close around it, a "Published" one further off (some pages put the
#: headline, a picture, its caption and an author box between them). WIDE: a bare date line
#: (nothing else on it) when nothing stands closer. FAR: a "Published" line that beats the
#: "Updated" line found closer.
BEFORE, AFTER = 16, 12
BEFORE_CUED, AFTER_CUED = 40, 16
WIDE_BEFORE, WIDE_AFTER = 40, 30
FAR_BEFORE, FAR_AFTER = 60, 40
#: A "Published" line under the text: at most this many lines after its last line.
END_AFTER = 3
#: Date lines closer than this with no prose between them are one group ("Published ... /
#: Updated ..."); a line with this many other date lines around is a list item (teasers,
#: comments, a timeline).
GROUP_GAP = 3
LIST_SPAN, LIST_MIN = 10, 3
#: Lines up to this long with a numeric date count as dated for that, read or not.
SHORT_DATED = 40
#: A non-prose line inside the article costs this many words of prose (maximum-sum segment).
GAP_COST = 4.0


def _languages(language: str | None) -> tuple[str, ...]:
    if not language:
        return DEFAULT_LANGUAGES
    language = language.lower().split("-")[0].split("_")[0]
    return (language,) if language == "en" else (language, "en")


def _prose_words(line: str) -> float:
    """Word-equivalents of a prose line, else 0: a finished sentence of 10 words or more, or a
    long unfinished one that reads as text (a menu glued into one line is capitalised words)."""
    if len(line) < 40:
        return 0.0
    tokens = line.split()
    # Few spaces for the length: a script written without spaces (CJK, Thai) is counted apart.
    words = word_equivalents(line) if len(tokens) * 12 < len(line) else len(tokens)
    if words >= 10 and SENTENCE_END.search(line[-6:]):
        return words
    if words >= 25:
        lower = sum(1 for t in tokens if t[0].islower())
        cased = lower + sum(1 for t in tokens if t[0].isupper())
        if not cased or lower >= 0.3 * len(tokens) or cased < 0.5 * len(tokens):
            return words
    return 0.0


def article_start(lines: list[str]) -> int | None:
    """Index of the first prose line of the page's densest prose block (the article text)."""
    block = article_block(lines)
    return block[0] if block else None


def article_block(lines: list[str]) -> tuple[int, int] | None:
    """(first, last) prose line of the page's densest prose block, the article's text: the
    maximum-sum run where prose lines add their words and other lines cost GAP_COST."""
    return _article_block(tuple(lines))


@lru_cache(maxsize=2)  # the date, byline and headline steps ask for the same page in turn
def _article_block(lines: tuple[str, ...]) -> tuple[int, int] | None:
    best, best_start, best_end, total, start = 0.0, None, 0, 0.0, 0
    for i, line in enumerate(lines):
        if total <= 0:
            total, start = 0.0, i
        words = _prose_words(line) if len(line) >= 40 else 0.0
        total += words if words else -GAP_COST
        if total > best:
            best, best_start, best_end = total, start, i
    if best_start is None:
        return None
    while not _prose_words(lines[best_start]):
        best_start += 1
    return best_start, best_end


def date_lines(lines: list[str], language: str | None = None, crawl_date: dt.date | None = None) -> list[DateLine]:
    """Every date line of a page, in order (days after ``crawl_date`` + 1 are no dates)."""
    languages = _languages(language)
    latest = (crawl_date or dt.date.today()) + dt.timedelta(days=1)
    found = []
    # One pass over the page for lines that hold a year at all (most do not).
    text = "\n".join(lines)
    if not _YEAR_HINT.search(text):
        return found
    if text.count("\n") != len(lines) - 1:  # lines holding line breaks: one line at a time
        for i, line in enumerate(lines):
            d = _read_date_line(i, line, lines[i - 1] if i else "", languages, latest) if _YEAR_HINT.search(line) else None
            if d:
                found.append(d)
        return found
    i, pos = -1, 0
    for m in _YEAR_HINT.finditer(text):
        if i >= 0 and text.find("\n", pos, m.start()) < 0:
            continue  # another year on the same line
        i += text.count("\n", pos, m.start()) + (i < 0)
        pos = m.start()
        d = _read_date_line(i, lines[i], lines[i - 1] if i else "", languages, latest)
        if d:
            found.append(d)
    return found


class _Dated:
    """Which lines of a page are dated, for telling a list's items: its date lines, and short
    lines whose date is no date line because it reads two ways (11/12/19: November 12 or
    December 11) or is a weekday and a time ("Monday 5:30PM"; not a player's "Listen 4:32" or
    the article's own "4:07 PM EST"). Looked at only around the candidates, once a line."""

    def __init__(self, lines: list[str], found: list[DateLine], languages: tuple[str, ...]):
        self.lines, self.seen = lines, {d.index: True for d in found}
        self.weekday = _weekday_regex(_tables(languages)[1])

    def __call__(self, i: int) -> bool:
        if i not in self.seen:
            line = self.lines[i] if 0 <= i < len(self.lines) else ""
            self.seen[i] = len(line) <= SHORT_DATED and bool(
                (_YEAR_HINT.search(line) and _NUM_DATE.search(line)) or (_TIME.search(line) and self.weekday.search(line))
            )
        return self.seen[i]


def _nearest(
    candidates: list[DateLine], start: int, window: Callable[[DateLine], tuple[int, int]], dated: Callable[[int], bool] | None = None
) -> DateLine | None:
    """The date line nearest the article's start within its window (lines after the start
    count 1.5 times: the date usually precedes the text); list items never (``dated``: which
    lines count as dated for that; the candidates' own lines when not given)."""
    if dated is None:
        dated = {d.index for d in candidates}.__contains__
    best, best_key = None, None
    for d in candidates:
        r = d.index - start
        before, after = window(d)
        if not -before <= r <= after:
            continue
        near = sum(1 for j in range(d.index - LIST_SPAN, d.index + LIST_SPAN + 1) if j != d.index and dated(j))
        if near >= LIST_MIN and d.cue != "published" and not _BY.match(d.line):
            continue  # a list item: teasers, a timeline, comments
        key = -r if r <= 0 else 1.5 * r
        if best_key is None or key < best_key:
            best, best_key = d, key
    return best


def _inside_prose(lines: list[str], i: int) -> bool:
    """Prose within two lines on both sides: a date line inside the running text."""
    return any(_prose_words(lines[j]) for j in range(max(0, i - 2), i)) and any(
        _prose_words(lines[j]) for j in range(i + 1, min(len(lines), i + 3))
    )


def find_publication_date(
    lines: list[str], language: str | None = None, crawl_date: dt.date | None = None, allow_updated: bool = False
) -> tuple[dt.date, str, int] | None:
    """(date, source, line index) of the page's publication date, or None when unsure.

    source: "byline" (names on the date line), "dateline" (a place before the date) or
    "header" (a date line of its own). ``crawl_date`` rules out later dates and settles
    ambiguous numeric dates; ``language`` picks the month names (None: common languages).
    A page that shows only an "Updated" time gives None, or with ``allow_updated`` that day
    with source "updated" (the same day as the publication on most pages, not on all).
    """
    found = date_lines(lines, language, crawl_date)
    if not found:
        return None
    block = article_block(lines)
    if block is None:
        return None
    start, end = block
    dated = _Dated(lines, found, _languages(language))
    best = _nearest(found, start, lambda d: (BEFORE_CUED, AFTER_CUED) if d.cue == "published" else (BEFORE, AFTER), dated)
    if best is None:
        # Further off, only a bare date line (nothing else on it) that is the only day there
        # and does not stand inside running prose (an embedded teaser does).
        # Not after the article's text either: comments and teasers follow it.
        bare = [d for d in found if not d.other and d.cue != "updated" and d.index < end and not _inside_prose(lines, d.index)]
        best = _nearest(bare, start, lambda d: (WIDE_BEFORE, WIDE_AFTER), dated)
        if best is not None and len({d.day for d in bare if -WIDE_BEFORE <= d.index - start <= WIDE_AFTER}) > 1:
            return None
    if best is None:
        # Some sites print it under the text ("Publisert: 05.08.24 kl. 14:47"): a "Published"
        # line with nothing else on it (not "Posted by Hans: ..."), right after the text's last
        # line with no heading between (a teaser's), and no other date line below it for a while.
        below = [d for d in found if 0 < d.index - end <= LIST_SPAN]
        if len(below) != 1 or below[0].cue != "published" or below[0].other or below[0].index - end > END_AFTER:
            return None
        if any(looks_like_title(lines[j]) for j in range(end + 1, below[0].index)):
            return None
        best = below[0]
    group = [best]
    for step in (-1, 1):  # its neighbours: a "Published / Updated" pair
        k = found.index(best)
        while 0 <= k + step < len(found):
            a, b = sorted((found[k].index, found[k + step].index))
            if b - a > GROUP_GAP or any(_prose_words(lines[j]) for j in range(a + 1, b)):
                break
            k += step
            group.append(found[k])
    pick = next((d for d in group if d.cue == "published"), None) or next((d for d in group if not d.cue), best)
    if pick.cue == "updated":
        # "Updated" next to the text, "First published" further off (below the text, say).
        published = [d for d in found if d.cue == "published"]
        pick = _nearest(published, start, lambda d: (FAR_BEFORE, FAR_AFTER)) or pick
    if pick.cue == "updated":
        # Only an "Updated" time: mostly the publication day too, but it may be days later.
        return (pick.day, "updated", pick.index) if allow_updated else None
    return pick.day, _source(pick, _languages(language)), pick.index


_DATELINE = re.compile(r"^\s*[A-ZÀ-Þ][^\W\d_]+(?:[ -][A-ZÀ-Þ][^\W\d_]+)?\s*(?:,|\s?[-–—])\s*\d|^\s*[A-ZÀ-Þ][^\W\d_]+,\s*[^\W\d_]")


def _source(d: DateLine, languages: tuple[str, ...]) -> str:
    """byline (names on the date line), dateline (a place and the date), header (a date line)."""
    if not d.other:
        return "header"
    if _names_on_date_line(d.line, languages):
        return "byline"
    if len(d.other.split()) <= 2 and _DATELINE.match(d.line):
        return "dateline"
    return "header"


# ---------------------------------------------------------------------------------------------
# Bylines

#: "By", "Von", "Par", "Por", "di", "door", "av", "af", "Autor:", "Autorin/Autor", "Kommentar von" ... at the
#: start of a line; "by" may be glued to the name ("bySauli Giliard").
_BY = re.compile(
    r"^\s*(?:(?i:(?:(?:ein|eine|a|une|un|el|la)\s+)?(?:kommentar|kolumne|analyse|gastbeitrag|reportage|interview|essay"
    r"|column|commentary|analysis|opinion|chronique|tribune|columna|análisis)\s+(?:von|by|de|par|di)|written by|escrito por"
    r"|texto|text|autor(?:in|a|es)?(?:\s*/\s*autor(?:in)?)?|author|authors|by|von|par|por|di|door|av|af|de)\s*:?(?:\s+|$)"
    r"|by(?=[A-Z][a-z]))"
)
#: Words of an outlet's name: "By Tom Davies, Associated Press", "Aaron Kliegman | Fox News".
_OUTLET = re.compile(
    r"(?i:(?<![^\W\d_])(?:press|news|times|post|agency|agencies|reuters|afp|ap|dpa|sda|apa|ansa|efe|staff|media|journal"
    r"|daily|herald|tribune|guardian|telegraph|gazette|zeitung|presse|agentur|nachrichten|redaktion|tv|radio|magazine?"
    r"|wire|bureau|network|online|digital|today|insider|ajans[ıi]?|agencia|agence|redacción|rédaction)(?![^\W\d_])|\.(?:com|org|net|co|de|at|ch|fr|es|it|uk)\b)"
)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|/|\s(?:and|und|et|y|e|og|och|en|i|a)\s)\s*")
#: A journalist's role after the name ("Amy Gibbons Political Correspondent", "Redakteurin").
_ROLE = re.compile(
    r"(?i:(?<![^\W\d_])(?:(?:senior |chief |political |news |staff |deputy |lifestyle |travel |parliamentary |online-"
    r"|[^\W\d_]+(?:ische|ischer|liche|licher) )*(?:reporter|correspondent|editor|writer|journalist(?:in)?|columnist"
    r"|contributor|photographer|redakteur(?:in)?|korrespondent(?:in)?|volontär(?:in)?|kolumnist(?:in)?|fotograf(?:in)?"
    r"|enviad[oa]|corresponsal|redactor(?:a)?|rédact(?:eur|rice)|envoyée?)(?:s|nen)?)(?![^\W\d_]))"
)
_ROLE_STEMS = ("report", "correspond", "editor", "writer", "journalist", "columnist", "contributor", "photograph",
               "redakt", "korrespond", "volont", "kolumn", "fotograf", "enviad", "corresponsal", "redactor", "rédact", "envoy")
#: What follows the names on a byline: an outlet, a role, a date, a button ("By Jon King, News Reporter").
_NAME_END = re.compile(
    r"@|\s(?:[|·•]|[-–—]\s)|\d|(?<![Vv]an)(?<![Vv]on)(?<![Dd]e)\s(?:The|Le|La|Der|Die)\s|(?i:\s(?:for|with|mit|avec|con)\s"
    r"|(?<![^\W\d_])(?:follow|folgen|abonnieren|suivre|seguir|twitter|facebook|linkedin|e-?mail|contact|kontakt"
    r"|profil|profile|more|mehr)(?![^\W\d_]))|" + _ROLE.pattern
)
_CAMEL = re.compile(r"(?<=[^\W\d_]{3}[a-zà-ÿ])(?=[A-ZÀ-Þ][a-zà-ÿ])")
_LABEL = re.compile(r"^\s*(?i:source|sources|quelle|fuente|fonte|photo|foto|bild|image|credit|credits|crédit|video)\s*:")
_OUTLET_SPLIT = re.compile(r"\s+[|·•]\s+")
_TRAILING = frozenset("on at am um le el il the of in".split())
_GLUED_CAPS = re.compile(r"[A-Z]{2,}[a-z]")
_PARTICLES = frozenset("von van de da del della der den di du le la bin ibn al el y zu ter dos das do af av".split())
_PARENS = re.compile(r"\([^)]*\)|\[[^]]*\]")


#: A relative time stamp at a line's end ("Kyle Wiggers 7 hours", "Name | Published 4 months
#: ago", "Dylan Jones5 hours ago"): no date, but what stands before it is a byline's names.
_AGO = re.compile(
    r"(?i:\s*[|·•]?\s*(?:(?:published|posted|updated)\s*:?\s*)?(?:\d{1,3}|(?<![^\W\d_])(?:an?|one))\s*"
    r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)(?:\s+ago)?)\s*$"
)
#: The last words `_AGO` can end a line with: a line ending otherwise is not searched.
_AGO_LAST = frozenset("ago seconds second secs sec minutes minute mins min hours hour hrs hr days day weeks week months month years year".split())
#: A role alone on a line, perhaps with its place or the journalist's handle ("Corresponsal en
#: Atenas", "News reporter @TomGillespie1"), and a line that starts with a publication cue.
_ROLE_LINE = re.compile(
    r"^\s*(?:" + _ROLE.pattern + r")(?:\s+(?:in|en|à|em|a|im|aus|from|at)\s+[A-ZÀ-Þ][^\W\d_]+(?:[ -][A-ZÀ-Þ][^\W\d_]+){0,2})?"
    r"(?:\s+@\w+)?\s*$"
)
_PHOTOGRAPHER = re.compile(r"(?i:photograph|fotograf)")
_STAMP_PREFIX = re.compile(r"(?i:\s*(?:published|posted|updated)\b)")
#: How far from the date line (or the article's start) a byline may stand, in lines.
BYLINE_BEFORE, BYLINE_AFTER = 15, 8
#: A line of names by the date line is short.
NAME_LINE_MAX = 60
#: Photo agencies and credit words: a name beside them is a photographer's.
_CREDIT = re.compile(r"(?i:(?<![^\W\d_])(?:getty|images|shutterstock|imago|alamy|epa|keystone|picture alliance|ap photo|istock)(?![^\W\d_]))")
#: Section and label words of news sites in the commonest languages: a "name" holding one is a
#: section or a tag ("Real Estate", "Climate Change", "Politik Ausland").
_SECTION_WORDS = frozenset("""
news home world politics business economy markets money finance sport sports football soccer culture arts
entertainment lifestyle travel health science tech technology climate environment weather opinion opinions
comment analysis live video videos podcast podcasts photos gallery local national international breaking
latest trending estate property education crime justice media style food fashion cars motoring
politik wirtschaft ausland inland kultur panorama meinung wissen gesellschaft regional lokales leben
noticias política economía deportes cultura opinión actualité politique économie sports monde société
notizie politica economia esteri cronaca sport
""".split())
#: Words that start a phrase after "By", never a name ("By The Numbers", "By Then it was too
#: late", "By Tuesday evening").
_NOT_A_NAME_START = frozenset("""the a an this that these those then now far monday tuesday wednesday thursday friday
saturday sunday""".split())
#: Articles that start titles and labels, never a person's name.
_ARTICLES = frozenset("the a an le la les der die das el los las il lo gli un una uno ein eine de het".split())


def _author_names(text: str, marked: bool) -> list[str] | None:
    """Author names in what a byline says after its marker; None when it does not read as names.

    Outlets, roles and dates after the names are cut; a one-word part after a comma is a place
    ("Von Johannes Ritter, Zürich"), and one-word names stand only after a marker ("Von dpa").
    """
    text = _CAMEL.sub(" | ", _PARENS.sub(" ", text))  # "Ulrich ExnerKorrespondent": glued elements
    for regex in (_NAME_END, _PUBLISHED, _UPDATED):
        end = regex.search(text)
        if end:
            text = text[: end.start()]
    words = text.split()
    while words and words[-1].lower().strip(",.:") in _TRAILING:
        words.pop()  # "By Kashmira Gander On 11/13/19"
    text = " ".join(words)
    names: list[str] = []
    for part in _NAME_SPLIT.split(text.strip(" ,;:-–—")):
        tokens = part.strip(" .,;:").split()
        if not tokens or (names and len(tokens) == 1):
            continue  # a place or an agency after the names ("Von Johannes Ritter, Zürich", ", dpa")
        if len(tokens) > 5 or len(part) > 50 or not tokens[0][0].isupper() or (not names and tokens[0].lower() in _NOT_A_NAME_START):
            return None
        if any(not (t[0].isupper() or t.lower() in _PARTICLES) or any(c.isdigit() for c in t) for t in tokens):
            return None
        if any(len(t) == 1 or _GLUED_CAPS.search(t) for t in tokens):
            return None  # "Ilanga D": an account name, not a person's; "ESTUpdated": glued labels
        if tokens[-1].lower() in _PARTICLES:
            return None  # "Zum Tod der": a particle comes before a surname, never last
        if len(tokens) % 2 == 0 and tokens[: len(tokens) // 2] == tokens[len(tokens) // 2 :]:
            tokens = tokens[: len(tokens) // 2]  # "Sean Martin Sean Martin": shown twice
        if " ".join(tokens) in names:
            continue
        if names and (part.isupper() and not names[0].isupper() or _OUTLET.search(part)):
            continue  # "David Straub, MDR THÜRINGEN", "Tom Davies, Associated Press": the outlet
        if len(tokens) == 1 and not marked:
            return None
        names.append(" ".join(tokens))
    return names or None


def find_byline(lines: list[str], language: str | None = None, date_index: int | None = None) -> tuple[str, int] | None:
    """(author names joined by ", ", line index) of the page's byline, or None when unsure.

    A byline is a line that starts "By", "Von", "Par", "Por" ... followed by names, or a date
    line that carries names ("Name / Outlet / Sep 2, 2024"), close to where the article's text
    starts (or to ``date_index``, the publication date's line, when known). Names come without
    the marker, outlet, role or date.
    """
    if date_index is not None:
        anchors = [date_index]  # the byline stands by the date line
    else:
        start = article_start(lines)
        if start is None:
            return None
        anchors = [start]
    best, best_key = None, None
    stop = resolve_stoplist(language, []) if language else frozenset()

    for i in range(max(0, min(anchors) - BYLINE_BEFORE), min(len(lines), max(anchors) + BYLINE_AFTER + 1)):
        line = lines[i]
        if len(line) > 160:
            continue
        names, strength = None, 0
        marker = _BY.match(line)
        if marker:
            rest = line[marker.end():]
            dates = dates_in_line(rest, _languages(language), dt.date.max) if _YEAR_HINT.search(rest) else []
            names, strength = _author_names(rest[: dates[0].start] if dates else rest, True), 2
            if names is None and not line[marker.end():].strip() and i + 1 < len(lines):
                names, strength = (_names_below(lines, i)[0] or None), 2
        elif (
            len(line) <= 80 and _last_word(line) in _AGO_LAST
            and (ago := _AGO.search(line)) and _is_name_line(line[: ago.start()], stop)
        ):
            names, strength = _author_names(line[: ago.start()], False), 1  # "Kyle Wiggers 7 hours"
        elif _YEAR_HINT.search(line) and date_index is not None and abs(i - date_index) <= 2:
            d = _read_date_line(i, line, "", _languages(language), dt.date.max)
            if d and d.other:
                names, strength = _names_on_date_line(line, _languages(language)), 1
        elif len(line) <= 80 and _OUTLET.search(line) and (split := _OUTLET_SPLIT.search(line)):
            # "Aaron Kliegman | Fox News": names, a separator, an outlet.
            if _OUTLET.search(line[split.end():]) and not _OUTLET.search(line[: split.start()]):
                names = _author_names(line[: split.start()], False)
                names, strength = (names if names and all(len(n.split()) >= 2 for n in names) else None), 1
        elif date_index is not None and abs(i - date_index) == 1 and (names := _name_line(lines, i, date_index, stop)):
            strength = 0.5  # the weakest sign: any other byline near the date wins
        elif (
            i + 1 < len(lines) and _marks_name_above(lines[i + 1]) and _below_text(lines, i) and _above_text(lines, i)
            and _is_name_line(line, stop) and line not in lines[:i]
        ):
            # "Tania Broughton" over "Journalist", "Chris Wilson-Smith" over "Published 3 hours ago",
            # under the headline or deck and above the article's text: as weak as a name by the
            # date line (a subject's card reads the same).
            names, strength = _author_names(line, False), 0.5
        elif len(line) <= 80 and any(map(line.lower().__contains__, _ROLE_STEMS)) and not SENTENCE_END.search(line):
            # A name with a role ("Amy Gibbons Political Correspondent", "Lucy ThorntonNews Reporter").
            unglued = _CAMEL.sub(" ", line)
            role = _ROLE.search(unglued)
            if role and role.start() > 0:
                names = _author_names(unglued[: role.start()], False)
                names, strength = (names if names and all(len(n.split()) >= 2 for n in names) else None), 1
        if not names:
            continue
        key = (-strength, min(a - i if i <= a else 1.5 * (i - a) for a in anchors))
        if best_key is None or key < best_key:
            best, best_key = (", ".join(names), i), key
    return best



def _is_name_line(line: str, stop: frozenset[str]) -> bool:
    """Only people's names (two to four words each): no outlet, label, photo credit ("Name/
    AGENCY", "Getty Images"), sentence, leading article or section word ("Real Estate"), and no
    stop word of the page's language past a name's first word ("Current Issue"; first words are
    often given names, which stop lists hold: "John", "Peter", "María")."""
    if len(line) > NAME_LINE_MAX or _CREDIT.search(line) or SENTENCE_END.search(line) or any(c in line for c in "©:/"):
        return False
    names = _author_names(line, False)  # an outlet after the names is cut ("Jane Doe, Business Insider")
    if not names or not all(2 <= len(n.split()) <= 4 and not _OUTLET.search(n) for n in names):
        return False
    words = [n.lower().split() for n in names]
    if words[0][0] in _ARTICLES or any(w in _SECTION_WORDS for n in words for w in n):
        return False
    return not any(w in stop and w not in _PARTICLES for n in words for w in n[1:])


def _name_line(lines: list[str], i: int, date_index: int, stop: frozenset[str]) -> list[str] | None:
    """The names on line ``i``, next to the date line, when it reads as a byline of its own:
    a name line whose other side is the headline, deck or text (five words or more) or a label
    ("Author of the article:"), not a photo's subject over its credit ("Donald Trump" over
    "Foto: ..."), not one of a list of names, and not a line shown earlier on the page (a tag,
    a menu entry, a breadcrumb) other than right above it."""
    line = lines[i]
    top = i  # the first of the line's copies right above it ("Name" twice: a portrait's text, then the name)
    while top and lines[top - 1] == line:
        top -= 1
    if not _is_name_line(line, stop) or line in lines[:top]:
        return None
    other = top - 1 if date_index > i else i + 1
    if not 0 <= other < len(lines):
        return None
    beyond = lines[other]
    if not (len(beyond.split()) >= 5 or beyond.rstrip().endswith(":")) or _is_name_line(beyond, frozenset()):
        return None
    if i + 1 < len(lines) and _LABEL.match(lines[i + 1]):
        return None
    return _author_names(line, False)


def _marks_name_above(line: str) -> bool:
    """A journalist's role alone on its line ("Journalist", "Corresponsal en Atenas", "News
    reporter @handle"; a photographer's is a photo's credit) or a publication time stamp
    ("Published 3 hours ago"; a bare "3 hours ago" stands under teasers too): the line above it
    is a byline's names."""
    if _ROLE_LINE.match(line):
        return not _PHOTOGRAPHER.search(line)
    return bool(_STAMP_PREFIX.match(line)) and _last_word(line) in _AGO_LAST and (ago := _AGO.search(line)) is not None and ago.start() == 0


def _above_text(lines: list[str], i: int) -> bool:
    """Line ``i`` stands above the article's prose (a card inside the text is a quoted person's)."""
    start = article_start(lines)
    return start is None or i <= start


def _below_text(lines: list[str], i: int) -> bool:
    """Line ``i`` stands under a headline, deck or label ("Author of the article:") that does
    not name it, not under a menu entry or a teaser's time stamp."""
    above = lines[i - 1] if i else ""
    # (a headline that names the person is about them: "Zum Tod von Erika Mustermann")
    return (len(above.split()) >= 5 or above.rstrip().endswith(":")) and lines[i].casefold() not in above.casefold()


def _last_word(line: str) -> str:
    words = line.split()
    return words[-1].lower().lstrip("0123456789") if words else ""


def _names_below(lines: list[str], i: int) -> tuple[list[str], int]:
    """("By" on line ``i`` on its own) the names on the next lines, one per line, and the index
    of the last of those lines (``i`` when there is none)."""
    parts: list[str] = []
    last = i
    for j in range(i + 1, min(len(lines), i + 8)):
        got = _author_names(lines[j].rstrip("0123456789,&… "), False)
        if not got or len(got) != 1 or len(got[0].split()) < 2 or _OUTLET.search(got[0]):
            break
        if got[0] not in parts:
            parts.append(got[0])
        last = j
    return parts, last


def byline_lines(lines: list[str], index: int) -> range:
    """The lines the byline `find_byline` found at ``index`` takes: that line, and the name
    lines below a "By" that stands on a line of its own."""
    marker = _BY.match(lines[index])
    if marker and not lines[index][marker.end():].strip():
        return range(index, _names_below(lines, index)[1] + 1)
    return range(index, index + 1)


def _names_on_date_line(line: str, languages: tuple[str, ...]) -> list[str] | None:
    """Names on a date line: the first stretch between separators, dates, times and cues that
    reads as names ("Aashish Saxena / TIMESOFINDIA.COM / Sep 2, 2024, 17:07 IST")."""
    spans = [(f.start, f.end) for f in dates_in_line(line, languages, dt.date.max)]
    parts, last = [], 0
    for start, end in spans:
        parts.append(line[last:start])
        last = end
    parts.append(line[last:])
    text = " | ".join(parts)
    text = _PUBLISHED.sub(" | ", _UPDATED.sub(" | ", _TIME.sub(" | ", _ZONE.sub(" | ", text))))
    if _LABEL.match(line):
        return None  # "Source: Russian Defense Ministry, October 25, 2019", "Foto: ..."
    _, weekdays, _ = _tables(languages)
    if weekdays:
        text = _weekday_regex(weekdays).sub(" | ", text)
    for part in re.split(r"\s*(?:[|·•/]|\s[-–—]\s|\d+)\s*", text):
        marker = _BY.match(part)
        if not marker and part.count(",") >= 2:
            continue  # "Tony Carter All, Books, Kit Reviews": categories
        names = _author_names(part[marker.end():] if marker else part, bool(marker))
        if names and (marker or all(len(n.split()) >= 2 for n in names)):
            return names
    return None
