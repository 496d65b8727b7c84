"""The output contract: lock, publish, and recovery from crashes before and during publish."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline import ledger
from transforms.errors import OutputLocked, UsageError
from pipeline.publish import JOURNAL, DatasetOutput
from tests.test_write import _article
from transforms.write import write_articles


def _stage_run(output: DatasetOutput, run_id: str, partitions: dict[str, int]) -> None:
    """A finished pipeline's staging: Parquet per partition, a rejection file, the summary."""
    stage = output.staging_url(run_id)
    written = {}
    for partition, rows in partitions.items():
        path = f"{stage}/{partition}/part-{run_id}-x-00000.parquet"
        written[path] = rows
        os.makedirs(os.path.dirname(path), exist_ok=True)
        table = pa.table(
            {
                "source_path": [f"in/{partition}/{i}.txt" for i in range(rows)],
                "source_line": pa.array([None] * rows, pa.int32()),
                "content_sha256": [f"{i:064d}" for i in range(rows)],
                "run_id": [run_id] * rows,
            }
        )
        pq.write_table(table, path)
    os.makedirs(f"{stage}/_rejected", exist_ok=True)
    with open(f"{stage}/_rejected/{run_id}.read.jsonl", "w") as f:
        f.write(json.dumps({"source_path": "in/bad.txt", "stage": "read", "error_type": "empty_file"}) + "\n")
    os.makedirs(f"{stage}/_runs", exist_ok=True)
    with open(f"{stage}/_runs/{run_id}.json", "w") as f:
        json.dump({"run_id": run_id, "articles_written": sum(partitions.values()), "written_files": written}, f)
    # A failed bundle attempt's leftover: complete, but reported by no committed output.
    os.makedirs(f"{stage}/date=2025-09-02/topic=sport", exist_ok=True)
    pq.write_table(pa.table({"source_path": ["stray"]}), f"{stage}/date=2025-09-02/topic=sport/part-{run_id}-stray.parquet")


PARTS = {"date=2025-09-02/topic=sport": 2, "date=2025-09-03/topic=politics": 1}


def _published(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.glob("date=*/topic=*/*.parquet"))


def test_publish_moves_the_run_into_place_with_a_manifest(tmp_path):
    output = DatasetOutput(str(tmp_path))
    _stage_run(output, "r1", PARTS)
    manifest = output.publish("r1")
    assert _published(tmp_path) == [
        "date=2025-09-02/topic=sport/part-r1-x-00000.parquet",
        "date=2025-09-03/topic=politics/part-r1-x-00000.parquet",
    ]
    assert not (tmp_path / "_staging").exists()  # the stray file went with it, unpublished
    assert (tmp_path / "_SUCCESS").read_text() == "r1\n"
    on_disk = json.loads((tmp_path / "_runs" / "r1.json").read_text())
    assert on_disk["output_files"] == manifest["output_files"]
    assert sorted(f["rows"] for f in manifest["output_files"]) == [1, 2]
    inputs = [json.loads(line) for line in (tmp_path / "_runs" / "r1.inputs.jsonl").read_text().splitlines()]
    assert sorted(i["outcome"] for i in inputs) == ["rejected", "written", "written", "written"]
    assert (tmp_path / "_rejected" / "r1.read.jsonl").exists()


def test_crash_before_publish_leaves_nothing_visible_and_is_cleaned(tmp_path):
    output = DatasetOutput(str(tmp_path))
    _stage_run(output, "crashed", PARTS)
    assert _published(tmp_path) == []  # staged files are outside the partitions
    assert output.recover() == ["removed the staging of unfinished run crashed"]
    assert not (tmp_path / "_staging").exists()
    assert not list(tmp_path.glob("date=*")) and not (tmp_path / "_runs").exists()


def test_crash_during_publish_is_rolled_forward_without_duplicates(tmp_path):
    output = DatasetOutput(str(tmp_path))
    _stage_run(output, "r2", PARTS)
    stage = tmp_path / "_staging" / "r2"
    files = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file() and p.name != "r2.json" and "stray" not in p.name)
    (stage / JOURNAL).write_text(json.dumps({"run_id": "r2", "files": files}))
    # The crash happened after the first file had moved.
    first = files[0]
    (tmp_path / first).parent.mkdir(parents=True, exist_ok=True)
    os.replace(stage / first, tmp_path / first)
    assert output.recover() == ["rolled forward the interrupted publish of run r2"]
    assert len(_published(tmp_path)) == 2
    assert json.loads((tmp_path / "_runs" / "r2.json").read_text())["run_id"] == "r2"
    assert output.recover() == []


def test_a_second_run_cannot_take_a_live_lock(tmp_path):
    output = DatasetOutput(str(tmp_path))
    with output.lock("first"):
        holder = json.loads((tmp_path / "_lock").read_text())
        assert (holder["run_id"], holder["pid"], holder["host"]) == ("first", os.getpid(), socket.gethostname())
        with pytest.raises(OutputLocked, match="locked by run first"):
            with DatasetOutput(str(tmp_path)).lock("second"):
                pass
    assert not (tmp_path / "_lock").exists()


