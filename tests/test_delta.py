"""--table_format delta: each run one Delta commit, idempotent after a crash, time travel, the
same rows as the Hive layout, readers never see a partial run."""
from __future__ import annotations

import json
import threading

import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from pipeline import publish as publish_module
from pipeline.delta_table import APP_ID, DataFile, DeltaLog, RUN_KEY, SCHEMA_KEY
from pipeline.main import run as run_pipeline
from pipeline.publish import DatasetOutput
from schemas.article import SCHEMA_VERSION, read_dataset
from transforms.errors import UsageError

pytestmark = pytest.mark.e2e

KEY = ["source_path", "source_line"]
_FAST: list[str] = []


@pytest.fixture(autouse=True)
def _fast_models(ruler_model):
    """What is tested here is the table, not NER or topics: the rule-based model, keyword topics."""
    _FAST[:] = ["--spacy_model", ruler_model, "--topic_model", "keywords"]


def run(argv):
    return run_pipeline([*argv, *_FAST])
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


@pytest.mark.slow
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


@pytest.mark.slow
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
    assert log.commit(1, [added], [], "r1", "WRITE") is True
    assert log.commit(1, [added], [], "r1", "WRITE") is False  # already in the log: nothing done
    assert log.version() == 0 and log.committed() == 1
    with pytest.raises(RuntimeError, match="already in the table"):
        log.commit(2, [added], [], "r2", "WRITE")
    assert log.version() == 0


