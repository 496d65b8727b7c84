"""Throughput of the pipeline against raw spaCy on the same machine, and what each stage costs.

    python benchmarks/throughput.py --articles 400 [--rounds 3]

Builds a corpus of N realistic article files (bundled samples and development gold bodies,
shuffled and varied so nothing is trivially repeated, half of them with widget tails), then
measures in one run:
  (a) the whole pipeline with the DirectRunner, 1 worker and 2 workers (multi_processing);
  (b) raw spaCy over the bodies the pipeline wrote (the same cleaned texts, exactly), 1 process
      and ``n_process=2``: importing spaCy, loading the model and ``nlp.pipe``, as a script doing
      only NER would (the pipeline's figure includes the same start-up); the ``nlp.pipe`` loop
      alone is printed too;
  (c) raw spaCy again over only the bodies the pipeline ran NER on: the pipeline skips NER where
      no model is configured for the article's language (the corpus, like the development set,
      has pages in other languages), so (a)/(b) credits it with that saving and (a)/(c) does not;
  (d) both again, 1 worker, with a tokenizer-only spaCy model: the difference is the pipeline's own
      work per article (reading, cleaning, topics, writing, Beam, start-up), free of NER's noise;
  (e) per-article cost of cleaning and of topic assignment relative to NER.
It prints articles/s, the ratios on matching cores, and each run's peak RSS. Run it on an
otherwise idle machine: other processes distort the 2-worker figures, and even idle, this
machine's speed drifts by up to ~25% over minutes, so ``--rounds 3`` (about 13 minutes; one round about 4½) runs everything in turn
three times and reports the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.corpus import build_corpus  # noqa: E402

def _child(code: str) -> dict:
    """Run code in a fresh interpreter; it prints one JSON line. Adds the child's peak RSS."""
    wrapped = (
        "import json, resource, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        + code
        + "\nrss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        + "\nresult['peak_rss_mb'] = round(rss / 1024, 1)\nprint(json.dumps(result))\n"
    )
    out = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def raw_spacy(texts_file: pathlib.Path, n_process: int, model: pathlib.Path | None = None) -> dict:
    return _child(
        f"""
import json, time
texts = json.loads(open({str(texts_file)!r}, encoding='utf-8').read())
start, cpu = time.perf_counter(), time.process_time()
from transforms.entities import default_model, load_ner  # imports spaCy: the pipeline's run pays this too
nlp = load_ner({str(model) if model else None!r} or default_model())
loaded = time.perf_counter()
n = sum(1 for _ in nlp.pipe(texts, batch_size=64, n_process={n_process}))
end = time.perf_counter()
result = {{'articles': n, 'seconds': end - start, 'load_seconds': loaded - start, 'cpu_seconds': time.process_time() - cpu}}
"""
    )


def blank_model(directory: pathlib.Path) -> pathlib.Path:
    """An English spaCy pipeline that only tokenizes (plus an entity ruler, so the pipeline
    accepts it as an entity model): with it on both sides, NER is out of the comparison and
    what remains of the pipeline's time is its own work."""
    return pathlib.Path(
        _child(
            f"""
import spacy
nlp = spacy.blank('en')
nlp.add_pipe('entity_ruler').add_patterns([{{'label': 'ORG', 'pattern': 'Reuters'}}])
nlp.to_disk({str(directory)!r})
result = {{'path': {str(directory)!r}}}
"""
        )["path"]
    )


