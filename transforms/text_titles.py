"""The headline of a whole news page from its plain text (no markup needed).

On a scraped page the headline is a heading-shaped line a few lines above the article's prose,
usually above its deck, byline, date and photo caption; it shares words with the lead, and it
often appears again on the page (a breadcrumb, a share box, the `<title>` with the site's name
appended). Kicker lines, section labels, decks, captions and share boxes look alike, so the
lines above the article's text are ranked by a small gradient-boosted model over such cues
(`training/train_title_ranker.py`, model ``models/title_model.json``), and the best line is the
title only when its score clears the model's threshold: unsure means no title. Plain functions,
no Beam; about a millisecond a page.
"""
from __future__ import annotations

import json
import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from functools import lru_cache
from operator import itemgetter

import numpy as np

from transforms import trees
from transforms.package_data import model_file
from transforms.text import SENTENCE_END, SENTENCE_STOPS
from transforms.text_dates import article_block

MODEL_PATH = str(model_file("title_model.json"))
#: How far above the article's first prose line a headline may stand (lines), and below it.
REACH_ABOVE, REACH_BELOW = 40, 3
#: Lead paragraphs whose words a headline shares.
LEAD_LINES = 3
#: Lines on each side where a breadcrumb or kicker line would repeat a headline.
NEAR = 3
#: Body lines whose words count for the share of a headline's words found in the text.
BODY_LINES = 40
MIN_CHARS, MAX_CHARS = 8, 250

#: Generic caption and share-box vocabulary (not one site's strings): the families the
#: boilerplate rules name too.
_CAPTION = re.compile(
    r"©|\b(?:foto|photo|bild|quelle|source|image|getty|reuters|afp|dpa|imago|keystone|credit)\b|\.(?:AFP|EFE|AP|dpa)$", re.I
)
_SOCIAL = re.compile(
    r"\b(?:share|teilen|facebook|whatsapp|twitter|linkedin|pinterest|telegram|e-?mail|copyright|newsletter|abonn\w*"
    r"|subscribe|kommentar\w*|comments?|video|audio|podcast|lesen sie|read more|related|mehr zum thema|anzeige"
    r"|advertisement|werbung)\b",
    re.I,
)
_GLUED = re.compile(r"[a-zà-ÿ][A-ZÀ-Þ]")  # "PolitikaFialova": inline elements run together
_SEPARATOR = re.compile(r"\s(?:\||-|–|—|::|·)\s")
#: "Headline | Site name": the headline without a short tail after the last separator.
_SITE_TAIL = re.compile(r"^(.{15,}?)\s(\||-|–|—|::|·)\s([^|]{2,40})$")
_PICTURE_SIDE = re.compile(r"\((?:left|right|links|rechts|l\.|r\.)\)|\(\w+\)$", re.I)
_YEAR = re.compile(r"(?:19|20)\d\d")
#: A sentence, then a few words: a caption with its credit ("... on Tuesday. AFP").
_CREDIT_TAIL = re.compile(SENTENCE_STOPS + r"\s*\S+(?:\s+\S+){0,3}$")
_QUOTES = "\"'„«»“‘"
RELATIVE = ("nov", "ov", "ovb", "rep", "caps", "logn")


#: The first five characters of a whole word of four or more (\w runs are maximal).
_STEM = re.compile(r"(\w{4,5})\w*")


def _stems(text: str) -> set[str]:
    # Five-letter prefixes: inflected forms of one word meet ("Regierung", "Regierungen").
    return set(_STEM.findall(text.casefold()))


@lru_cache(maxsize=1)
def load_model(path: str = MODEL_PATH) -> dict:
    """The ranker: feature names, its trees (``walk``: `transforms.trees`) and threshold."""
    with open(path, encoding="utf-8") as f:
        model = json.load(f)
    model["walk"] = trees.load(model["trees"], model["baseline"])
    # A candidate's cues in the model's order (itemgetter of one key gives no tuple).
    getter = itemgetter(*model["features"])
    model["row"] = getter if len(model["features"]) > 1 else lambda f: (getter(f),)
    return model


