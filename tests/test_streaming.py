"""``--streaming``: a job that watches a folder, publishes each window, stops on SIGTERM and
starts again without processing any file twice. Every wait is bounded."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from schemas.article import read_dataset
from tests.conftest import REPO, SAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _start(inbox, out, ruler_model, *flags):
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--streaming", "--input", str(inbox), "--output", str(out),
         "--topic_model", "keywords", "--spacy_model", ruler_model, "--watch_interval", "0.5", "--window_seconds", "1", *flags],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait(condition, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    raise TimeoutError(f"not within {seconds} s")


def _index(out):
    path = out / "_index" / "inputs.parquet"
    return pq.read_table(path).to_pylist() if path.exists() else []


def _stop(job):
    job.send_signal(signal.SIGTERM)
    stdout, stderr = job.communicate(timeout=30)  # stops within a bounded time
    assert job.returncode in (0, 3), stderr[-2000:]
    return stdout


def test_a_watched_folder_is_published_window_by_window_and_survives_a_restart(tmp_path, ruler_model):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    texts = sorted(SAMPLES.glob("00[0-4]_*.txt"))
    job = _start(inbox, out, ruler_model)
    try:
        shutil.copy(texts[0], inbox / "a.txt")
        time.sleep(1.5)
        shutil.copy(texts[1], inbox / "b.txt")
        (inbox / "bad.txt").write_bytes(b"")  # one bad file never stops the stream
        _wait(lambda: {os.path.basename(e["source_path"]) for e in _index(out)} == {"a.txt", "b.txt", "bad.txt"})
    finally:
        stdout = _stop(job)
    assert "stopped:" in stdout
    assert not (out / "_lock").exists()  # the lock is released
    outcomes = {os.path.basename(e["source_path"]): e["outcome"] for e in _index(out)}
    assert outcomes == {"a.txt": "written", "b.txt": "written", "bad.txt": "rejected"}

    job = _start(inbox, out, ruler_model)  # the same files again, and one more
    try:
        shutil.copy(texts[2], inbox / "c.txt")
        _wait(lambda: len(_index(out)) == 4)
        time.sleep(2)  # a window more: nothing already committed comes back
    finally:
        _stop(job)
    rows = read_dataset(str(out)).to_table().to_pylist()
    assert sorted(os.path.basename(r["source_path"]) for r in rows) == ["a.txt", "b.txt", "c.txt"]
    manifests = [json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")]
    assert sum(m["articles_written"] for m in manifests) == 3  # every file exactly once


def test_a_stream_into_a_delta_table_commits_each_window_once(tmp_path, ruler_model):
    from deltalake import DeltaTable

    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    texts = sorted(SAMPLES.glob("00[0-4]_*.txt"))
    job = _start(inbox, out, ruler_model, "--table_format", "delta")
    try:
        shutil.copy(texts[0], inbox / "a.txt")
        _wait(lambda: len(_index(out)) == 1)
        shutil.copy(texts[1], inbox / "b.txt")
        _wait(lambda: len(_index(out)) == 2)
    finally:
        _stop(job)
    table = DeltaTable(str(out))
    rows = table.to_pyarrow_table(columns=["source_path"]).to_pylist()
    assert sorted(os.path.basename(r["source_path"]) for r in rows) == ["a.txt", "b.txt"]
    manifests = [json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")]
    assert len(manifests) == len(table.history()) == 2  # a window, a commit
    assert sorted(m["delta_transaction"] for m in manifests) == [1, 2]


def test_a_stop_request_is_never_taken_for_a_failed_article_or_batch():
    # The signal handler raises it wherever the window's pipeline is: the stages' guards must
    # let it through, so the window stops unpublished.
    from pipeline.watch import StopRequested
    from transforms.failures import batch_or_one_by_one, run_guarded

    def stopped(_):
        raise StopRequested("SIGTERM")

    with pytest.raises(StopRequested):
        list(batch_or_one_by_one("entities", [1, 2], stopped))
    with pytest.raises(StopRequested):
        list(run_guarded("clean", 1, stopped))
