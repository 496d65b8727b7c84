"""Run modes end to end: incremental re-runs, changed inputs, partition overwrite, rebuild, dry run."""
from __future__ import annotations

import json
import shutil

import pytest

from pipeline.main import run
from schemas.article import read_dataset
from tests.conftest import SAMPLES

pytestmark = pytest.mark.e2e


def _rows(out):
    return read_dataset(str(out)).to_table().to_pylist()


def test_incremental_rerun_skips_unchanged_and_replaces_changed(inbox, tmp_path, capsys):
    out = tmp_path / "out"
    first = run(["--input", str(inbox), "--output", str(out), "--run_id", "r1"])
    assert (first["articles_written"], first["skipped"]) == (4, 0)

    again = run(["--input", str(inbox), "--output", str(out), "--run_id", "r2"])
    assert (again["articles_written"], again["skipped"], again["files_written"]) == (0, 4, 0)
    assert again["published"] is False  # a no-op run leaves no trace in the output
    assert len(_rows(out)) == 4

    changed = inbox / next(p.name for p in inbox.iterdir() if p.name.startswith("003"))
    changed.write_text(changed.read_text("utf-8").replace("Chinese chief Xi Jinping", "Chinese leader Xi Jinping"), "utf-8")
    third = run(["--input", str(inbox), "--output", str(out), "--run_id", "r3"])
    assert (third["articles_written"], third["skipped"]) == (1, 3)
    assert [r["rows_removed"] for r in third["rewritten_files"]] == [1]
    rows = _rows(out)
    assert len(rows) == 4  # replaced, not duplicated
    (new,) = [r for r in rows if r["source_path"].endswith(changed.name)]
    assert new["body"].startswith("Chinese leader Xi Jinping") and new["run_id"] == "r3"
    assert len({r["content_sha256"] for r in rows}) == 4

    capsys.readouterr()
    plan = run(["--input", str(inbox), "--output", str(out), "--dry_run"])
    assert plan["by_status"] == {"skip:unchanged": 4}
    assert "dry run (incremental)" in capsys.readouterr().out
    assert sorted(p.name for p in (out / "_runs").glob("*.json")) == ["r1.json", "r3.json"]


@pytest.mark.slow
def test_overwrite_partitions_and_rebuild_replace_what_they_cover(inbox, tmp_path):
    out = tmp_path / "out"
    run(["--input", str(inbox), "--output", str(out), "--run_id", "r1"])
    only_000 = str(next(inbox.glob("000_*.txt")))

    overwrite = run(["--input", only_000, "--output", str(out), "--run_id", "r2", "--mode", "overwrite_partitions"])
    assert overwrite["replaced_files"] == ["date=2025-09-02/topic=politics/" + _file_of(out, "r1", "date=2025-09-02")]
    rows = _rows(out)
    assert len(rows) == 4 and {r["run_id"] for r in rows if r["published_date"]} == {"r2"}

    rebuild = run(["--input", only_000, "--output", str(out), "--run_id", "r3", "--mode", "rebuild"])
    assert len(rebuild["replaced_files"]) == 2
    assert [r["run_id"] for r in _rows(out)] == ["r3"]
    # After a rebuild the dropped inputs are forgotten: an incremental run ingests them again.
    back = run(["--input", str(inbox), "--output", str(out), "--run_id", "r4"])
    assert (back["articles_written"], back["skipped"]) == (3, 1)
    assert len(_rows(out)) == 4


def _file_of(out, run_id, partition_prefix):
    manifest = json.loads((out / "_runs" / f"{run_id}.json").read_text())
    (path,) = [f["path"] for f in manifest["output_files"] if f["path"].startswith(partition_prefix)]
    return path.rsplit("/", 1)[1]


def test_incompatible_existing_schema_stops_before_any_work(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from transforms.errors import UsageError

    partition = tmp_path / "out" / "date=2025-01-01" / "topic=sport"
    partition.mkdir(parents=True)
    pq.write_table(pa.table({"body": [1, 2], "legacy_score": [0.1, 0.2]}), partition / "part-old.parquet")
    with pytest.raises(UsageError) as info:
        run(["--input", str(SAMPLES / "000_*.txt"), "--output", str(tmp_path / "out")])
    message = str(info.value)
    assert "body is int64 there but string here" in message
    assert "legacy_score (double) is not in schema" in message
    assert not (tmp_path / "out" / "_runs").exists() and not (tmp_path / "out" / "_lock").exists()


def test_overwrite_partitions_says_which_other_inputs_lost_their_rows(tmp_path, capsys):
    inbox = tmp_path / "in"
    inbox.mkdir()
    original = next(SAMPLES.glob("000_*.txt"))
    shutil.copy(original, inbox / "a.txt")
    (inbox / "b.txt").write_text(original.read_text("utf-8").replace("Beijing", "Beijing's"), "utf-8")  # same date and topic
    out = tmp_path / "out"
    common = ["--output", str(out), "--topic_model", "keywords"]
    run(["--input", str(inbox), *common])
    capsys.readouterr()
    again = run(["--input", str(inbox / "a.txt"), *common, "--mode", "overwrite_partitions"])
    assert again["inputs_forgotten"] == 1
    assert "with the rows of 1 input this run did not process" in capsys.readouterr().out
    assert [r["source_path"].rsplit("/", 1)[1] for r in _rows(out)] == ["a.txt"]


def test_a_rebuild_counts_only_the_inputs_whose_rows_it_removed(tmp_path, capsys):
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(next(SAMPLES.glob("000_*.txt")), inbox / "a.txt")
    (inbox / "empty.txt").write_bytes(b"")  # rejected: it never had a row
    out = tmp_path / "out"
    common = ["--output", str(out), "--topic_model", "keywords"]
    run(["--input", str(inbox), *common])
    rebuild = run(["--input", str(inbox / "a.txt"), *common, "--mode", "rebuild"])
    assert rebuild["inputs_forgotten"] == 0
    assert "with the rows of" not in capsys.readouterr().out
