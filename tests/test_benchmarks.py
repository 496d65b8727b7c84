"""The benchmark scripts still run (tiny sizes): their figures are for people, in docs/, and are
never asserted; what is asserted is that each compares like with like."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_throughput_benchmark_compares_the_same_bodies():
    result = subprocess.run(
        [sys.executable, "benchmarks/throughput.py", "--articles", "6"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {line[:48].strip(): line[48:].split() for line in result.stdout.splitlines() if line.startswith(("raw", "pipeline"))}
    # Raw spaCy reads exactly the bodies the pipeline wrote, and of those, the ones it ran NER on.
    written = rows["pipeline, DirectRunner 1 worker"][0]
    assert rows["raw spaCy, 1 process"][0] == rows["raw spaCy, n_process=2"][0] == written == "6"
    assert 0 < int(rows["raw spaCy on the bodies given NER, 1 process"][0]) <= 6


def test_planning_benchmark_keeps_only_the_matched_entries():
    result = subprocess.run(
        [sys.executable, "benchmarks/planning.py", "--committed", "5000", "--new", "20"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # 20 new files and the 100 committed ones in the same folder; only those 100 entries are kept.
    assert re.search(r"planning a run of 120 files \(20 new\): .*\(imports .*; 100 committed entries kept\)", result.stdout), result.stdout
    assert "index update at publish (5,120 rows after)" in result.stdout


def test_delta_benchmark_reads_the_same_rows_everywhere():
    result = subprocess.run(
        [sys.executable, "benchmarks/delta.py", "--commits", "30", "--rows_per_file", "3", "--partitions", "4",
         "--checkpoint_interval", "10"],  # fmt: skip
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # reader, files, rows, seconds before compaction; files, rows, seconds after; compaction seconds
    rows = {
        m[1]: (int(m[2]), int(m[3]), int(m[4]), int(m[5]))
        for m in re.finditer(r"^((?:delta|hive), \w+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+(\d+)\s+(\d+)\s+[\d.]+\s+[\d.]+$", result.stdout, re.M)
    }
    assert set(rows) == {"delta, deltalake", "delta, polars", "hive, pyarrow"}, result.stdout
    # 30 files of 3 rows (rewrites replace a file by a copy), merged into one file per partition.
    assert set(rows.values()) == {(30, 90, 4, 90)}, result.stdout
    assert "row counts: 90 for every reader, before and after compaction" in result.stdout
