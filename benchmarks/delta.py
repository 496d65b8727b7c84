"""What a Delta Lake output costs as its history grows, and what compaction buys a reader.

    python benchmarks/delta.py --commits 1000 [--rows_per_file 20] [--partitions 30] [--checkpoint_interval 100]

In a temporary folder, with the pipeline's own code and no pipeline run:
  (1) a Delta table built by ``--commits`` commits, each like the publish of one small daily
      run: one new Parquet file of ``--rows_per_file`` synthetic articles (ARTICLE_SCHEMA, bodies
      of 2-4 KB, entities and the rest filled in) in the next of ``--partitions`` date=/topic=
      folders, then what the driver's publish does for Delta: ``partition_files()`` (the current
      version's files), ``DeltaLog.committed()`` and ``DeltaLog.commit()``. Every 10th commit also
      replaces the oldest file of the table by a copy under a new name (a rewrite: one remove,
      one more add). Those three calls are timed per commit; the table gives the median of the
      10 commits ending at 10, at every 100 and at the end. delta-rs writes a checkpoint in the
      commit's post-commit hook every ``delta.checkpointInterval`` versions (100 when the table
      does not set it; another ``--checkpoint_interval`` is set as a table property after the
      first commit). Should no checkpoint appear, the benchmark calls ``create_checkpoint()``
      itself every ``--checkpoint_interval`` commits, timed apart. Then the time to open the table.
  (2) a full read (all columns, best of 3) of the table through deltalake and Polars, and of a
      Hive-layout copy of its current files through `schemas.article.read_dataset`; then both
      compacted with `DatasetOutput.compact` under the output's lock (each partition's files
      merged into one), and the same reads again. Row counts must agree across readers.
Results go to ``docs/benchmarks.md`` by hand, with the date and the commit.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import pathlib
import random
import shutil
import statistics
import sys
import tempfile
import time
from importlib import metadata

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import fsspec  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from pipeline.delta_table import DELTA_LOG, DataFile  # noqa: E402
from pipeline.publish import DatasetOutput  # noqa: E402
from schemas.article import ARTICLE_SCHEMA, article_id, read_dataset  # noqa: E402
from transforms.parquet_files import ParquetPart  # noqa: E402

#: delta-rs checkpoints every this many versions when the table does not set delta.checkpointInterval.
DELTA_RS_DEFAULT_INTERVAL = 100
#: Every this many commits, one also replaces an earlier file (a remove and an add).
REWRITE_EVERY = 10
#: Commits per row of the commit table (the median is over these).
WINDOW = 10
TOPICS = ("politics", "business", "sport", "science", "health", "technology", "culture", "world", "climate", "crime")
LABELS = ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT")


# -- synthetic articles ------------------------------------------------------------------


class Articles:
    """Plausible article rows: Zipf-distributed pseudo-words (so the bodies compress about as
    English does), names as entities, every column of ARTICLE_SCHEMA filled as the pipeline does."""

    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)
        syllables = ["ka", "to", "ren", "mi", "sa", "lor", "den", "pe", "vi", "an", "gor", "tel", "is", "mon", "ra", "ul", "be", "nor"]
        words = set()
        while len(words) < 4000:
            words.add("".join(self.rng.choice(syllables) for _ in range(self.rng.choice((1, 1, 2, 2, 2, 3, 3, 4)))))
        self.vocab = sorted(words, key=len)  # short words most frequent, as in English
        self.cum_weights = list(_cumulative(1 / (rank + 1) for rank in range(len(self.vocab))))
        self.names = [
            (" ".join(w.capitalize() for w in self.rng.sample(self.vocab[200:], self.rng.choice((1, 2, 2, 3)))), self.rng.choice(LABELS))
            for _ in range(500)
        ]
        self.count = 0

    def _sentence(self) -> str:
        words = self.rng.choices(self.vocab, cum_weights=self.cum_weights, k=self.rng.randint(8, 24))
        return " ".join(words).capitalize() + "."

    def row(self, date: dt.date, topic: str, run_id: str) -> dict:
        self.count += 1
        k = self.count
        target = self.rng.randint(2000, 4000)
        paragraphs, entities, length = [], [], 0
        while length < target:
            sentences = []
            for _ in range(self.rng.randint(2, 5)):
                sentence = self._sentence()
                if self.rng.random() < 0.4:  # a name opens the sentence: an entity with its offsets
                    name, label = self.rng.choice(self.names)
                    start = length + sum(len(s) + 1 for s in sentences)
                    entities.append({"text": name, "canonical": name, "label": label, "start_char": start, "end_char": start + len(name)})
                    sentence = f"{name} {sentence[0].lower()}{sentence[1:]}"
                sentences.append(sentence)
            paragraphs.append(" ".join(sentences))
            length += len(paragraphs[-1]) + 2
        body = "\n\n".join(paragraphs)
        counts: dict[tuple[str, str], int] = {}
        for e in entities:
            counts[(e["canonical"], e["label"])] = counts.get((e["canonical"], e["label"]), 0) + 1
        jsonl = k % 5 == 0
        source = f"/data/news/{date.isoformat()}/{'feed.jsonl' if jsonl else f'{topic}-{k}.html'}"
        line = k if jsonl else None
        sha = hashlib.sha256(f"{source}:{k}:{body}".encode()).hexdigest()
        scores = sorted(((t, self.rng.random()) for t in self.rng.sample(TOPICS, 5)), key=lambda p: -p[1])
        scores = [(topic, 0.5 + scores[0][1] / 2)] + [p for p in scores if p[0] != topic][:4]
        return {
            "article_id": article_id(f"{source}#L{line}" if line else source, sha),
            "source_path": source,
            "source_bytes": len(body.encode()) + self.rng.randint(300, 9000),
            "content_sha256": sha,
            "source_line": line,
            "input_format": "jsonl" if jsonl else "html",
            "encoding": "utf-8",
            "text_repaired": self.rng.random() < 0.02,
            "url": f"https://news.example.com/{date.year}/{date.month:02d}/{topic}/story-{k}",
            "language": "en",
            "title": " ".join(self.rng.choices(self.vocab, cum_weights=self.cum_weights, k=self.rng.randint(5, 11))).title(),
            "author": self.rng.choice(self.names)[0] if self.rng.random() < 0.7 else None,
            "credit": self.rng.choice(("Reuters", "AP", "AFP", None, None)),
            "dateline": self.rng.choice(self.names)[0].upper() if self.rng.random() < 0.3 else None,
            "published_date": date,
            "date_source": self.rng.choice(("html_meta", "feed", "byline", "dateline")),
            "body": body,
            "word_count": len(body.split()),
            "removed": [{"rule": "boilerplate", "text": self._sentence()} for _ in range(self.rng.randint(0, 3))],
            "entities": entities,
            "entity_summary": [{"name": n, "label": lab, "mentions": m} for (n, lab), m in sorted(counts.items(), key=lambda p: -p[1])],
            "ner_skipped_reason": None,
            "topic_score": scores[0][1],
            "topic_scores": scores,
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "duplicate_of": None,
            "similarity": None,
            "run_id": run_id,
            "processed_at": dt.datetime(date.year, date.month, date.day, 6, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=k),
        }


def _cumulative(values):
    total = 0.0
    for v in values:
        total += v
        yield total


def partitions(count: int) -> list[tuple[dt.date, str]]:
    """``count`` (date, topic) pairs: a few topics on consecutive days."""
    start = dt.date(2025, 1, 1)
    return [(start + dt.timedelta(days=i // len(TOPICS[:3])), TOPICS[i % 3]) for i in range(count)]


def write_file(fs, root: str, partition: str, run_id: str, table: pa.Table) -> DataFile:
    """One Parquet file in the table's folder as a worker writes it; its path relative to the root."""
    part = ParquetPart(fs, os.path.join(root, partition), partition, run_id, "zstd")
    part.write(table)
    part.close()
    rel = os.path.relpath(part.final, root)
    return DataFile(rel, os.path.getsize(part.final), table.num_rows)


