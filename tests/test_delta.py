"""--table_format delta: each run one Delta commit, idempotent after a crash, time travel, the
same rows as the Hive layout, readers never see a partial run."""
from __future__ import annotations

import threading

import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from pipeline import publish as publish_module
from pipeline.delta_table import APP_ID, DataFile, DeltaLog, RUN_KEY, SCHEMA_KEY
from pipeline.main import run
from pipeline.publish import DatasetOutput
from schemas.article import SCHEMA_VERSION, read_dataset
from transforms.errors import UsageError

pytestmark = pytest.mark.e2e

KEY = ["source_path", "source_line"]
COLUMNS = ["source_path", "source_line", "date", "topic", "body", "duplicate_of"]


def _delta(out, inbox, run_id, *flags):
    return run(["--input", str(inbox), "--output", str(out), "--run_id", run_id, "--table_format", "delta", "--quiet", *flags])


def _rows(table) -> list[tuple]:
    """Rows as sorted tuples of COLUMNS (dates as strings, whatever the reader's type)."""
    rows = table.select(COLUMNS).to_pylist()
    return sorted(tuple(str(r[c]) if c == "date" and r[c] is not None else r[c] for c in COLUMNS) for r in rows)


def _correct(inbox, prefix="003"):
    changed = next(inbox.glob(f"{prefix}_*.txt"))
    changed.write_text(changed.read_text("utf-8") + "\n\nA correction was appended to this article.\n", "utf-8")
    return changed


def test_each_run_is_one_commit_with_time_travel_and_the_rows_of_the_hive_layout(inbox, tmp_path):
    out, hive = tmp_path / "delta", tmp_path / "hive"
    first = _delta(out, inbox, "r1")
    run(["--input", str(inbox), "--output", str(hive), "--run_id", "r1", "--quiet"])
    assert first["table_format"] == "delta" and first["articles_written"] == 4
    v0 = _rows(DeltaTable(str(out)).to_pyarrow_table())
    changed = _correct(inbox)
    third = _delta(out, inbox, "r3")
    run(["--input", str(inbox), "--output", str(hive), "--run_id", "r3", "--quiet"])
    assert [r["rows_removed"] for r in third["rewritten_files"]] == [1]

    table = DeltaTable(str(out))
    assert table.version() == 1 and table.transaction_version(APP_ID) == 2
    history = {h["version"]: h for h in table.history()}
    assert [history[v][RUN_KEY] for v in (0, 1)] == ["r1", "r3"]
    assert history[1][SCHEMA_KEY] == SCHEMA_VERSION  # the files' key-value metadata is not in the table

    now = _rows(table.to_pyarrow_table())
    assert len(now) == 4 and len({r[:2] for r in now}) == 4  # the changed input replaced, not duplicated
    (new,) = [r for r in now if r[0].endswith(changed.name)]
    assert new[4].endswith("A correction was appended to this article.")
    assert now == _rows(read_dataset(str(hive)).to_table())  # the same rows as the Hive layout of the same runs
    assert now == _rows(pl.read_delta(str(out)).to_arrow())  # Polars reads the table too
    # Time travel: version 0 is the first run's rows, as it was (the file the second run replaced stays until vacuum).
    assert _rows(DeltaTable(str(out), version=0).to_pyarrow_table()) == v0 != now
    assert _rows(pl.read_delta(str(out), version=0).to_arrow()) == v0

    # The committed-input index names only files of the current version.
    output = DatasetOutput(str(out))
    files = set(output.partition_files())
    assert output.table_format == "delta" and len(files) == len(table.file_uris())
    indexed = {f for f in pq.read_table(out / "_index" / "inputs.parquet")["file"].to_pylist() if f}
    assert indexed and indexed <= files

    # An unchanged re-run commits nothing.
    again = _delta(out, inbox, "r4")
    assert again["published"] is False and DeltaTable(str(out)).version() == 1