def test_a_damaged_commit_file_is_a_one_line_error(inbox, tmp_path, capsys):
    """A truncated commit in _delta_log/ was a Python traceback and a Rust backtrace."""
    from pipeline.inspect import main as inspect_main

    out = tmp_path / "delta"
    _delta(out, inbox, "r1")
    commit = out / "_delta_log" / f"{0:020d}.json"
    commit.write_bytes(commit.read_bytes()[:300])
    with pytest.raises(UsageError, match=r"its Delta log cannot be read \(.*\): restore _delta_log/ from a backup"):
        _delta(out, inbox, "r2")
    capsys.readouterr()
    assert inspect_main([str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "its Delta log cannot be read" in err


def test_an_output_stays_in_its_format(inbox, tmp_path):
    hive, delta = tmp_path / "hive", tmp_path / "delta"
    run(["--input", str(inbox), "--output", str(hive), "--quiet"])
    with pytest.raises(UsageError, match=r"holds a Hive-layout dataset: convert it first \(python -m pipeline.convert"):
        _delta(hive, inbox, "r2")
    _delta(delta, inbox, "r1")
    with pytest.raises(UsageError, match="is a Delta table: run with --table_format delta"):
        run(["--input", str(inbox), "--output", str(delta), "--quiet"])


@pytest.mark.slow
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


def _files_by_partition(output: DatasetOutput) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rel in output.partition_files():
        counts[rel.rsplit("/", 1)[0]] = counts.get(rel.rsplit("/", 1)[0], 0) + 1
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("table_format", [pytest.param("hive", marks=pytest.mark.slow), "delta"])
def test_compaction_merges_small_files_and_the_index_follows_the_rows(inbox, tmp_path, table_format):
    from pipeline.compact import main as compact

    out = tmp_path / "out"
    flags = ["--table_format", table_format, "--min_rows_per_file", "1", "--quiet"]
    for i, path in enumerate(sorted(inbox.glob("00*.txt"))):  # a run per article: one file each
        run(["--input", str(path), "--output", str(out), "--run_id", f"r{i}", *flags])
    output = DatasetOutput(str(out))
    before = _rows(read_dataset(str(out)).to_table() if table_format == "hive" else DeltaTable(str(out)).to_pyarrow_table())
    assert max(_files_by_partition(output).values()) >= 2

    signatures = lambda: sorted((out / "_index").glob("minhash-*.parquet"))  # noqa: E731
    assert len(signatures()) >= 4  # a file per bundle of each run
    assert compact([str(out), "--min_rows_per_file", "5", "--max_rows_per_file", "10", "--run_id", "c1"]) == 0
    assert set(_files_by_partition(output).values()) == {1}
    (merged_signatures,) = signatures()  # one file, the articles' signatures, none lost
    assert sorted(pq.read_table(merged_signatures)["source_id"].to_pylist()) == sorted(r[0] for r in before)
    read = (lambda: read_dataset(str(out)).to_table()) if table_format == "hive" else (lambda: DeltaTable(str(out)).to_pyarrow_table())
    assert _rows(read()) == before
    indexed = {f for f in pq.read_table(out / "_index" / "inputs.parquet")["file"].to_pylist() if f}
    assert indexed <= set(output.partition_files())
    manifest = json.loads((out / "_runs" / "c1.json").read_text())
    assert manifest["mode"] == "compact" and len(manifest["merged_files"]) > len(manifest["output_files"])
    if table_format == "delta":
        log = [json.loads(line) for line in (out / "_delta_log" / f"{4:020d}.json").read_text().splitlines()]
        assert {a["add"]["dataChange"] for a in log if "add" in a} == {False}
        assert {a["remove"]["dataChange"] for a in log if "remove" in a} == {False}
    # A later run that replaces a merged article's row still replaces it, not duplicates it.
    _correct(inbox, "001")
    run(["--input", str(inbox), "--output", str(out), "--run_id", "r9", *flags])
    rows = _rows(read())
    assert len(rows) == 4 and len({r[:2] for r in rows}) == 4
    assert compact([str(out), "--min_rows_per_file", "5", "--max_rows_per_file", "10", "--run_id", "c2"]) == 0
    (merged_signatures,) = signatures()  # the replaced article's old signature is gone
    assert len(pq.read_table(merged_signatures)) == 4
    assert json.loads((out / "_runs" / "c2.json").read_text())["signatures_kept"] == 4


@pytest.mark.slow
def test_vacuum_deletes_only_removed_files_after_the_retention(inbox, tmp_path, capsys):
    from pipeline.compact import main as compact

    out = tmp_path / "out"
    _delta(out, inbox, "r1")
    _correct(inbox)
    _delta(out, inbox, "r2")
    on_disk = lambda: {p.relative_to(out).as_posix() for p in out.glob("date=*/topic=*/*.parquet")}  # noqa: E731
    current = set(DatasetOutput(str(out)).partition_files())
    (removed,) = on_disk() - current
    stray = out / removed.rsplit("/", 1)[0] / "part-not-committed.parquet"  # as a crashed publish leaves one
    stray.write_bytes((out / removed).read_bytes())

    assert compact([str(out), "--no_merge", "--vacuum"]) == 0  # a week's retention: nothing is that old
    assert compact([str(out), "--no_merge", "--vacuum", "--retention_hours", "0.5"]) == 0  # an hour, not none
    assert removed in on_disk()
    assert compact([str(out), "--no_merge", "--vacuum", "--retention_hours", "0", "--dry_run"]) == 0
    assert removed in capsys.readouterr().out and removed in on_disk()
    assert compact([str(out), "--no_merge", "--vacuum", "--retention_hours", "0"]) == 0
    assert on_disk() == current | {stray.relative_to(out).as_posix()}  # the log never named the stray file
    assert len(DeltaTable(str(out)).to_pyarrow_table()) == 4
    with pytest.raises(Exception, match="not found"):  # time travel to before the retention is gone
        DeltaTable(str(out), version=0).to_pyarrow_table()


def test_convert_makes_a_hive_dataset_a_delta_table_in_place(inbox, tmp_path, capsys):
    from pipeline.convert import main as convert

    out = tmp_path / "out"
    run(["--input", str(inbox), "--output", str(out), "--run_id", "r1", "--quiet"])
    hive_rows = _rows(read_dataset(str(out)).to_table())
    assert convert([str(out)]) == 0
    table = DeltaTable(str(out))
    assert table.version() == 0 and _rows(table.to_pyarrow_table()) == hive_rows
    assert _rows(pl.read_delta(str(out)).to_arrow()) == hive_rows
    assert convert([str(out)]) == 2 and "is a Delta table already" in capsys.readouterr().err
    assert convert([str(tmp_path / "missing")]) == 2

    _correct(inbox)
    second = _delta(out, inbox, "r2")
    assert second["articles_written"] == 1 and DeltaTable(str(out)).version() == 1
    rows = _rows(DeltaTable(str(out)).to_pyarrow_table())
    assert len(rows) == 4 and len({r[:2] for r in rows}) == 4


@pytest.mark.slow
def test_an_optimize_by_another_engine_stops_a_publish_and_runs_until_the_index_follows(inbox, tmp_path, monkeypatch, capsys):
    """delta-rs lets a commit remove a file an OPTIMIZE has merged away (the rows it replaces
    would stay in the merged file): the publish checks, gives up and leaves the inputs for later;
    then runs stop until ``pipeline.compact --reindex`` has pointed the index at the new files."""
    from pipeline.compact import main as compact

    out = tmp_path / "out"
    for i, path in enumerate(sorted(inbox.glob("00*.txt"))):
        run(["--input", str(path), "--output", str(out), "--run_id", f"r{i}", "--table_format", "delta", "--min_rows_per_file", "1", "--quiet"])
    _correct(inbox, "001")

    def optimize_meanwhile(point):
        if point == "publish-before-commit":
            DeltaTable(str(out)).optimize.compact()

    monkeypatch.setattr(publish_module.faults, "reached", optimize_meanwhile)
    with pytest.raises(UsageError, match=r"run r8 was not published, its inputs are left for the next run: .* removed .* --reindex"):
        _delta(out, inbox, "r8", "--min_rows_per_file", "1")
    monkeypatch.undo()
    rows = _rows(DeltaTable(str(out)).to_pyarrow_table())
    assert len(rows) == 4 and len({r[:2] for r in rows}) == 4  # the old version only, once
    assert not (out / "_staging").exists() and not (out / "_runs" / "r8.json").exists()

    # Until the index follows the OPTIMIZE's files, runs (and compaction) stop with a one-line error.
    with pytest.raises(UsageError, match=r"changed by another writer \(OPTIMIZE .*pipeline.compact .* --reindex"):
        _delta(out, inbox, "r9")
    assert compact([str(out)]) == 2 and "changed by another writer" in capsys.readouterr().err
    assert compact([str(out), "--reindex", "--no_merge"]) == 0
    assert "0 inputs whose rows are gone" in capsys.readouterr().out
    assert _delta(out, inbox, "r10")["articles_written"] == 1  # the corrected input, processed now
    rows = _rows(DeltaTable(str(out)).to_pyarrow_table())
    assert len(rows) == 4 and len({r[:2] for r in rows}) == 4
    assert any(r[4].endswith("A correction was appended to this article.") for r in rows)


def test_compact_after_a_first_delta_run_died_before_its_commit(inbox, tmp_path, monkeypatch):
    from pipeline.compact import main as compact

    out = tmp_path / "out"

    def die(point):
        if point == "publish-before-commit":
            raise KeyboardInterrupt

    monkeypatch.setattr(publish_module.faults, "reached", die)
    with pytest.raises(KeyboardInterrupt):
        _delta(out, inbox, "r1", "--min_rows_per_file", "1")
    monkeypatch.undo()
    assert not (out / "_delta_log").exists() and list(out.glob("date=*/topic=*/*.parquet"))
    # compact rolls the publish forward (creating the table) and then works on the Delta table.
    assert compact([str(out), "--min_rows_per_file", "5", "--max_rows_per_file", "10"]) == 0
    table = DeltaTable(str(out))
    rows = _rows(table.to_pyarrow_table())
    assert len(rows) == 4 and len({r[:2] for r in rows}) == 4
    assert all((out / f).exists() for f in DatasetOutput(str(out)).partition_files())


def test_a_data_file_deleted_by_hand_stops_the_run_until_the_table_is_repaired(inbox, tmp_path, capsys):
    """Its rows are lost and every reader of the table fails on it: the run says so and how to
    repair; after delta-rs's repair and ``compact --reindex`` the next run ingests them again."""
    from pipeline.compact import main as compact

    out = tmp_path / "out"
    first = _delta(out, inbox, "r1")
    before = _rows(DeltaTable(str(out)).to_pyarrow_table())
    gone = sorted(out.glob("date=*/topic=*/*.parquet"))[0]
    lost = len(pq.read_table(gone))
    gone.unlink()
    with pytest.raises(UsageError, match=r"1 data file of the Delta table is gone from storage .*repair\(\).*--reindex.*--mode rebuild"):
        _delta(out, inbox, "r2")
    DeltaTable(str(out)).repair()
    assert compact([str(out), "--reindex", "--no_merge"]) == 0
    assert f"{lost} input" in capsys.readouterr().out
    again = _delta(out, inbox, "r3")
    assert again["articles_written"] == lost and again["skipped"] == first["articles_written"] + first["articles_rejected"] - lost
    assert _rows(DeltaTable(str(out)).to_pyarrow_table()) == before


@pytest.mark.slow
def test_files_an_optimize_and_vacuum_removed_are_not_taken_for_deleted_ones(inbox, tmp_path):
    # The table's current version no longer names them: the index must follow (--reindex), and
    # nothing is lost or needs repairing.
    out = tmp_path / "out"
    for i, path in enumerate(sorted(inbox.glob("00*.txt"))):
        run(["--input", str(path), "--output", str(out), "--run_id", f"r{i}", "--table_format", "delta", "--min_rows_per_file", "1", "--quiet"])
    table = DeltaTable(str(out))
    table.optimize.compact()
    table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    with pytest.raises(UsageError, match=r"changed by another writer"):
        _delta(out, inbox, "r9")


def test_a_rebuild_mends_a_table_with_a_data_file_deleted_by_hand(inbox, tmp_path):
    out = tmp_path / "out"
    first = _delta(out, inbox, "r1")
    before = _rows(DeltaTable(str(out)).to_pyarrow_table())
    sorted(out.glob("date=*/topic=*/*.parquet"))[0].unlink()
    assert _delta(out, inbox, "r2", "--mode", "rebuild")["articles_written"] == first["articles_written"]
    assert _rows(DeltaTable(str(out)).to_pyarrow_table()) == before