def written_bodies(out_dir: pathlib.Path, work: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """Two JSON files of the bodies a pipeline run wrote: all of them, and those it ran NER on."""
    from schemas.article import read_dataset

    table = read_dataset(str(out_dir)).to_table(columns=["source_path", "body", "ner_skipped_reason"])
    rows = sorted(zip(*(table.column(c).to_pylist() for c in table.column_names)), key=lambda row: row[0])
    every, with_ner = work / "bodies_all.json", work / "bodies_ner.json"
    every.write_text(json.dumps([body for _, body, _ in rows]), "utf-8")
    with_ner.write_text(json.dumps([body for _, body, skipped in rows if skipped is None]), "utf-8")
    return every, with_ner


def stage_costs(corpus_dir: pathlib.Path, flags: tuple[str, ...]) -> dict:
    """Milliseconds per article of cleaning and of topic assignment, in one process."""
    return _child(
        f"""
import pathlib, time
from transforms.clean import clean_article, load_rules
from transforms.read import read_records
from transforms.topics import load_taxonomy, load_topic_model
from pipeline.options import IngestOptions
from transforms.language import detect_language
rules = load_rules()
raw = [next(read_records(str(p), 10**7)) for p in sorted(pathlib.Path({str(corpus_dir)!r}).rglob('*.txt'))]
detect_language('Warm up the language model before timing anything.')  # loaded once per worker in the pipeline
t = time.perf_counter(); cleaned = [clean_article(a, rules) for a in raw]; clean_s = time.perf_counter() - t
model = load_topic_model(IngestOptions({list(flags)!r}).topic_model, load_taxonomy())  # as the pipeline runs it
model.classify_batch(cleaned[:2])  # warm up
t = time.perf_counter()
for start in range(0, len(cleaned), 64): model.classify_batch(cleaned[start:start + 64])
topic_s = time.perf_counter() - t
n = len(raw)
result = {{'articles': n, 'clean_ms': 1000 * clean_s / n, 'topics_ms': 1000 * topic_s / n}}
"""
    )


def pipeline_run(corpus_dir: pathlib.Path, out_dir: pathlib.Path, workers: int, flags: tuple[str, ...] = ()) -> dict:
    extra = ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"] if workers > 1 else []
    argv = ["--input", str(corpus_dir), "--output", str(out_dir), *extra, *flags]
    return _child(
        f"""
import time, io, contextlib
from pipeline.main import run
start, cpu = time.perf_counter(), time.process_time()
with contextlib.redirect_stdout(io.StringIO()):
    summary = run({argv!r})
result = {{'articles': summary['articles_written'], 'rejected': summary['articles_rejected'], 'seconds': time.perf_counter() - start,
           'cpu_seconds': time.process_time() - cpu}}
"""
    )


def memory_check(work: pathlib.Path, n: int, flags: tuple[str, ...]) -> int:
    """Memory must not grow with the corpus: peak RSS on 10 N articles against N.

    Unless the flags name a spaCy model, both runs use the tokenizer-only one: the data path is
    what may grow, and 10 N articles through real NER would take an hour.
    """
    if "--spacy_model" not in flags:
        flags = (*flags, "--spacy_model", str(blank_model(work / "blank_model")))
        print(f"spaCy model: tokenizer-only (pipeline flags: {' '.join(flags)})")
    rows = []
    for size in (n, 10 * n):
        corpus = work / f"corpus{size}"
        build_corpus(corpus, size)
        result = pipeline_run(corpus, work / f"out{size}", 1, flags)
        rows.append((size, result))
        print(f"{size:>7} articles: {result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']} MB")
    ratio = rows[1][1]["peak_rss_mb"] / rows[0][1]["peak_rss_mb"]
    print(f"peak RSS growth {n} -> {10 * n} articles: {ratio:.2f}x (target <= 1.2)")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


PIPE1, PIPE2 = "pipeline, DirectRunner 1 worker", "pipeline, DirectRunner 2 workers"
RAW1, RAW2 = "raw spaCy, 1 process", "raw spaCy, n_process=2"
PIPE1_BLANK, RAW1_BLANK = "pipeline, 1 worker, tokenizer-only model", "raw spaCy, 1 process, tokenizer-only model"
RAW1_NER, RAW2_NER = "raw spaCy on the bodies given NER, 1 process", "raw spaCy on the bodies given NER, n_process=2"


def _rate(run: dict) -> float:
    return run["articles"] / run["seconds"]


def _median_run(runs: list[dict]) -> dict:
    """The run of median time; with an even count, the two middle runs' seconds are averaged."""
    ordered = sorted(runs, key=lambda x: x["seconds"])
    middle = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
    return {**middle[0], "seconds": statistics.mean(r["seconds"] for r in middle)}


def _print_per_round(rounds: dict[str, list[dict]], pairs) -> None:
    """Raw seconds / pipeline seconds in each round, for (1 worker, 2 workers), and their medians."""
    ratios = [[raw_r["seconds"] / pipe_r["seconds"] for raw_r, pipe_r in zip(rounds[raw], rounds[pipe])] for raw, pipe in pairs]
    print(f"  per round (1 worker/2 workers): {'  '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(*ratios))}")
    one, two = (statistics.median(x) for x in ratios)
    print(f"  median of the per-round ratios: 1 worker {one:.2f}x, 2 workers {two:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=400, help="corpus size (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the corpus and outputs (printed)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="measure everything R times in turn and report medians (default: %(default)s)"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="instead: peak RSS of the pipeline (1 worker) on N and 10 N articles, the growth ratio (target <= 1.2); "
        "with a tokenizer-only spaCy model unless --pipeline_flags give --spacy_model",
    )
    parser.add_argument(
        "--pipeline_flags",
        default="",
        help="extra pipeline flags, e.g. '--topic_model keywords'",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    work = pathlib.Path(tempfile.mkdtemp(prefix="news-ingest-bench-"))
    if args.memory:
        return memory_check(work, args.articles, tuple(args.pipeline_flags.split()))
    corpus = work / "corpus"
    build_corpus(corpus, args.articles)
    print(f"corpus: {args.articles} articles in {corpus}  (machine: {os.cpu_count()} cores)")

    flags = tuple(args.pipeline_flags.split())
    texts: dict[str, pathlib.Path] = {}

    def pipeline(workers: int):
        def run(r: int) -> dict:
            out = work / f"out{workers}-{r}"
            result = pipeline_run(corpus, out, workers, flags)
            if not texts:  # raw spaCy reads exactly the bodies the pipeline wrote
                texts["all"], texts["ner"] = written_bodies(out, work)
            return result

        return run

    blank = blank_model(work / "blank_model")
    # Each pipeline run sits next to the raw runs it is compared with, so that the machine's
    # drift (up to ~25% over minutes) weighs on both sides of a ratio alike.
    configs = {
        PIPE1: pipeline(1),
        RAW1_NER: lambda r: raw_spacy(texts["ner"], 1),
        RAW1: lambda r: raw_spacy(texts["all"], 1),
        PIPE2: pipeline(2),
        RAW2_NER: lambda r: raw_spacy(texts["ner"], 2),
        RAW2: lambda r: raw_spacy(texts["all"], 2),
        PIPE1_BLANK: lambda r: pipeline_run(corpus, work / f"out-blank-{r}", 1, (*flags, "--spacy_model", str(blank))),
        RAW1_BLANK: lambda r: raw_spacy(texts["all"], 1, blank),
    }
    # With --rounds R each round runs everything in turn, and the figures are the medians. Odd
    # rounds run in the reverse order, so a steady drift does not always favour one side. The
    # first run is a pipeline run: raw spaCy needs its output.
    rounds = {name: [] for name in configs}
    for r in range(args.rounds):
        for name in list(configs)[:: 1 if r % 2 == 0 else -1]:
            rounds[name].append(configs[name](r))
    results = {name: _median_run(runs) for name, runs in rounds.items()}
    print(f"\n{'':<48} {'articles':>8} {'seconds':>8} {'art/s':>7} {'peak RSS MB':>12}")
    for name, r in results.items():
        print(f"{name:<48} {r['articles']:>8} {r['seconds']:>8.1f} {r['articles'] / r['seconds']:>7.2f} {r['peak_rss_mb']:>12}")
    pipe1, pipe2 = _rate(results[PIPE1]), _rate(results[PIPE2])
    n_all, n_ner = results[RAW1]["articles"], results[RAW1_NER]["articles"]
    print(
        f"\nend-to-end / raw spaCy on the same {n_all} bodies: 1 worker {pipe1 / _rate(results[RAW1]):.2f}x "
        f"(target >= 0.95), 2 workers {pipe2 / _rate(results[RAW2]):.2f}x (target >= 0.90)"
    )
    if args.rounds > 1:
        _print_per_round(rounds, ((RAW1, PIPE1), (RAW2, PIPE2)))
    loop = {k: r["articles"] / (r["seconds"] - r["load_seconds"]) for k, r in results.items() if "load_seconds" in r}
    print(
        f"  against the nlp.pipe loop alone (model already loaded, {results[RAW1]['load_seconds']:.1f} s not counted): "
        f"1 worker {pipe1 / loop[RAW1]:.2f}x, 2 workers {pipe2 / loop[RAW2]:.2f}x"
    )
    # One process each: CPU seconds (all threads) against the wall clock show whether a side
    # waited rather than worked (here both work throughout: CPU seconds ~ wall seconds).
    cpu = {k: statistics.median(r["cpu_seconds"] for r in rounds[k]) for k in (PIPE1, RAW1, RAW1_NER)}
    print(
        f"  by CPU seconds in the one process (medians: pipeline {cpu[PIPE1]:.1f}, raw {cpu[RAW1]:.1f}, raw on the "
        f"bodies given NER {cpu[RAW1_NER]:.1f}): 1 worker {cpu[RAW1] / cpu[PIPE1]:.2f}x, like for like {cpu[RAW1_NER] / cpu[PIPE1]:.2f}x"
    )
    # The pipeline ran NER on n_ner bodies only (no model for the others' language): the same
    # work on both sides is raw spaCy on those, with the pipeline's time for all n_all articles.
    like = {k: results[k]["seconds"] for k in (RAW1_NER, RAW2_NER)}
    print(
        f"like for like (the pipeline ran NER on {n_ner} of the {n_all}; raw spaCy on those {n_ner} only): "
        f"1 worker {like[RAW1_NER] / results[PIPE1]['seconds']:.2f}x, 2 workers {like[RAW2_NER] / results[PIPE2]['seconds']:.2f}x"
    )
    if args.rounds > 1:
        _print_per_round(rounds, ((RAW1_NER, PIPE1), (RAW2_NER, PIPE2)))

    costs = stage_costs(corpus, flags)
    ner_ms = 1000 / loop[RAW1]
    own_ms = 1000 * (results[PIPE1_BLANK]["seconds"] - results[RAW1_BLANK]["seconds"]) / n_all
    print(
        f"the pipeline's own work, 1 worker (both sides with a tokenizer-only model, so NER is out): {own_ms:.1f} ms "
        f"per article, start-up included ({100 * own_ms / ner_ms:.0f}% of NER; a 0.95x like for like needs about 5%)"
    )
    print(
        f"per article: NER {ner_ms:.1f} ms, cleaning {costs['clean_ms']:.2f} ms "
        f"({100 * costs['clean_ms'] / ner_ms:.1f}% of NER, target <= 5%), topics {costs['topics_ms']:.2f} ms "
        f"({100 * costs['topics_ms'] / ner_ms:.1f}% of NER, target <= 35%)"
    )
    if args.keep:
        print(f"kept: {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