def test_overwrite_partitions_and_rebuild_are_one_commit_each(inbox, tmp_path):
    out = tmp_path / "delta"
    _delta(out, inbox, "r1")
    before = _rows(DeltaTable(str(out)).to_pyarrow_table())
    only_000 = str(next(inbox.glob("000_*.txt")))
    run(["--input", only_000, "--output", str(out), "--run_id", "r2", "--table_format", "delta", "--quiet", "--mode", "overwrite_partitions"])
    after = _rows(DeltaTable(str(out)).to_pyarrow_table())
    (partition,) = {r[2:4] for r in after if r[0] == only_000}
    assert [r for r in after if r[2:4] != partition] == [r for r in before if r[2:4] != partition]
    assert [r[0] for r in after if r[2:4] == partition] == [only_000]

    rebuilt = run(["--input", only_000, "--output", str(out), "--run_id", "r3", "--table_format", "delta", "--quiet", "--mode", "rebuild"])
    assert rebuilt["published"]
    table = DeltaTable(str(out))
    assert table.version() == 2 and [r[0] for r in _rows(table.to_pyarrow_table())] == [only_000]
    assert _rows(DeltaTable(str(out), version=0).to_pyarrow_table()) == before


def test_a_publish_that_died_after_its_commit_is_rolled_forward_without_a_second_commit(inbox, tmp_path, monkeypatch):
    out = tmp_path / "delta"
    _delta(out, inbox, "r1")
    _correct(inbox)

    def die(point):
        if point == "publish-after-commit":
            raise KeyboardInterrupt  # the driver dies between the commit and the manifest

    monkeypatch.setattr(publish_module.faults, "reached", die)
    with pytest.raises(KeyboardInterrupt):
        _delta(out, inbox, "r2")
    monkeypatch.undo()
    assert DeltaTable(str(out)).version() == 1 and not (out / "_runs" / "r2.json").exists()

    again = _delta(out, inbox, "r3")  # rolls r2 forward first; r2 has committed, so nothing is left to do
    table = DeltaTable(str(out))
    assert table.version() == 1 and (out / "_runs" / "r2.json").exists()
    assert again["published"] is False and again["skipped"] == 4
    rows = _rows(table.to_pyarrow_table())
    assert len(rows) == 4 and len({r[:2] for r in rows}) == 4


def test_a_commit_is_made_once_and_never_adds_a_file_twice(tmp_path):
    folder = tmp_path / "t" / "date=2025-01-02" / "topic=sport"
    folder.mkdir(parents=True)
    path = folder / "part-a.parquet"
    from schemas.article import ARTICLE_SCHEMA

    pq.write_table(ARTICLE_SCHEMA.empty_table(), path)
    log = DeltaLog(str(tmp_path / "t"))
    added = DataFile("date=2025-01-02/topic=sport/part-a.parquet", path.stat().st_size, 0)
    assert log.committed() == 0
    assert log.commit(1, [added], [], "r1") is True
    assert log.commit(1, [added], [], "r1") is False  # already in the log: nothing done
    assert log.version() == 0 and log.committed() == 1
    with pytest.raises(RuntimeError, match="already in the table"):
        log.commit(2, [added], [], "r2")
    assert log.version() == 0


def test_an_output_stays_in_its_format(inbox, tmp_path):
    hive, delta = tmp_path / "hive", tmp_path / "delta"
    run(["--input", str(inbox), "--output", str(hive), "--quiet"])
    with pytest.raises(UsageError, match=r"holds a Hive-layout dataset: convert it first \(python -m pipeline.convert"):
        _delta(hive, inbox, "r2")
    _delta(delta, inbox, "r1")
    with pytest.raises(UsageError, match="is a Delta table: run with --table_format delta"):
        run(["--input", str(inbox), "--output", str(delta), "--quiet"])


def test_a_reader_looping_through_publishes_never_sees_a_partial_run(inbox, tmp_path):
    out = tmp_path / "delta"
    _delta(out, inbox, "r0")
    seen, problems, stop = [], [], threading.Event()

    def read_loop():
        while not stop.is_set():
            table = DeltaTable(str(out))
            rows = table.to_pyarrow_table(columns=KEY).to_pylist()
            keys = [(r["source_path"], r["source_line"]) for r in rows]
            seen.append(table.version())
            if len(keys) != 4 or len(set(keys)) != 4:
                problems.append((table.version(), keys))

    reader = threading.Thread(target=read_loop)
    reader.start()
    try:
        for i in range(1, 4):
            _correct(inbox, prefix=f"00{i}")
            _delta(out, inbox, f"r{i}", "--min_rows_per_file", "1")
    finally:
        stop.set()
        reader.join()
    assert not problems
    assert DeltaTable(str(out)).version() == 3 and len(set(seen)) >= 2
