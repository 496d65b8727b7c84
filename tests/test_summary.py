"""Dead-letter files and the run summary, as transforms."""
from __future__ import annotations

import json
import uuid

import apache_beam as beam
import fsspec

from pipeline.summary import SummarizeRun, format_summary, summary_path
from tests.conftest import test_pipeline
from transforms.failures import Rejection, WriteRejections
from transforms.read import FileRead
from transforms.parquet_files import WrittenFile

REJECTIONS = [
    Rejection("in/a.txt", "read", "empty_file", "file is empty"),
    Rejection("in/b.txt", "clean", "no_text_after_cleaning", "no text left"),
    Rejection("in/c*.txt", "match", "no_match", "the input pattern matched no file"),
]
WRITTEN = [
    WrittenFile("date=2025-09-02/topic=sport", "x/1.parquet", 3),
    WrittenFile("date=2025-09-02/topic=sport", "x/2.parquet", 2),
    WrittenFile("date=2025-09-03/topic=politics", "x/3.parquet", 1),
]


def test_rejections_land_as_json_lines_per_stage():
    root = f"memory:///rejections-{uuid.uuid4().hex}"
    with test_pipeline() as p:
        _ = p | beam.Create(REJECTIONS) | WriteRejections(root, "r1")
    fs = fsspec.filesystem("memory")
    files = sorted(fs.glob(f"{root}/_rejected/*.jsonl"))
    assert [f.rsplit("/", 1)[-1] for f in files] == ["r1.clean.jsonl", "r1.match.jsonl", "r1.read.jsonl"]
    read = [json.loads(line) for line in fs.cat(files[2]).decode().splitlines()]
    assert read == [
        {"source_path": "in/a.txt", "stage": "read", "error_type": "empty_file", "message": "file is empty", "content_sha256": None, "source_line": None}
    ]


def test_summary_counts_every_input():
    root = f"memory:///summary-{uuid.uuid4().hex}"
    matched = [f"in/{i}.txt" for i in range(7)]  # one of them a JSON Lines file of two records
    reads = [FileRead(path, 2 if path == "in/0.txt" else 1) for path in matched]  # 6 written + 2 rejected
    with test_pipeline() as p:
        events = (
            p | "Matched" >> beam.Create(matched),
            p | "Reads" >> beam.Create(reads),
            p | "Written" >> beam.Create(WRITTEN),
            p | "Rejected" >> beam.Create(REJECTIONS),
        )
        _ = events | SummarizeRun(root, {"run_id": "r1"})
    with fsspec.open(summary_path(root, "r1")) as f:
        summary = json.load(f)
    assert summary["files_matched"] == 7
    assert summary["records_read"] == 8
    assert summary["articles_written"] == 6
    assert summary["articles_rejected"] == 2
    assert summary["match_rejections"] == 1
    assert summary["files_written"] == 3
    assert summary["rejected_by_stage"] == {"clean": 1, "match": 1, "read": 1}
    assert summary["rows_per_partition"] == {"date=2025-09-02/topic=sport": 5, "date=2025-09-03/topic=politics": 1}
    assert summary["all_inputs_accounted_for"] is True
    printed = format_summary(summary).splitlines()
    assert printed[0] == "run r1: 6 articles written, 2 rejected, 0 skipped (8 records in 7 files)"
    # The headline's rejections are records'; an input that matched no file has a line of its own.
    assert [line.split(";")[0] for line in printed if line.startswith(("  rejected:", "  not read:"))] == [
        "  not read: 1 match:no_match", "  rejected: 1 clean:no_text_after_cleaning, 1 read:empty_file",
    ]


def _summary(**fields):
    base = {
        "run_id": "r9", "output": "/data/news", "articles_written": 1, "articles_rejected": 0, "skipped": 0,
        "records_read": 1, "files_matched": 1, "rejected_by_reason": {}, "rows_per_partition": {},
        "all_inputs_accounted_for": True,
    }  # fmt: skip
    return {**base, **fields}


