"""Readers' comments under an article: where the thread starts on a scraped page.

Comments are prose, so the line classifier keeps them as readily as the article, and a blog
post can come out with ten times its own length in comments. Comment systems mark each one
with a header of the same shape in every language they ship: the commenter's name and a verb
("Alex says:", "Philipp sagt:", "Marie dit :") over the comment's date and time ("November 19,
2019 at 6:34 am"), or all on one line ("Alex on September 17, 2018 at 6:34 am said:"). Two such headers after the article's own text
are a thread; from the first of them on, the page is comments, the comment form and the page's
footer, never the article (a page showing its article again down there shows a copy). Plain
functions, no Beam.
"""
from __future__ import annotations

import re

#: "<name> says:" over the comment's time stamp: the present-tense verbs comment systems print
#: ("said:" and "wrote:" introduce quotes in news text too, so they only count in form B).
_NAME_SAYS = re.compile(
    r"^(?P<name>\S.{0,60}?)\s+(?i:says|sagt|schreibt|dit|écrit|dice|diz|zegt|skriver|sanoo|pisze|píše|говорит|пишет)\s*:$"
)
#: "<name> on <date> at <time> said:": the stamp inside the header.
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
#: A commenter's name or handle in form A.
MAX_NAME_WORDS = 5


def _is_header(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _NAME_ON_DATE_SAID.match(line) and _STAMP.search(line):
        return True
    says = _NAME_SAYS.match(line)
    return bool(
        says and len(says.group("name").split()) <= MAX_NAME_WORDS
        and i + 1 < len(lines) and len(lines[i + 1]) <= STAMP_MAX_CHARS and _STAMP.search(lines[i + 1])
    )


def thread_start(lines: list[str], kept: list[bool]) -> int | None:
    """Index of the first header of a page's comment thread, or None when there is none.

    ``kept``: per line, whether it is taken for text so far; the thread must stand below at
    least `MIN_WORDS_ABOVE` words of that text.
    """
    headers = [i for i, line in enumerate(lines) if line.endswith(":") and _is_header(lines, i)]
    if len(headers) < MIN_HEADERS:
        return None
    first = headers[0]
    return first if sum(len(line.split()) for line, k in zip(lines[:first], kept) if k) >= MIN_WORDS_ABOVE else None
