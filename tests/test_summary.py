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
from transforms.write import WrittenFile

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
    assert "7 files matched, 8 records read, 6 articles written, 2 rejected" in format_summary(summary)


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