def checkpoint_files(root: str) -> set[str]:
    return {f for f in os.listdir(os.path.join(root, DELTA_LOG)) if ".checkpoint" in f and f.endswith(".parquet")}


# -- (1) commits ---------------------------------------------------------------------------


def build_table(root: str, args) -> dict:
    fs = fsspec.filesystem("file")
    articles = Articles()
    places = partitions(args.partitions)
    output = DatasetOutput(root, "delta")
    current: dict[str, DataFile] = {}  # insertion order: the oldest current file first
    timings: list[tuple[float, float, float]] = []
    checkpoint_commits: list[tuple[int, float]] = []  # (commit, seconds) of commits whose hook wrote one
    manual: list[tuple[int, float]] = []  # create_checkpoint() calls the benchmark made itself
    last_checkpoint_at = 0
    altered = False
    for i in range(args.commits):
        date, topic = places[i % len(places)]
        partition = f"date={date.isoformat()}/topic={topic}"
        run_id = f"r{i}"
        table = pa.Table.from_pylist([articles.row(date, topic, run_id) for _ in range(args.rows_per_file)], schema=ARTICLE_SCHEMA)
        adds = [write_file(fs, root, partition, run_id, table)]
        removes = []
        if (i + 1) % REWRITE_EVERY == 0 and current:
            old = next(iter(current.values()))
            with open(os.path.join(root, old.path), "rb") as f:
                kept = pq.read_table(f)
            adds.append(write_file(fs, root, os.path.dirname(old.path), run_id, kept))
            removes.append(old.path)
        before = checkpoint_files(root) if i else set()
        started = time.perf_counter()
        listing = output.partition_files()
        listed = time.perf_counter()
        committed = output.delta.committed()
        asked = time.perf_counter()
        done = output.delta.commit(txn=i + 1, adds=adds, removes=removes, run_id=run_id, operation="incremental")
        finished = time.perf_counter()
        assert done and committed == i and sorted(listing) == sorted(current), (i, committed, len(listing), len(current))
        timings.append((listed - started, asked - listed, finished - asked))
        for path in removes:
            del current[path]
        for f in adds:
            current[f.path] = f
        if checkpoint_files(root) - before:
            checkpoint_commits.append((i + 1, finished - asked))
            last_checkpoint_at = i + 1
        if i == 0 and args.checkpoint_interval != DELTA_RS_DEFAULT_INTERVAL:
            from deltalake import DeltaTable

            # One metadata commit; the app transaction (our commit numbers) is not touched.
            DeltaTable(root).alter.set_table_properties({"delta.checkpointInterval": str(args.checkpoint_interval)})
            altered = True
        if (i + 1) % args.checkpoint_interval == 0 and i + 1 - last_checkpoint_at >= args.checkpoint_interval:
            from deltalake import DeltaTable  # no checkpoint for a whole interval: the hook does not write them

            started = time.perf_counter()
            DeltaTable(root).create_checkpoint()
            manual.append((i + 1, time.perf_counter() - started))
            last_checkpoint_at = i + 1
    return {"timings": timings, "checkpoint_commits": checkpoint_commits, "manual": manual, "altered": altered, "current": current}


