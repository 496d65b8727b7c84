"""Readers' comments under an article: where the thread starts on a scraped page.

Comments are prose, so the line classifier keeps them as readily as the article, and a blog
post can come out with ten times its own length in comments. Comment systems mark each one
with a header of the same shape in every language they ship. Form A: the commenter's name and
a verb ("Alex says:", "Philipp sagt:") over the comment's date and time ("November 19, 2019 at
6:34 am"); form B: all on one line ("Alex on September 17, 2018 at 6:34 am said:"); form C: the
name alone over the date and time, which only counts under a comments heading with its count
("[ 167 comments ]", "10 thoughts on “...”"), since a list of teasers with their authors and
times looks the same. The stamp holds a clock time and a year or a relative day, never a
sentence, and the headers follow each other closely. Three headers of forms A and B, or a heading
over three of form C, after the article's own text are a thread; from its first line on, the
page is comments, the comment form and the page's footer, never the article (a page showing its
article again down there shows a copy). Plain functions, no Beam.
"""
from __future__ import annotations

import re
from bisect import bisect_right

from transforms.text import SENTENCE_END

#: "<name> says:" over the comment's time stamp: the verb comment systems print for "says" (form
#: A; "said:", "wrote:" and "schreibt:" introduce quotes and embedded posts in news text, so the
#: past tenses only count in form B and the verbs of writing not at all).
_NAME_SAYS = re.compile(
    r"^(?P<name>\S.{0,60}?)\s+(?i:says|sagt|dit|dice|diz|disse|zegt|säger|sier|siger|sanoo|pisze|говорит)\s*:$"
)
#: "<name> on <date> at <time> said:": the stamp inside the header (form B).
_NAME_ON_DATE_SAID = re.compile(
    r"^\S.{0,60}?\s(?i:on|am|le|el|il|op|den|em|dne)\s(?P<stamp>.{0,40}?\d.{0,30}?)\s"
    r"(?i:says|said|wrote|replied|sagt|schrieb|dit|a dit|écrit|dice|disse|zegt|skriver|skrev|pisze|napisał|napsal)\s*:$"
)
#: A comment's time stamp holds a clock time and a year or a relative day ("November 19, 2019 at
#: 6:34 am", "2 days ago at 07:47 am"); a live blog's "14:32 GMT" or a teaser's "Today 10:30" not.
_CLOCK = re.compile(r"(?<!\d)\d{1,2}[:.]\d\d(?!\d)")
_DAY = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)|(?i:\d\s*\w+\s+ago\b|\bvor\s+\d|\bil y a\s+\d|\bhace\s+\d)")
STAMP_MAX_CHARS = 40
#: A comments heading with its count: "[ 167 comments ]", "Comments (12)", "10 thoughts on “...”".
_COMMENT_WORDS = (r"(?:comments?|kommentare?|commentaires?|comentarios?|commenti|reacties|kommentarer|kommentit"
                  r"|komentarz[ey]?|komentáře|yorum(?:lar)?|responses|replies)")
_HEADING = re.compile(
    rf"^\W*\d[\d.,]*\s+{_COMMENT_WORDS}\W*$|^\W*{_COMMENT_WORDS}\s*\(\d+\)\W*$"
    r"|^\W*\d+ (?:thoughts|responses?|replies|comments?) (?:on|to) \S",
    re.IGNORECASE,
)
#: Headers needed for a thread (one or two "X says:" could introduce quotes or embedded posts),
#: and the most lines between one header and the next (a thread is a run of comments).
MIN_HEADERS, MAX_GAP = 3, 30
#: Form-C headers needed under a heading, how far below it the first may stand, and the most
#: lines between one and the next (closer than A and B: a name and a time are common shapes).
MIN_BARE_HEADERS, HEADING_REACH, MAX_BARE_GAP = 3, 6, 12
#: Words of kept text needed above the thread: the article comes first. Form C needs more: a
#: live blog's entries under a comment counter by its lead have the same shape.
MIN_WORDS_ABOVE, MIN_WORDS_ABOVE_HEADING = 60, 150
#: A commenter's name or handle in form A, and in form C.
MAX_NAME_WORDS, BARE_NAME_WORDS = 5, 4


def _is_stamp(text: str) -> bool:
    """A comment's date and time, alone on a short line (or the date part of a form-B header)."""
    return len(text) <= STAMP_MAX_CHARS and bool(_CLOCK.search(text)) and bool(_DAY.search(text)) and not SENTENCE_END.search(text)


def _is_header(lines: list[str], i: int) -> bool:
    """Form A or B at line ``i``."""
    line = lines[i]
    said = _NAME_ON_DATE_SAID.match(line)
    if said and _is_stamp(said.group("stamp")):
        return True
    says = _NAME_SAYS.match(line)
    return bool(says and len(says.group("name").split()) <= MAX_NAME_WORDS and i + 1 < len(lines) and _is_stamp(lines[i + 1]))


def _is_bare_header(lines: list[str], i: int) -> bool:
    """Form C at line ``i``: a name alone over a stamp, over the comment ("Nick A", "2 days ago
    at 07:47 am", "I think ...")."""
    name = lines[i]
    if len(name) > STAMP_MAX_CHARS or len(name.split()) > BARE_NAME_WORDS or name.endswith(":") or SENTENCE_END.search(name):
        return False
    return i + 2 < len(lines) and _is_stamp(lines[i + 1]) and len(lines[i + 2].split()) >= 3


def _first_run(headers: list[int], size: int, gap: int) -> int | None:
    """The first header of the first run of at least ``size`` headers, each within ``gap``
    lines of the next."""
    start = 0
    for k in range(1, len(headers) + 1):
        if k == len(headers) or headers[k] - headers[k - 1] > gap:
            if k - start >= size:
                return headers[start]
            start = k
    return None


def _headed_thread(lines: list[str]) -> int | None:
    """Index of a comments heading with a run of form-C headers right below it."""
    bare = [i for i in range(len(lines)) if _is_bare_header(lines, i)]
    if len(bare) < MIN_BARE_HEADERS:
        return None
    for m, line in enumerate(lines):
        if len(line) <= 160 and _HEADING.match(line):
            below = bare[bisect_right(bare, m):]
            if below and below[0] - m <= HEADING_REACH and _first_run(below, MIN_BARE_HEADERS, MAX_BARE_GAP) == below[0]:
                return m
    return None


def thread_start(lines: list[str], kept: list[bool]) -> int | None:
    """Index of the first line of a page's comment thread, or None when there is none.

    ``kept``: per line, whether it is taken for text so far; the thread must stand below at
    least `MIN_WORDS_ABOVE` words of that text (`MIN_WORDS_ABOVE_HEADING` under a heading).
    """
    said = _first_run([i for i, line in enumerate(lines) if line.endswith(":") and _is_header(lines, i)], MIN_HEADERS, MAX_GAP)
    headed = _headed_thread(lines)

    def words_above(i: int) -> int:
        return sum(len(line.split()) for line, k in zip(lines[:i], kept) if k)

    candidates = []
    if said is not None and words_above(said) >= MIN_WORDS_ABOVE:
        candidates.append(said)
    if headed is not None and words_above(headed) >= MIN_WORDS_ABOVE_HEADING:
        candidates.append(headed)
    return min(candidates, default=None)