def test_the_lock_of_a_dead_process_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "_lock").write_text(
        json.dumps({"run_id": "dead", "pid": int(dead.stdout), "host": socket.gethostname(), "started_at": "2026-01-01T00:00:00+00:00"})
    )
    with DatasetOutput(str(tmp_path)).lock("alive"):
        assert json.loads((tmp_path / "_lock").read_text())["run_id"] == "alive"


@pytest.mark.parametrize("content", ["[1]", '"text"', "null", "{not json"])
def test_a_damaged_lock_file_is_taken_over(tmp_path, content):
    """A lock that is not a JSON object names no live run: taken over, not a traceback."""
    (tmp_path / "_lock").write_text(content)
    with DatasetOutput(str(tmp_path)).lock("alive"):
        assert json.loads((tmp_path / "_lock").read_text())["run_id"] == "alive"


def test_a_folder_where_the_lock_goes_is_a_one_line_error(tmp_path):
    (tmp_path / "_lock").mkdir()
    with pytest.raises(UsageError, match="_lock is a folder, where the lock file goes"):
        with DatasetOutput(str(tmp_path)).lock("alive"):
            pass


def _stage_articles(output: DatasetOutput, run_id: str, numbers: list[int], per_file: int = 1) -> None:
    """A finished run's staging with real article files, ``per_file`` articles each (tiny bundles)."""
    import datetime as dt

    import fsspec

    stage = output.staging_url(run_id)
    fs = fsspec.filesystem("file")
    written = {}
    for start in range(0, len(numbers), per_file):
        articles = [_article(i, dt.date(2025, 9, 2)) for i in numbers[start : start + per_file]]
        for w in write_articles(fs, stage, articles, run_id, max_rows_per_file=100):
            written[w.path] = w.rows
    os.makedirs(f"{stage}/_runs", exist_ok=True)
    summary_file = f"{stage}/_runs/{run_id}.json"
    if os.path.exists(summary_file):  # a second call adds to the same run
        written.update(json.load(open(summary_file))["written_files"])
    with open(summary_file, "w") as f:
        json.dump({"run_id": run_id, "articles_written": len(written), "written_files": written}, f)


def test_only_the_small_files_of_a_run_are_merged(tmp_path):
    output = DatasetOutput(str(tmp_path))
    _stage_articles(output, "r1", [10, 11, 12, 13], per_file=4)
    _stage_articles(output, "r1", [1, 2, 3])  # three one-row bundles, same partition
    output.publish("r1", min_rows_per_file=2, max_rows_per_file=4)
    rows = sorted(pq.read_metadata(tmp_path / f).num_rows for f in _published(tmp_path))
    assert rows == [3, 4]  # the big file as it was, the three small ones as one


def test_small_files_are_merged_with_the_partitions_earlier_small_files(tmp_path):
    output = DatasetOutput(str(tmp_path))
    _stage_articles(output, "r1", [1, 2])
    output.publish("r1", min_rows_per_file=3, max_rows_per_file=6)
    first = _published(tmp_path)
    assert len(first) == 1  # the run's two one-row files became one
    assert pq.read_table(tmp_path / first[0]).num_rows == 2  # the partition is smaller than 3

    _stage_articles(output, "r2", [3, 4])
    manifest = output.publish("r2", min_rows_per_file=3, max_rows_per_file=6)
    files = _published(tmp_path)
    assert len(files) == 1 and "part-r2-" in files[0]
    table = pq.read_table(tmp_path / files[0])
    assert sorted(table.column("source_path").to_pylist()) == [f"in/{i}.txt" for i in (1, 2, 3, 4)]
    assert manifest["merged_files"] == first
    outcomes = {i["source_path"]: (i["outcome"], i["file"]) for i in map(json.loads, open(tmp_path / "_runs" / "r2.inputs.jsonl"))}
    assert outcomes == {
        "in/1.txt": ("moved", files[0]),
        "in/2.txt": ("moved", files[0]),
        "in/3.txt": ("written", files[0]),
        "in/4.txt": ("written", files[0]),
    }
    # The ledger follows the rows: every input is known, in the file that holds it now.
    committed = ledger.entries_of(output.index_batches())
    assert {k: v.file for k, v in committed.items()} == {f"in/{i}.txt": files[0] for i in (1, 2, 3, 4)}
    # Moved rows keep the run that wrote them.
    assert {k: v.run_id for k, v in committed.items()} == {"in/1.txt": "r1", "in/2.txt": "r1", "in/3.txt": "r2", "in/4.txt": "r2"}


def test_a_merge_interrupted_after_its_journal_is_rolled_forward(tmp_path, monkeypatch):
    output = DatasetOutput(str(tmp_path))
    _stage_articles(output, "r1", [1, 2])
    output.publish("r1", min_rows_per_file=3, max_rows_per_file=6)
    _stage_articles(output, "r2", [3])
    from transforms import faults

    def crash(point):
        if point == "publish-before-manifest":
            raise SystemExit("crash")

    monkeypatch.setattr(faults, "reached", crash)
    with pytest.raises(SystemExit):
        output.publish("r2", min_rows_per_file=3, max_rows_per_file=6)
    monkeypatch.undo()
    assert output.recover() == ["rolled forward the interrupted publish of run r2"]
    files = _published(tmp_path)
    assert len(files) == 1
    assert pq.read_table(tmp_path / files[0]).num_rows == 3
