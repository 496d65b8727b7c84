"""Gold titles and labels for the headline ranker (`train_title_ranker.py`), without scikit-learn.

A set's page gives its gold title in meta.json (`fundus/`: the publisher's own title, matched
exactly after folding), or, for a set without one (`cleaning/`), the page's HTML `<title>` in
the sibling `<set>_html/` folder stands in: the headline, usually with the site's name after
a separator or a section before one. Sites group pages for cross-validation: a page's
publisher, or its URL's host mapped to the publisher whose pages use that host, so a site in
both sets is one group.
"""
from __future__ import annotations

import gzip
import html
import json
import os
import re
from urllib.parse import urlparse

from transforms.text import fold

#: Between a `<title>`'s headline and the site's name or a section.
_SEPARATOR = re.compile(r"\s+(?:\||-|–|—|::|·|»|/)\s+|:\s+")
#: At most this many words after (the site's name) or before (a section) the headline.
TAIL_WORDS, HEAD_WORDS = 6, 3


def host(url: str) -> str:
    return urlparse(url or "").netloc.lower().removeprefix("www.")


def publishers_by_host(eval_dir: str) -> dict[str, str]:
    """URL host -> fundus publisher, from `fundus/`'s meta.json files (a publisher may use two)."""
    folder = os.path.join(eval_dir, "fundus")
    out: dict[str, str] = {}
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        if name.endswith(".meta.json"):
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                meta = json.load(f)
            out.setdefault(host(meta.get("url", "")), meta["publisher"])
    return out


def page_title(folder: str, name: str, meta: dict, publishers: dict[str, str]) -> tuple[str, str, bool]:
    """(gold title as written, site, exact) of one page; the title is "" when there is none."""
    site = meta.get("publisher") or publishers.get(host(meta.get("url", "")), host(meta.get("url", "")))
    if "title" in meta:
        return meta["title"] or "", site, True
    path = os.path.join(folder.rstrip("/") + "_html", name + ".html.gz")
    if not os.path.exists(path):
        return "", site, False
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        head = f.read(200_000)
    found = re.search(r"<title[^>]*>(.*?)</title>", head, re.S | re.I)
    return (" ".join(html.unescape(found.group(1)).split()) if found else ""), site, False


def headlines(title: str, section: bool = True):
    """The `<title>` and what it gives without the site's name after a separator (at most
    `TAIL_WORDS` words) and a section before one (at most `HEAD_WORDS`), or both."""
    yield title
    for cut in _SEPARATOR.finditer(title):
        before, after = title[: cut.start()], title[cut.end():]
        # A colon parts a kicker from its headline, never a headline from the site's name.
        if ":" not in cut.group() and len(after.split()) <= TAIL_WORDS:
            yield before
        if section and len(before.split()) <= HEAD_WORDS:
            yield from headlines(after, section=False)


def is_right(candidate: str, gold: str, exact: bool) -> bool:
    """Whether a candidate (as the ranker would show it) is the page's title: the gold title
    folded, or with ``exact`` False one of `headlines` of a `<title>`."""
    mine = fold(candidate)
    if not mine or not fold(gold):
        return False
    if exact:
        return mine == fold(gold)
    return any(mine == fold(h) for h in headlines(gold))