def report_commits(args, built: dict, root: str) -> None:
    timings = built["timings"]
    n = len(timings)
    points = sorted({p for p in [WINDOW, *range(100, n + 1, 100), n] if WINDOW <= p <= n} or {n})
    print(f"\n(1) commit cost as the history grows: median of the {WINDOW} commits ending at each row "
          f"(every {REWRITE_EVERY}th commit also removes one file and adds its replacement)")
    header = f"{'commits':>8} {'files':>6} {'median ms':>10} {'listing':>9} {'committed':>10} {'commit':>8}"
    print(f"{header}   {'mean ms since previous row':>26}")
    previous = 0
    for p in points:
        window = timings[max(0, p - WINDOW) : p]
        totals = [sum(t) for t in window]
        parts = [statistics.median(t[k] for t in window) * 1000 for k in range(3)]
        files = p  # a commit adds one file (a rewrite adds one more and removes one)
        span = statistics.mean(sum(t) for t in timings[previous:p]) * 1000
        print(f"{p:>8} {files:>6} {statistics.median(totals) * 1000:>10.1f} {parts[0]:>9.1f} {parts[1]:>10.1f} {parts[2]:>8.1f}   "
              f"{span:>14.1f} (commits {previous + 1}-{p})")
        previous = p
    print("  (listing = DatasetOutput.partition_files(), committed = DeltaLog.committed(), commit = DeltaLog.commit(); "
          "the three columns are medians of their own)")
    log = os.path.join(root, DELTA_LOG)
    entries = os.listdir(log)
    log_mb = sum(os.path.getsize(os.path.join(log, f)) for f in entries) / 2**20
    checkpoints = sorted(checkpoint_files(root))
    interval = args.checkpoint_interval
    how = (f"delta.checkpointInterval={interval} set as a table property after commit 1 (one metadata commit)"
           if built["altered"] else f"the table sets no delta.checkpointInterval: delta-rs default {DELTA_RS_DEFAULT_INTERVAL}")
    print(f"log: {sum(f.endswith('.json') for f in entries)} commit files, {len(checkpoints)} checkpoint files, {log_mb:.1f} MB; {how}")
    if built["checkpoint_commits"]:
        secs = [s for _, s in built["checkpoint_commits"]]
        at = ", ".join(str(c) for c, _ in built["checkpoint_commits"][:5]) + (", ..." if len(secs) > 5 else "")
        print(f"checkpoints written automatically by DeltaLog.commit (post-commit hook) at commits {at}: "
              f"commit() of those commits median {statistics.median(secs) * 1000:.1f} ms, max {max(secs) * 1000:.1f} ms")
    else:
        print("checkpoints written automatically by DeltaLog.commit: none")
    if built["manual"]:
        secs = [s for _, s in built["manual"]]
        print(f"create_checkpoint() called by the benchmark every {interval} commits ({len(secs)} times): "
              f"median {statistics.median(secs) * 1000:.1f} ms, max {max(secs) * 1000:.1f} ms")
    from deltalake import DeltaTable

    def open_ms(version: int | None = None) -> float:
        opens = []
        for _ in range(5):
            started = time.perf_counter()
            DeltaTable(root, version=version)
            opens.append(time.perf_counter() - started)
        return statistics.median(opens) * 1000

    latest = DeltaTable(root).version()
    saved = sorted(int(name.split(".")[0]) for name in checkpoints)
    print(f"open the table (DeltaTable(root)) at version {latest}: median of 5 {open_ms():.1f} ms "
          f"({_replayed(latest, saved)} commit files after the newest checkpoint to replay)")
    # The dearest version to open among the last ones: the most commit files since a checkpoint.
    worst = max(range(max(0, latest - 2 * interval), latest + 1), key=lambda v: (_replayed(v, saved), v))
    if worst != latest:
        print(f"open the table at version {worst} (DeltaTable(root, version={worst})), {_replayed(worst, saved)} commit files "
              f"after its checkpoint: median of 5 {open_ms(worst):.1f} ms")


