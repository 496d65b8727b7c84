"""Dev script: measure transforms/text_dates.py on the shared dev sets. It reads ../shared/eval
(fundus/ and cleaning/, plus cleaning_html/ for a stand-in gold), so it is never run at test or
pipeline time.

    python benchmarks/text_dates_eval.py [--shared ../shared/eval] [--errors] [--allow-updated] [--compare]

Dates on fundus/ (day level, ``publishing_date[:10]``): precision = right / answered, recall =
right / pages, coverage = answered / pages, overall and per language (en, de, other). The two
gold errors fundus/README.md lists (day and month swapped) are scored against the day the page
shows, and the figures are also given against the gold as it stands.
Authors on fundus/: precision and recall of the byline's names against ``authors`` (case,
accents and punctuation folded; a name counts when it equals a gold name).
cleaning/ has no date gold: htmldate on the page's HTML, metadata only (meta tags, JSON-LD,
<time>; it agrees with fundus's gold on 250 of 258 pages), stands in, exactly and within a day
(it often turns the publisher's local time into UTC), and so does the day in the URL.
Cost: CPU milliseconds per page (process time, so a busy machine does not inflate it) for the
date and the byline together, the page already split into lines. --compare also runs the
alternatives measured when the approach was chosen: htmldate on the rendered text, and
dateparser's search_dates as the line parser.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import html
import json
import pathlib
import re
import statistics
import sys
import time
import unicodedata

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from transforms import text_dates  # noqa: E402
from transforms.text import to_paragraphs  # noqa: E402
from transforms.text_dates import find_byline, find_publication_date  # noqa: E402

#: fundus/README.md: the parser swapped day and month on these two; the page shows this day.
GOLD_FIXES = {"de_KlasseGegenKlasse_2026_01_07": "2026-01-06", "tr_AnadoluAjansi_2025_04_05": "2025-04-05"}
_URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|-|$)")
_NAME_SPLIT = re.compile(r"\s*,\s*")


def fold(name: str) -> str:
    """Case, accents and punctuation folded: 'Anne-Marie Slaughter' == 'anne marie slaughter'."""
    name = unicodedata.normalize("NFKD", name)
    name = "".join(c for c in name if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", name).split())


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f} ({a}/{b})" if b else "n/a"


def fundus_pages(folder: pathlib.Path):
    for meta_path in sorted(folder.glob("*.meta.json")):
        page = meta_path.name[: -len(".meta.json")]
        meta = json.loads(meta_path.read_text("utf-8"))
        lines = to_paragraphs((folder / f"{page}.input.txt").read_text("utf-8"))
        yield page, meta, lines


def score_dates(rows: list[tuple], title: str) -> None:
    """rows: (page, language group, gold as given, gold as corrected, answer or None)."""
    for label, key in (("as the README corrects", 3), ("gold as given", 2)):
        print(f"\n{title}, {label}:")
        for lang in ("all", "en", "de", "other"):
            sel = [r for r in rows if lang == "all" or r[1] == lang]
            answered = [r for r in sel if r[4]]
            right = [r for r in answered if str(r[4][0]) == r[key]]
            print(f"  {lang:5s} pages {len(sel):3d}  precision {ratio(len(right), len(answered))}  "
                  f"recall {ratio(len(right), len(sel))}  coverage {ratio(len(answered), len(sel))}")


def run_fundus(folder: pathlib.Path, show_errors: bool, allow_updated: bool) -> list[tuple[float, float]]:
    rows, timings = [], []
    names = {"out": 0, "right": 0, "gold": 0}
    pages_with_byline = 0
    for page, meta, lines in fundus_pages(folder):
        crawl = dt.date.fromisoformat(meta["crawl_date"][:10])
        find_byline(["By A B 1 May 2024"], meta["language"], 0)  # a language's tables: once per process
        start = time.process_time()
        found = find_publication_date(lines, meta["language"], crawl, allow_updated=allow_updated)
        middle = time.process_time()
        byline = find_byline(lines, meta["language"], found[2] if found else None)
        timings.append(((middle - start) * 1000, (time.process_time() - start) * 1000))
        gold = (meta.get("publishing_date") or "")[:10]
        lang = meta["language"] if meta["language"] in ("en", "de") else "other"
        rows.append((page, lang, gold, GOLD_FIXES.get(page, gold), found, lines))
        gold_names = {fold(a) for a in meta.get("authors") or [] if fold(a)}
        names["gold"] += len(gold_names)
        if byline:
            pages_with_byline += 1
            out = {fold(n) for n in _NAME_SPLIT.split(byline[0]) if fold(n)}
            names["out"] += len(out)
            names["right"] += len(out & gold_names)
            if show_errors and out - gold_names:
                print(f"  AUTHOR {page}: {byline[0]!r} (line {byline[1]}) gold {sorted(gold_names)}")
    score_dates(rows, "fundus dates")
    sources: dict[str, list[int]] = {}
    for r in rows:
        if r[4]:
            tally = sources.setdefault(r[4][1], [0, 0])
            tally[0] += 1
            tally[1] += str(r[4][0]) == r[3]
    print("  by source: " + ", ".join(f"{s} {n} ({ok} right)" for s, (n, ok) in sorted(sources.items())))
    if show_errors:
        for page, _, _, gold, found, lines in rows:
            if found and str(found[0]) != gold:
                print(f"  WRONG {page}: {found[0]} {found[1]} line {found[2]} {lines[found[2]][:100]!r} gold {gold}")
        for page, _, _, gold, found, _ in rows:
            if not found:
                print(f"  NONE  {page}: gold {gold}")
    print(f"\nfundus authors: names precision {ratio(names['right'], names['out'])}, "
          f"recall {ratio(names['right'], names['gold'])}; pages with a byline {ratio(pages_with_byline, len(rows))}")
    return timings


def silver_dates(html_folder: pathlib.Path) -> dict[str, str]:
    """htmldate on the raw HTML, metadata only: a stand-in gold for cleaning/."""
    from htmldate import find_date

    days = {}
    for path in sorted(html_folder.glob("*.html.gz")):
        page_html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        day = find_date(page_html, original_date=True, extensive_search=False)
        if day:
            days[path.name[: -len(".html.gz")]] = day
    return days


def run_cleaning(folder: pathlib.Path, html_folder: pathlib.Path, show_errors: bool, allow_updated: bool) -> list[tuple[float, float]]:
    silver = silver_dates(html_folder) if html_folder.is_dir() else {}
    timings = []
    answered = exact = near = url_checked = url_agree = 0
    pages = sorted(folder.glob("*.input.txt"))
    for path in pages:
        page = path.name[: -len(".input.txt")]
        url = json.loads((folder / f"{page}.meta.json").read_text("utf-8"))["url"]
        lines = to_paragraphs(path.read_text("utf-8"))
        start = time.process_time()
        found = find_publication_date(lines, "en", allow_updated=allow_updated)
        middle = time.process_time()
        find_byline(lines, "en", found[2] if found else None)
        timings.append(((middle - start) * 1000, (time.process_time() - start) * 1000))
        if not found:
            continue
        answered += 1
        if page in silver:
            gap = abs((found[0] - dt.date.fromisoformat(silver[page])).days)
            exact += gap == 0
            near += gap <= 1
            if show_errors and gap > 1:
                print(f"  SILVER-DIFF {page[:12]}: {found[0]} line {found[2]} {lines[found[2]][:90]!r} htmldate {silver[page]}")
        m = _URL_DATE.search(url)
        if m:
            url_checked += 1
            url_agree += found[0] == dt.date(*map(int, m.groups()))
    with_silver = sum(1 for p in pages if p.name[: -len(".input.txt")] in silver)
    print(f"\ncleaning ({len(pages)} English pages, no date gold; htmldate on the HTML's metadata has a day for {with_silver}):")
    print(f"  coverage {ratio(answered, len(pages))}; agrees with htmldate exactly {ratio(exact, answered)}, "
          f"within a day {ratio(near, answered)}; recall vs htmldate within a day {ratio(near, with_silver)}; "
          f"agrees with the URL's day {ratio(url_agree, url_checked)}")
    return timings


def compare(folder: pathlib.Path) -> None:
    """The alternatives: htmldate on the rendered text; dateparser's search_dates as the parser."""
    from dateparser.search import search_dates
    from htmldate import find_date

    rows, cost = [], 0.0
    for page, meta, lines in fundus_pages(folder):
        doc = "<html><body>" + "".join(f"<p>{html.escape(line)}</p>" for line in lines) + "</body></html>"
        start = time.process_time()
        day = find_date(doc, original_date=True, max_date=meta["crawl_date"][:10])
        cost += time.process_time() - start
        gold = (meta.get("publishing_date") or "")[:10]
        lang = meta["language"] if meta["language"] in ("en", "de") else "other"
        rows.append((page, lang, gold, GOLD_FIXES.get(page, gold), (day,) if day else None))
    score_dates(rows, "htmldate 1.11 on the rendered text (find_date, original_date, extensive search)")
    print(f"  cost {cost * 1000 / len(rows):.2f} ms/page")

    settings = {"REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DAY_OF_MONTH": "first"}

    def dateparser_dates(line, languages, latest):
        found = search_dates(line, languages=list(dict.fromkeys(languages)), settings=settings) or []
        out, pos = [], 0
        for text, when in found:
            at = line.find(text, pos)
            if when.date() <= latest and when.year >= text_dates.MIN_YEAR and at >= 0:
                out.append(text_dates._Found(when.date(), at, at + len(text)))
                pos = at + len(text)
        return out

    own = text_dates.dates_in_line
    text_dates.dates_in_line = dateparser_dates
    try:
        rows, cost = [], 0.0
        for page, meta, lines in fundus_pages(folder):
            crawl = dt.date.fromisoformat(meta["crawl_date"][:10])
            start = time.process_time()
            try:
                found = find_publication_date(lines, meta["language"], crawl)
            except Exception:  # dateparser has no tables for some languages
                found = None
            cost += time.process_time() - start
            gold = (meta.get("publishing_date") or "")[:10]
            lang = meta["language"] if meta["language"] in ("en", "de") else "other"
            rows.append((page, lang, gold, GOLD_FIXES.get(page, gold), found))
    finally:
        text_dates.dates_in_line = own
    score_dates(rows, "the same line choice with dateparser 1.5 search_dates as the date parser")
    print(f"  cost {cost * 1000 / len(rows):.2f} ms/page")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(REPO.parent / "shared" / "eval"))
    parser.add_argument("--errors", action="store_true", help="list wrong and missing answers")
    parser.add_argument("--allow-updated", action="store_true", help="count pages that show only an Updated time")
    parser.add_argument("--compare", action="store_true", help="also measure htmldate and dateparser (slow)")
    args = parser.parse_args(argv)
    shared = pathlib.Path(args.shared)
    start = time.process_time()
    find_byline(["By A B 1 May 2024"], "en", 0)  # first call: tables read, patterns compiled
    cold = (time.process_time() - start) * 1000
    timings = run_fundus(shared / "fundus", args.errors, args.allow_updated)
    timings += run_cleaning(shared / "cleaning", shared / "cleaning_html", args.errors, args.allow_updated)
    print("\ncost, CPU ms per page over", len(timings), "pages (not counting the first call for each language, which "
          f"reads its tables and compiles its patterns: {cold:.0f} ms for English):")
    for label, k in (("date", 0), ("date + byline", 1)):
        values = sorted(t[k] for t in timings)
        print(f"  {label:13s} mean {statistics.mean(values):.3f}, median {statistics.median(values):.3f}, "
              f"p95 {values[int(0.95 * len(values))]:.3f}, max {values[-1]:.3f}")
    if args.compare:
        compare(shared / "fundus")


if __name__ == "__main__":
    main()
