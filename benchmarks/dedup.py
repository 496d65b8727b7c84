"""What duplicate detection costs: the whole pipeline with ``--dedup off`` and ``--dedup mark``.

    python benchmarks/dedup.py --articles 20000 [--spacy_model PATH] [--memory] [--copies SHARE]

The benchmark corpus (`benchmarks/corpus.py`) cycles through about 150 source articles with
their paragraphs reshuffled, so at 20,000 articles almost every article is a near copy of an
earlier one: a hard case for the stage (big LSH buckets, a decision for nearly every article).
Both runs use one worker and the same flags, in turn; the figure is the ratio of wall times.
``--copies 0.1`` makes only about a tenth of the articles near copies, as in a news feed.
``--memory`` runs ``off`` and ``mark`` on N and 10 N articles with the tokenizer-only spaCy
model and compares peak RSS.
Results go to ``docs/benchmarks.md`` by hand, with the date and the commit.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.corpus import build_corpus  # noqa: E402
from benchmarks.throughput import _child, blank_model  # noqa: E402


def pipeline_run(corpus: pathlib.Path, out: pathlib.Path, flags: list[str]) -> dict:
    argv = ["--input", str(corpus), "--output", str(out), "--quiet", *flags]
    return _child(
        f"""
import time
from pipeline.main import run
start = time.perf_counter()
summary = run({argv!r})
result = {{'articles': summary['articles_written'], 'seconds': time.perf_counter() - start,
           'duplicates': summary.get('duplicates'), 'stage_seconds': summary.get('stage_seconds')}}
"""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--spacy_model", default=None, help="default: the pipeline's default model")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument(
        "--copies", type=float, default=None,
        help="share of near copies in the corpus (default: the cycling corpus, where most articles are copies)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        if args.memory:
            model = str(blank_model(work / "blank_model"))
            for size in (args.articles, 10 * args.articles):
                corpus = work / f"corpus{size}"
                build_corpus(corpus, size, copies=args.copies)
                for policy in ("off", "mark"):
                    flags = ["--spacy_model", model, "--topic_model", "keywords", "--dedup", policy]
                    r = pipeline_run(corpus, work / f"out{size}{policy}", flags)
                    print(f"{policy}, {size} articles (tokenizer-only model): {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']} MB, "
                          f"duplicates {r['duplicates']}", flush=True)
            return
        corpus = work / "corpus"
        build_corpus(corpus, args.articles, copies=args.copies)
        flags = ["--spacy_model", args.spacy_model] if args.spacy_model else []
        results = {}
        for policy in ("off", "mark"):
            r = results[policy] = pipeline_run(corpus, work / f"out-{policy}", [*flags, "--dedup", policy])
            print(f"--dedup {policy}: {r['articles']} articles in {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']} MB", flush=True)
            print(f"  stages: {r['stage_seconds']}", flush=True)
            if policy == "mark":
                print(f"  duplicates: {r['duplicates']}", flush=True)
        print(f"mark / off wall time: {results['mark']['seconds'] / results['off']['seconds']:.3f}")


if __name__ == "__main__":
    main()