def _replayed(version: int, checkpoints: list[int]) -> int:
    """How many commit files a reader of ``version`` replays after the newest checkpoint at or before it."""
    base = max((c for c in checkpoints if c <= version), default=-1)
    return version - base


# -- (2) reads, before and after compaction ------------------------------------------------


def best_of(read, times: int = 3) -> tuple[float, int]:
    best, rows = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        n = read()
        best = min(best, time.perf_counter() - started)
        assert rows is None or rows == n
        rows = n
    return best, rows


def reads(root: str, hive: str) -> dict[str, tuple[int, int, float]]:
    """reader -> (files, rows, best seconds)."""
    import polars as pl
    from deltalake import DeltaTable

    delta_files = len(DeltaTable(root).get_add_actions(flatten=True))
    hive_files = len(list(pathlib.Path(hive).glob("date=*/topic=*/*.parquet")))
    found = {}
    for name, files, read in (
        ("delta, deltalake", delta_files, lambda: DeltaTable(root).to_pyarrow_table().num_rows),
        ("delta, polars", delta_files, lambda: pl.read_delta(root).height),
        ("hive, pyarrow", hive_files, lambda: read_dataset(hive).to_table().num_rows),
    ):
        seconds, rows = best_of(read)
        found[name] = (files, rows, seconds)
    return found


