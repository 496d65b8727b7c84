"""Cost of cleaning whole scraped pages against the cost of NER on what is left of them.

    python benchmarks/page_cleaning.py [--rounds 3]

The 439 whole-page texts of `tests/data/eval/cleaning/` and `fundus/` (438 after one empty page)
go through the Clean stage's function (`clean_article`: rules, line classifier, language, date,
byline, headline), then the default spaCy model runs NER on the English bodies, as the pipeline
does (other languages have no NER model by default). CPU time of this process, per page; the
median of ``--rounds``. The budget: cleaning within 5% of NER per article.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from transforms import text_dates, text_titles  # noqa: E402
from transforms.clean import clean_article, forget_rule_matches, load_rules  # noqa: E402
from transforms.entities import default_model, load_ner  # noqa: E402
from transforms.errors import ArticleRejected  # noqa: E402
from transforms.read import read_records  # noqa: E402
from transforms.text import to_paragraphs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    paths = sorted((REPO / "tests" / "data" / "eval" / "cleaning").glob("*.input.txt"))
    paths += sorted((REPO / "tests" / "data" / "eval" / "fundus").glob("*.input.txt"))
    articles = []
    for path in paths:
        try:
            articles += [a for a in read_records(str(path), max_bytes=50_000_000) if hasattr(a, "text")]
        except ArticleRejected:  # fundus/kr_HankookIlbo_2026_01_29 renders to an empty text
            pass
    rules = load_rules()
    lines = [to_paragraphs(a.text or "") for a in articles]

    def cleaned():
        forget_rule_matches()  # each round matches every line again, as a first sight would
        out = []
        for article in articles:
            try:
                out.append(clean_article(article, rules))
            except ArticleRejected:
                pass
        return out

    def timed(work) -> float:
        start = time.process_time()
        work()
        return time.process_time() - start

    kept = cleaned()  # warm: models and tables load once
    english = [a.body for a in kept if a.language == "en"]
    nlp = load_ner(default_model())
    list(nlp.pipe(english[:5]))
    clean_s = statistics.median(timed(cleaned) for _ in range(args.rounds))
    dates_s = statistics.median(
        timed(lambda: [text_dates.find_byline(ls, None, (text_dates.find_publication_date(ls) or (0, 0, None))[2]) for ls in lines])
        for _ in range(args.rounds)
    )
    titles_s = statistics.median(timed(lambda: [text_titles.find_title(ls) for ls in lines]) for _ in range(args.rounds))
    ner_s = statistics.median(timed(lambda: list(nlp.pipe(english, batch_size=64))) for _ in range(args.rounds))
    clean_ms, ner_ms = 1000 * clean_s / len(articles), 1000 * ner_s / len(english)
    print(f"{len(articles)} whole pages ({len(kept)} kept, {len(english)} English bodies), median of {args.rounds} rounds, CPU ms a page:")
    print(f"  cleaning (clean_article, everything) {clean_ms:.2f}, of which date + byline about {1000 * dates_s / len(articles):.2f} "
          f"and headline about {1000 * titles_s / len(articles):.2f}")
    print(f"  NER ({default_model()}) on the English bodies {ner_ms:.1f}")
    print(f"  cleaning / NER: {100 * clean_ms / ner_ms:.1f}% (budget 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