def test_the_printed_summary_stays_short_and_speaks_plainly():
    partitions = {f"date=2025-09-{d:02d}/topic=t{t}": d + t for d in range(1, 31) for t in range(3)}
    rejected = {"read:empty_file": 3, "read:binary_content": 1, "clean:no_text_after_cleaning": 2, "read:too_large": 1, "x:y": 1}
    summary = _summary(
        articles_written=sum(partitions.values()), articles_rejected=8, records_read=2000, files_matched=1900,
        rows_per_partition=partitions, rejected_by_reason=rejected,
        rejection_files=["_rejected/r9.read.jsonl", "_rejected/r9.clean.jsonl"],
        skipped=7, skipped_by_reason={"unchanged": 4, "stale": 2, "rejected_before": 1}, stale_settings=["topic_model"],
        ner_articles_per_worker={"host:123": 5}, merged_files=["a"],
    )  # fmt: skip
    lines = format_summary(summary).splitlines()
    assert len(lines) <= 15
    assert "90 partitions: date=2025-09-30/topic=t2 (32), date=2025-09-29/topic=t2 (31)" in lines[-1]
    assert lines[-1].endswith("and 87 more")
    assert "  rejected: 3 read:empty_file, 2 clean:no_text_after_cleaning, 1 read:binary_content, 2 other reasons" in lines
    assert "  reasons in /data/news/_rejected/r9.*.jsonl" in lines
    assert any("2 inputs written with other settings (topic_model)" in line and "--reprocess_stale" in line for line in lines)
    assert not any("NER" in line or "merged" in line for line in lines)  # internals only with --verbose
    verbose = format_summary(summary, verbose=True).splitlines()
    assert len(verbose) > 90 and any("NER articles per worker process" in line for line in verbose)

    one = format_summary(_summary(rows_per_partition={"date=2025-09-01/topic=sport": 1}))
    assert one.splitlines() == [
        "run r9: 1 article written, 0 rejected, 0 skipped (1 record in 1 file)",
        "  1 partition: date=2025-09-01/topic=sport (1)",
    ]


def test_summary_flags_a_lost_input():
    root = f"memory:///summary-{uuid.uuid4().hex}"
    with test_pipeline() as p:
        events = (
            p | "Matched" >> beam.Create(["a", "b"]),
            p | "Reads" >> beam.Create([FileRead("a", 1), FileRead("b", 1)]),
            p | "Written" >> beam.Create(WRITTEN[2:]),
        )
        _ = events | SummarizeRun(root, {"run_id": "r2"})
    with fsspec.open(summary_path(root, "r2")) as f:
        summary = json.load(f)
    assert summary["all_inputs_accounted_for"] is False
    assert "ERROR" in format_summary(summary)


def test_windows_keep_their_own_rejection_files_and_summaries():
    """With windowed input (a stream), each window's rejections and counts are its own files."""
    from apache_beam.transforms import window

    from transforms.failures import WriteRejections

    root = f"memory:///windows-{uuid.uuid4().hex}"
    rejections = [Rejection(f"in/{i}.txt", "read", "empty_file", "file is empty") for i in range(4)]
    with test_pipeline() as p:
        stamped = (
            p
            | beam.Create(list(enumerate(rejections)))
            | beam.Map(lambda pair: window.TimestampedValue(pair[1], pair[0] * 60))
            | beam.WindowInto(window.FixedWindows(60))
        )
        _ = stamped | WriteRejections(root, "r1")
        _ = (stamped,) | SummarizeRun(root, {"run_id": "r1"})
    fs, path = fsspec.core.url_to_fs(root)
    written = sorted(p.rsplit("/", 1)[1] for p in fs.find(path))
    assert len([n for n in written if n.startswith("r1.read.w") and n.endswith(".jsonl")]) == 4
    assert len([n for n in written if n.startswith("r1.w") and n.endswith(".json")]) == 4