def compact(url: str, run_id: str, min_rows: int, max_rows: int) -> float:
    """As ``python -m pipeline.compact`` does it: under the output's lock."""
    output = DatasetOutput(url)
    started = time.perf_counter()
    with output.lock(run_id):
        manifest = output.compact(run_id, min_rows, max_rows)
    assert manifest is not None
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rows_per_file", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=30)
    parser.add_argument("--checkpoint_interval", type=int, default=DELTA_RS_DEFAULT_INTERVAL)
    args = parser.parse_args(argv)
    if args.commits < 2 or args.rows_per_file < 1 or args.partitions < 1 or args.checkpoint_interval < 1:
        parser.error("--commits must be at least 2; the others at least 1")
    import polars as pl

    print(f"cores: {os.cpu_count()} (usable: {len(os.sched_getaffinity(0))}); deltalake {metadata.version('deltalake')}, "
          f"pyarrow {pa.__version__}, polars {pl.__version__}")
    print(f"{args.commits} commits of one file of {args.rows_per_file} synthetic articles each, round-robin over "
          f"{args.partitions} partitions")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="news-ingest-delta-") as tmp:
        root, hive = os.path.join(tmp, "delta"), os.path.join(tmp, "hive")
        built = build_table(root, args)
        report_commits(args, built, root)

        # A Hive-layout copy of the table's current files, same folders and names.
        for f in built["current"].values():
            os.makedirs(os.path.join(hive, os.path.dirname(f.path)), exist_ok=True)
            shutil.copyfile(os.path.join(root, f.path), os.path.join(hive, f.path))
        expected = sum(f.rows for f in built["current"].values())
        data_mb = sum(f.size for f in built["current"].values()) / 2**20
        before = reads(root, hive)
        min_rows = max(2, args.rows_per_file * args.commits)  # above every file: each partition merges into one
        compaction = {"delta": compact(root, "compact-bench", min_rows, 2 * min_rows),
                      "hive": compact(hive, "compact-bench", min_rows, 2 * min_rows)}  # fmt: skip
        after = reads(root, hive)

        print(f"\n(2) full read (all columns, best of 3) before and after compaction ({data_mb:.1f} MB of Parquet before); "
              f"compaction: DatasetOutput.compact under the lock, min_rows {min_rows}")
        print(f"{'reader':<18} {'files':>6} {'rows':>8} {'read s':>8}   {'files':>6} {'rows':>8} {'read s':>8}   {'compaction s':>12}")
        print(f"{'':<18} {'-- before compaction --':>24}   {'-- after compaction --':>24}")
        for name in before:
            b, a = before[name], after[name]
            print(f"{name:<18} {b[0]:>6} {b[1]:>8} {b[2]:>8.3f}   {a[0]:>6} {a[1]:>8} {a[2]:>8.3f}   "
                  f"{compaction[name.split(',')[0]]:>12.2f}")
        counts = {r[1] for r in [*before.values(), *after.values()]}
        assert counts == {expected}, (counts, expected)
        print(f"row counts: {expected} for every reader, before and after compaction")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
