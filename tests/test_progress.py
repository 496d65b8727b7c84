"""Watching a run: progress lines from the workers' counts, time per stage, quiet workers."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter

import pytest

from pipeline.main import run
from pipeline.progress import ProgressReporter, progress_line
from tests.conftest import REPO, SAMPLES
from transforms import progress


def test_line_says_what_is_done_and_what_is_left_once_every_file_is_read():
    counts = Counter(files_read=40, records_read=400, written=100, rejected=4, dropped=6, skipped=10)
    line = progress_line(counts, 125, 181, 20.0)
    assert line.startswith("progress 2m05s: 40/181 files read, 100 articles written (20.0/s), 4 rejected, 6 dropped as duplicates")
    assert "left" not in line  # the number of records is not known until every file is read
    counts["files_read"] = 181
    # 400 records - 10 skipped - 4 rejected - 6 dropped - 100 written = 280 left at 20/s
    assert progress_line(counts, 125, 181, 20.0).endswith("; about 14s left")
    assert "/s" not in progress_line(Counter(), 3, 5, None)


def test_workers_counts_are_summed_from_their_files(tmp_path):
    a, b = progress.ProgressCounter(str(tmp_path)), progress.ProgressCounter(str(tmp_path))
    a.add("written", 3)
    b.add("written", 2)
    b.add("files_read")
    a.flush(), b.flush()
    assert progress.read_progress(str(tmp_path)) == Counter(written=5, files_read=1)
    (tmp_path / progress.PROGRESS_DIR / "torn.json").write_text('{"writ')  # a file being rewritten
    assert progress.read_progress(str(tmp_path))["written"] == 5


def test_reporter_prints_lines_and_keeps_a_timeline(tmp_path):
    worker = progress.ProgressCounter(str(tmp_path))
    lines: list[str] = []
    printed = threading.Event()

    def say(line: str) -> None:
        lines.append(line)
        if len(lines) >= 2:
            printed.set()

    with ProgressReporter(str(tmp_path), total_files=2, interval=0.05, say=say) as reporter:
        worker.add("files_read", 2)
        worker.add("written", 7)
        worker.flush()
        assert printed.wait(10)
    assert any("2/2 files read, 7 articles written" in line for line in lines)
    assert reporter.timeline[-1][1] == 7
    assert all(t1 >= t0 for (t0, _), (t1, _) in zip(reporter.timeline, reporter.timeline[1:]))


@pytest.mark.e2e
def test_manifest_has_time_per_stage_and_the_report_exists(tmp_path, ruler_model):
    out = tmp_path / "out"
    manifest = run(["--input", str(SAMPLES), "--output", str(out), "--topic_model", "keywords", "--spacy_model", ruler_model, "--quiet"])
    on_disk = json.loads((out / "_runs" / f"{manifest['run_id']}.json").read_text())
    assert "Entities" in on_disk["stage_seconds"]  # sampled metrics: a stage of a few ms may read 0 and be left out
    assert on_disk["timeline"] and on_disk["timeline"][-1][1] == manifest["articles_written"]
    assert (out / "_runs" / f"{manifest['run_id']}.html").exists()
    assert not (out / progress.PROGRESS_DIR).exists() and not (out / "_staging").exists()


@pytest.mark.slow
def test_two_local_workers_print_no_beam_chatter(tmp_path, ruler_model):
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--input", str(SAMPLES), "--output", str(tmp_path / "out"), "--topic_model", "keywords",
         "--spacy_model", ruler_model, "--direct_num_workers", "2", "--direct_running_mode", "multi_processing", "--progress_interval", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert result.stdout.splitlines()[0].startswith("run ")
