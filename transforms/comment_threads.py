"""Readers' comments under an article: where the thread starts on a scraped page.

Comments are prose, so the line classifier keeps them as readily as the article, and a blog
post can come out with ten times its own length in comments. Comment systems mark each one
with a header of the same shape in every language they ship. Form A: the commenter's name and
a verb ("Alex says:", "Philipp sagt:") over the comment's date and time ("November 19, 2019 at
6:34 am"); form B: all on one line ("Alex on September 17, 2018 at 6:34 am said:"); form C: the
name alone over the date and time, which only counts under a comments heading ("[ 167 comments
]", "10 thoughts on “...”"), since a list of teasers with their authors and times looks the same.
Two headers of forms A and B, or a heading over three of form C, after the article's own text
are a thread; from its first line on, the page is comments, the comment form and the page's
footer, never the article (a page showing its article again down there shows a copy). Plain
functions, no Beam.
"""
from __future__ import annotations

import re
from bisect import bisect_right

from transforms.text import SENTENCE_END

#: "<name> says:" over the comment's time stamp: the present-tense verbs comment systems print
#: (form A; "said:" and "wrote:" introduce quotes in news text too, so they only count in form B).
_NAME_SAYS = re.compile(
    r"^(?P<name>\S.{0,60}?)\s+(?i:says|sagt|schreibt|dit|écrit|dice|diz|zegt|skriver|sanoo|pisze|píše|говорит|пишет)\s*:$"
)
#: "<name> on <date> at <time> said:": the stamp inside the header (form B).
_NAME_ON_DATE_SAID = re.compile(
    r"^\S.{0,60}?\s(?i:on|am|le|el|il|op|den|em|dne)\s.{0,40}?\d.{0,30}?\s"
    r"(?i:says|said|wrote|replied|sagt|schrieb|dit|a dit|écrit|dice|disse|zegt|skriver|skrev|pisze|napisał|napsal)\s*:$"
)
#: A comment's time stamp: a year or a clock time.
_STAMP = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|(?<!\d)\d{1,2}[:.]\d\d(?!\d)")
STAMP_MAX_CHARS = 40
#: Headers needed for a thread (one "X says:" could be a quote's introduction).
MIN_HEADERS = 2
#: Words of kept text needed above the thread: the article comes first.
MIN_WORDS_ABOVE = 60
#: A commenter's name or handle in form A, and in form C.
MAX_NAME_WORDS, BARE_NAME_WORDS = 5, 4
#: A comments heading: "[ 167 comments ]", "Top Rated Comments", "10 thoughts on “...”", "Leave a Reply".
_HEADING = re.compile(
    r"^\W*(?:\d+\s+)?(?:top[- ]rated |all |readers'? |reader |user )?(?:comments?|kommentare?|leserkommentare|commentaires?"
    r"|comentarios?|commenti|reacties|kommentarer|kommentit|komentarze|komentáře|yorumlar|responses?|replies|discussion"
    r"|diskussion)\W*(?:\(?\d+\)?)?\W*$|^\W*(?:leave a (?:reply|comment)|join the (?:discussion|conversation)"
    r"|\d+ (?:thoughts|responses?|replies|comments?) (?:on|to) .*)\W*$",
    re.IGNORECASE,
)
#: A comment's clock time ("at 07:47 am", "à 09:47").
_CLOCK = re.compile(r"(?<!\d)\d{1,2}[:.]\d\d(?!\d)")
#: Form-C headers needed under a heading, and how far below it the first may stand.
MIN_BARE_HEADERS, HEADING_REACH = 3, 6


def _is_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _NAME_ON_DATE_SAID.match(line) and _STAMP.search(line):
        return True
    says = _NAME_SAYS.match(line)
    return bool(
        says and len(says.group("name").split()) <= MAX_NAME_WORDS
        and i + 1 < len(lines) and len(lines[i + 1]) <= STAMP_MAX_CHARS and _STAMP.search(lines[i + 1])
    )


def _is_bare_header(lines: list[str], i: int) -> bool:
    """A name alone over a date with its clock time, over the comment ("Nick A", "2 days ago at
    07:47 am", "I think ..."): form C, which only counts under a comments heading."""
    name = lines[i]
    if len(name) > STAMP_MAX_CHARS or len(name.split()) > BARE_NAME_WORDS or name.endswith(":") or SENTENCE_END.search(name):
        return False
    return i + 2 < len(lines) and len(lines[i + 1]) <= STAMP_MAX_CHARS and bool(_CLOCK.search(lines[i + 1])) and len(lines[i + 2].split()) >= 3


def _headed_thread(lines: list[str]) -> int | None:
    """Index of a comments heading ("[ 167 comments ]", "10 thoughts on “...”") with at least
    `MIN_BARE_HEADERS` form-C headers below it, the first within `HEADING_REACH` lines."""
    bare = [i for i in range(len(lines)) if _is_bare_header(lines, i)]
    if len(bare) < MIN_BARE_HEADERS:
        return None
    for m, line in enumerate(lines):
        if len(line) <= 160 and _HEADING.match(line):
            k = bisect_right(bare, m)
            if len(bare) - k >= MIN_BARE_HEADERS and bare[k] - m <= HEADING_REACH:
                return m
    return None


def thread_start(lines: list[str], kept: list[bool]) -> int | None:
    """Index of the first line of a page's comment thread, or None when there is none.

    ``kept``: per line, whether it is taken for text so far; the thread must stand below at
    least `MIN_WORDS_ABOVE` words of that text.
    """
    starts = []
    headers = [i for i, line in enumerate(lines) if line.endswith(":") and _is_header(lines, i)]
    if len(headers) >= MIN_HEADERS:
        starts.append(headers[0])
    headed = _headed_thread(lines)
    if headed is not None:
        starts.append(headed)
    for start in sorted(starts):
        if sum(len(line.split()) for line, k in zip(lines[:start], kept) if k) >= MIN_WORDS_ABOVE:
            return start
    return None