def candidates(lines: list[str], date_index: int | None = None, byline_indices: frozenset[int] = frozenset()) -> list[tuple[int, str, dict[str, float]]]:
    """(line index, headline text, features) of every heading-shaped line near the article's
    start, from the bottom of the window upwards; a "Headline - Tail" line also offers the
    headline alone."""
    block = article_block(lines)
    if block is None:
        return []
    start, end = block
    # Repetition on the page, in any case: a template repeats its headline, sometimes in capitals.
    page = "\n" + "\n".join(lines).casefold() + "\n"
    counts = Counter(page.split("\n"))
    ordered = sorted(counts)

    def starts_a_line(prefix: str) -> bool:
        """``"\\n" + prefix in page``, by bisection in the page's sorted lines, not a scan of the page."""
        if "\n" in prefix:
            return "\n" + prefix in page
        k = bisect_left(ordered, prefix)
        return k < len(ordered) and ordered[k].startswith(prefix)

    lo, hi = max(0, start - REACH_ABOVE), min(len(lines), start + REACH_BELOW)
    window = range(max(0, lo - NEAR), min(len(lines), hi + NEAR + 1))
    stems_of = {j: _stems(lines[j]) for j in window}
    # The lead's and the body's words: those of the window's lines, and of the lines below it.
    # (A space between lines ends a word, so the stems of joined lines are the lines' stems.)
    lead = set().union(*(stems_of[j] if j in stems_of else _stems(lines[j]) for j in range(start, min(len(lines), start + LEAD_LINES))))
    body_end = min(end + 1, start + BODY_LINES)
    below = min(window.stop, body_end)
    body = _stems(" ".join(lines[below:body_end])).union(*(stems_of[j] for j in range(start, below)))
    keys_of = {j: lines[j].casefold() for j in window}
    shared = {j: len(stems_of[j] & lead) for j in window}
    short = {j: len(lines[j].split()) <= 3 for j in window}
    heads = []
    for i in range(lo, hi):
        line = lines[i]
        if not MIN_CHARS <= len(line) <= MAX_CHARS or i == date_index or i in byline_indices:
            continue
        if line.endswith((".", ",", ";", ":")) and not line.endswith("..."):
            continue  # a sentence or a label, not a headline
        if len(line.split()) < 2 and len(line) < 12:
            continue
        heads.append(i)
    out: list[tuple[int, str, dict[str, float]]] = []
    for rank, i in enumerate(reversed(heads)):
        line = lines[i]
        variants = [(line, 0.0)]
        tail = _SITE_TAIL.match(line)
        if tail and len(tail.group(3).split()) <= 4:
            variants.append((tail.group(1), 1.0))
        near = [keys_of[j] for j in range(max(0, i - NEAR), min(len(lines), i + NEAR + 1)) if j != i]
        for text, variant in variants:
            stems = stems_of[i] if text is line else _stems(text)
            key = keys_of[i] if text is line else text.casefold()
            words = text.split()
            n = len(words)
            longer_near = [o for o in near if len(o) > len(key)]
            shorter_near = tuple(o for o in near if 15 <= len(o) < len(key))
            out.append((i, text, {
                "var": variant,
                "d": math.log1p(abs(start - i)), "after": float(i >= start), "rank": min(rank, 10), "first": float(rank == 0),
                "ov": len(stems & lead) / len(stems) if stems else 0.0,
                "ovb": len(stems & body) / len(stems) if stems else 0.0,
                "nov": len(stems & lead),
                "logn": math.log(n + 1), "nchar": math.log(len(text)),
                "q": float(text.endswith(("?", "!"))), "colon": float(":" in text),
                "dash": float(bool(_SEPARATOR.search(text))), "pipe": float("|" in text),
                "rep": min(counts[key] - 1, 3),
                "longer": float(len(key) > 10 and starts_a_line(key + " ")),
                "contained": float(len(key) > 15 and page.count(key) > counts[key]),
                "upper0": float(text[0].isupper()), "allcaps": float(text.isupper()),
                "caps": sum(1 for w in words if w[:1].isupper()) / n,
                "digits": sum(map(str.isdigit, text)) / len(text),
                "caption": float(bool(_CAPTION.search(text))), "glue": float(bool(_GLUED.search(text))),
                "hasdate": float(bool(_YEAR.search(text))),
                "datebelow": float(date_index is not None and 0 < date_index - i <= 8),
                "dateabove": float(date_index is not None and 0 < i - date_index <= 3),
                "ddate": math.log1p(abs(date_index - i)) if date_index is not None else 5.0,
                "bybelow": float(any(0 < b - i <= 8 for b in byline_indices)),
                "prev_short": float(short.get(i - 1, False)), "next_short": float(short.get(i + 1, False)),
                "shortnear": sum(short.get(j, False) for j in range(i - 3, i + 4)) - short[i],
                "next_sent": float(i + 1 < len(lines) and bool(SENTENCE_END.search(lines[i + 1])) and len(lines[i + 1].split()) > 8),
                "sentend": float(bool(SENTENCE_END.search(text))), "ellip": float(text.endswith(("...", "…"))),
                "nov_prev": shared.get(i - 1, 0), "nov_next": shared.get(i + 1, 0),
                "nov_prev2": max(shared.get(j, 0) for j in range(i - 3, i)), "nov_next2": max(shared.get(j, 0) for j in range(i + 1, i + 4)),
                "next_len": math.log((len(lines[i + 1]) + 1) / (len(text) + 1)) if i + 1 < len(lines) else 0.0,
                "prev_len": math.log((len(lines[i - 1]) + 1) / (len(text) + 1)) if i else 0.0,
                "paren": float(bool(_PICTURE_SIDE.search(text))),
                "social": float(len(_SOCIAL.findall(text))),
                "quote": float(text[0] in _QUOTES),
                # A breadcrumb, kicker or site name run into the headline on a line nearby, or here.
                "tail_of_near": float(any(o.endswith(key) for o in longer_near)),
                "head_of_near": float(any(o.startswith(key + " ") for o in longer_near)),
                "ends_with_near": float(key.endswith(shorter_near)),
                "starts_with_near": float(key.startswith(tuple(o + " " for o in shorter_near))),
                "credit_tail": float(bool(_CREDIT_TAIL.search(text))),
            }))
    # The page's other candidates: how far each is from the best on the cues that compare.
    if out:
        for k in RELATIVE:
            column = sorted(f[k] for _, _, f in out)
            gap, rk = k + "_gap", k + "_rk"
            for _, _, f in out:
                f[gap] = f[k] - column[-1]
                f[rk] = float(len(out) - bisect_right(column, f[k]))  # how many score higher
        overlapping = sorted(i for i, _, f in out if f["nov"] >= 2)
        for i, _, f in out:
            f["rank_ov"] = min(len(overlapping) - bisect_right(overlapping, i), 5)
            f["ncand"] = len(out)
    return out


def rank_titles(lines: list[str], date_index: int | None = None, byline_indices: frozenset[int] = frozenset(), model: dict | None = None) -> list[tuple[float, int, str]]:
    """(score, line index, headline) of every candidate, best first."""
    found = candidates(lines, date_index, byline_indices)
    if not found:
        return []
    model = model or load_model()
    X = np.array([model["row"](f) for _, _, f in found], dtype=np.float64)
    scores = trees.predict_proba(model["walk"], X)
    return sorted(((float(s), i, text) for s, (i, text, _) in zip(scores, found)), key=lambda r: -r[0])


def find_title(lines: list[str], date_index: int | None = None, byline_indices: frozenset[int] = frozenset()) -> tuple[str, int] | None:
    """(headline, line index) of a whole page's lines, or None when the ranker is unsure.
    ``date_index`` / ``byline_indices``: the publication date's and the byline's lines, when known."""
    model = load_model()
    ranked = rank_titles(lines, date_index, byline_indices, model)
    if not ranked or ranked[0][0] < model["decision_threshold"]:
        return None
    return shown(ranked[0][2]), ranked[0][1]


def shown(candidate: str) -> str:
    """The title a candidate gives: "Headline | Site" without the site's or section's name
    (after a bar, a short tail is never the headline's own end)."""
    tail = _SITE_TAIL.match(candidate)
    if tail and tail.group(2) in ("|", "::") and len(tail.group(3).split()) <= 4 and len(tail.group(1).split()) >= 4:
        return tail.group(1)
    return candidate
