"""The scheduled-run contract: what a re-run skips, retries and replaces, decided from the
committed-input index and the processing fingerprint, and a dry run that says exactly that."""
from __future__ import annotations

import gzip
import json
import shutil

import pyarrow.parquet as pq
import pytest

from pipeline.main import run
from transforms.errors import UsageError
from schemas.article import read_dataset
from tests.conftest import SAMPLES

pytestmark = pytest.mark.e2e

FEED = [
    {"body": "The harbour authority opened a new ferry terminal on Monday. Officials said it would serve two million passengers a year.", "headline": "Ferry terminal opens"},
    {"body": "Farmers in the valley reported an early harvest after a warm spring. Prices at the local market fell as supply rose.", "headline": "Early harvest"},
]  # fmt: skip


@pytest.fixture
def inbox(tmp_path):
    """Text, gzipped text, gzipped HTML, a JSON Lines feed with a bad line, a file that is rejected."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(next(SAMPLES.glob("000_*.txt")), folder / "a.txt")
    shutil.copy(next(SAMPLES.glob("007_*.txt.gz")), folder / "b.txt.gz")
    (folder / "c.html.gz").write_bytes(gzip.compress(next(SAMPLES.glob("005_*.html")).read_bytes()))
    lines = [json.dumps({"text": r["body"], "title": r["headline"]}) for r in FEED] + ["{not json"]
    (folder / "feed.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "empty.txt").write_bytes(b"")
    return folder


def _flags(ruler_model, out, *extra):
    return ["--output", str(out), "--topic_model", "keywords", "--spacy_model", ruler_model, *extra]


def _processed(summary):
    return summary["articles_written"] + summary["articles_rejected"]


def test_the_dry_run_says_what_the_run_then_does(inbox, tmp_path, ruler_model):
    out = tmp_path / "out"
    # Two patterns name a.txt: it is read once, in the run as in the dry run.
    flags = ["--input", str(inbox), "--input", str(inbox / "a.txt"), *_flags(ruler_model, out)]
    for attempt in ("first run", "unchanged re-run", "one file changed"):
        if attempt == "one file changed":
            (inbox / "a.txt").write_text((inbox / "a.txt").read_text() + "\nOne more line of reporting.\n")
        plan = run([*flags, "--dry_run"])
        summary = run(flags)
        assert plan["records_to_process"] == _processed(summary), attempt
        assert plan["records_to_skip"] == summary["skipped"], attempt
        skipped = {k.removeprefix("skip:"): v for k, v in plan["by_status"].items() if k.startswith("skip:")}
        assert skipped == summary["skipped_by_reason"], attempt
    assert plan["by_status"] == {"changed": 1, "skip:rejected_before": 2, "skip:unchanged": 4}
    assert plan["files_with_rows_replaced"] and summary["rewritten_files"][0]["file"] == plan["files_with_rows_replaced"][0]
    rows = read_dataset(str(out)).to_table().to_pylist()
    assert len(rows) == len({(r["source_path"], r["source_line"]) for r in rows}) == 5


@pytest.mark.slow
def test_a_folder_spelt_another_way_is_the_same_input(inbox, tmp_path, ruler_model, monkeypatch):
    """``in//`` and ``../in/.`` from another working directory name the same files: they are
    skipped as unchanged, not ingested a second time."""
    out = tmp_path / "out"
    first = run(["--input", str(inbox), *_flags(ruler_model, out)])
    monkeypatch.chdir(inbox)
    for spelling in (f"{tmp_path}//in/", "../in/./"):
        again = run(["--input", spelling, *_flags(ruler_model, out)])
        assert again["articles_written"] == 0 and again["skipped"] == first["articles_written"] + first["articles_rejected"], spelling
    paths = set(read_dataset(str(out)).to_table(columns=["source_path"])["source_path"].to_pylist())
    assert all("//" not in p and "/." not in p for p in paths) and len(paths) == 4  # the feed's two rows share a path
    from transforms.match import match_pattern

    assert match_pattern(f"file://{tmp_path}//in/../in/a.txt").files == [f"{inbox}/a.txt"]
    # A file:// URL names the same inputs as the plain path.
    again = run(["--input", f"file://{inbox}", *_flags(ruler_model, out)])
    assert again["articles_written"] == 0 and again["skipped"] == first["articles_written"] + first["articles_rejected"]


def _spelt_as_file_urls(out) -> None:
    """What an earlier version wrote for file:// inputs: the URL in source_path, in the index and
    in the signatures, and the article ids derived from it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from schemas.article import article_id

    def spelt_as_url(table, name):
        column = table[name]
        legacy = pc.if_else(pc.starts_with(column, "/"), pc.binary_join_element_wise(pa.scalar("file://"), column, ""), column)
        return table.set_column(table.schema.get_field_index(name), name, legacy)

    new_ids = {}
    for path in out.glob("date=*/topic=*/*.parquet"):
        table = spelt_as_url(pq.read_table(path), "source_path")
        ids = [article_id(f"{p}#L{line}" if line else p, sha) for p, line, sha in zip(*(table[c].to_pylist() for c in ("source_path", "source_line", "content_sha256")))]
        new_ids.update(zip(table["article_id"].to_pylist(), ids))
        pq.write_table(table.set_column(table.schema.get_field_index("article_id"), "article_id", pa.array(ids, pa.string())), path)
    pq.write_table(spelt_as_url(pq.read_table(out / "_index" / "inputs.parquet"), "source_path"), out / "_index" / "inputs.parquet")
    for path in out.glob("_index/minhash-*.parquet"):
        table = spelt_as_url(pq.read_table(path), "source_id")
        ids = pa.array([new_ids[a] for a in table["article_id"].to_pylist()], pa.string())
        pq.write_table(table.set_column(table.schema.get_field_index("article_id"), "article_id", ids), path)


@pytest.mark.slow
def test_rows_keyed_by_a_file_url_before_are_found_by_the_plain_path(inbox, tmp_path, ruler_model):
    """An earlier version kept a file:// input's URL in source_path and in the index: the same
    file named by its path is the same input (skipped, and its row replaced when it changes)."""
    from pipeline.compact import main as compact

    out = tmp_path / "out"
    flags = ["--input", str(inbox), *_flags(ruler_model, out)]
    first = run(flags)
    _spelt_as_file_urls(out)
    assert all(p.startswith("file://") for p in read_dataset(str(out)).to_table()["source_path"].to_pylist())
    signatures = sum(len(pq.read_table(p)) for p in out.glob("_index/minhash-*.parquet"))
    assert compact([str(out), "--min_rows_per_file", "5", "--run_id", "c1"]) == 0
    assert sum(len(pq.read_table(p)) for p in out.glob("_index/minhash-*.parquet")) == signatures  # all still alive
    again = run(flags)
    assert again["articles_written"] == 0 and again["skipped"] == _processed(first)
    (inbox / "a.txt").write_text((inbox / "a.txt").read_text() + "\nOne more line of reporting.\n")
    assert run(flags)["articles_written"] == 1
    rows = read_dataset(str(out)).to_table().to_pylist()
    ids = [(r["source_path"].removeprefix("file://"), r["source_line"]) for r in rows]
    assert len(ids) == len(set(ids)) == first["articles_written"]
    changed = next(r for r in rows if r["source_path"] == str(inbox / "a.txt"))
    assert changed["duplicate_of"] is None  # not a copy of its own earlier row
    # An article committed under the old spelling is still the original of a copy.
    shutil.copy(inbox / "b.txt.gz", inbox / "b_copy.txt.gz")
    run(flags)
    rows = {r["source_path"]: r for r in read_dataset(str(out)).to_table().to_pylist()}
    assert rows[str(inbox / "b_copy.txt.gz")]["duplicate_of"] == rows[f"file://{inbox}/b.txt.gz"]["article_id"]


def test_lines_a_feed_no_longer_has_lose_their_rows(tmp_path, ruler_model):
    inbox = tmp_path / "in"
    inbox.mkdir()
    feed = inbox / "feed.jsonl"
    stories = [{"text": f"Story number {word} about the harbour and the ferry terminal opened on Monday."} for word in ("one", "two", "three")]
    feed.write_text("\n".join(json.dumps(s) for s in stories) + "\n")
    out = tmp_path / "out"
    flags = ["--input", str(inbox), *_flags(ruler_model, out)]
    assert run(flags)["articles_written"] == 3
    feed.write_text("\n".join(json.dumps(s) for s in stories[1:]) + "\n")  # the first story deleted
    plan = run([*flags, "--dry_run"])
    assert plan["records_vanished"] == 1 and plan["by_status"] == {"changed": 2}
    summary = run(flags)
    assert summary["records_vanished"] == 1
    bodies = sorted(r["body"] for r in read_dataset(str(out)).to_table().to_pylist())
    assert bodies == sorted(s["text"] for s in stories[1:])  # no story twice, none lost


def test_a_feed_s_lines_reordered_leave_no_story_twice(tmp_path, ruler_model):
    # Records are known by their line; a line that now holds another record, a bad one, no longer
    # keeps the row of the story it held before (that story is written again at its new line).
    inbox = tmp_path / "in"
    inbox.mkdir()
    feed = inbox / "feed.jsonl"
    stories = [json.dumps({"text": f"Story number {word} about the harbour and the ferry terminal opened on Monday."}) for word in ("one", "two", "three")]
    feed.write_text("\n".join(stories + ["[1, 2]"]) + "\n")
    out = tmp_path / "out"
    flags = ["--input", str(inbox), *_flags(ruler_model, out)]
    assert run(flags)["articles_written"] == 3
    feed.write_text("\n".join(["[1, 2]"] + stories[::-1]) + "\n")
    summary = run(flags)
    assert summary["rejected_kept_rows"] == 0
    bodies = sorted(r["body"] for r in read_dataset(str(out)).to_table().to_pylist())
    assert bodies == sorted(json.loads(s)["text"] for s in stories)  # each story once


def test_a_read_that_fails_keeps_the_row_written_before(tmp_path, ruler_model, monkeypatch):
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(next(SAMPLES.glob("000_*.txt")), inbox / "a.txt")
    out = tmp_path / "out"
    flags = ["--input", str(inbox), *_flags(ruler_model, out)]
    run(flags)

    import transforms.read

    def refused(url):
        raise PermissionError(13, "Permission denied", url)

    monkeypatch.setattr(transforms.read, "input_digest", refused)
    failed = run(flags)
    assert failed["rejected_by_reason"] == {"read:unreadable": 1} and failed["rejected_kept_rows"] == 1
    assert read_dataset(str(out)).to_table().num_rows == 1  # the earlier row is still there
    monkeypatch.undo()
    again = run(flags)  # the failure passed: the file is unchanged, so it is skipped
    assert again["skipped_by_reason"] == {"unchanged": 1} and read_dataset(str(out)).to_table().num_rows == 1


def test_overwrite_partitions_removes_the_old_row_of_an_input_now_rejected(tmp_path, ruler_model):
    inbox = tmp_path / "in"
    inbox.mkdir()
    text = next(SAMPLES.glob("000_*.txt")).read_text("utf-8")
    (inbox / "a.txt").write_text(text, "utf-8")
    (inbox / "b.txt").write_text(text.replace("Beijing", "Beijing's"), "utf-8")  # the same partition
    out = tmp_path / "out"
    run(["--input", str(inbox), *_flags(ruler_model, out)])
    (inbox / "a.txt").write_bytes(b"")
    again = run(["--input", str(inbox), *_flags(ruler_model, out, "--mode", "overwrite_partitions")])
    assert again["rejected_kept_rows"] == 0  # its partition's files were replaced: nothing to keep
    assert [r["source_path"].rsplit("/", 1)[1] for r in read_dataset(str(out)).to_table().to_pylist()] == ["b.txt"]
    index = {r["source_path"].rsplit("/", 1)[1]: r["outcome"] for r in pq.read_table(out / "_index" / "inputs.parquet").to_pylist()}
    assert index == {"a.txt": "rejected", "b.txt": "written"}


def test_an_output_of_an_earlier_version_is_indexed_once(inbox, tmp_path, ruler_model, capsys):
    out = tmp_path / "out"
    flags = ["--input", str(inbox), *_flags(ruler_model, out)]
    first = run(flags)
    shutil.rmtree(out / "_index")  # as an earlier version left it: ledgers in _runs/ only
    capsys.readouterr()
    again = run(flags)
    printed = capsys.readouterr().out
    assert "indexed the inputs committed by an earlier version" in printed
    assert (out / "_index" / "inputs.parquet").exists()
    assert again["skipped_by_reason"] == {"stale": first["articles_written"]}
    assert again["stale_settings"] == ["an earlier version, before fingerprints"]


def test_rejected_records_are_retried_once_the_settings_are_fixed(tmp_path, ruler_model):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in FEED) + "\n")
    out = tmp_path / "out"
    first = run(["--input", str(inbox), *_flags(ruler_model, out)])
    assert (first["articles_written"], first["articles_rejected"]) == (0, 2)
    (message,) = {json.loads(line)["message"] for line in next((out / "_rejected").glob("*.jsonl")).read_text().splitlines()}
    assert "'text' is missing; the record's keys are 'body', 'headline'" in message and "--jsonl_fields text=KEY" in message

    same = run(["--input", str(inbox), *_flags(ruler_model, out)])
    assert same["skipped_by_reason"] == {"rejected_before": 2} and same["published"] is False

    retried = run(["--input", str(inbox), *_flags(ruler_model, out), "--retry_rejected"])
    assert retried["articles_rejected"] == 2  # retried, and rejected again for the same reason

    fixed = run(["--input", str(inbox), *_flags(ruler_model, out, "--jsonl_fields", "text=body,title=headline")])
    assert (fixed["articles_written"], fixed["articles_rejected"], fixed["skipped"]) == (2, 0, 0)
    assert sorted(r["title"] for r in read_dataset(str(out)).to_table().to_pylist()) == ["Early harvest", "Ferry terminal opens"]


@pytest.mark.slow
def test_rows_written_with_other_settings_are_kept_and_named_until_reprocessed(inbox, tmp_path, ruler_model, capsys):
    out = tmp_path / "out"
    first = run(["--input", str(inbox), *_flags(ruler_model, out)])
    rows_before = read_dataset(str(out)).to_table().num_rows
    capsys.readouterr()

    other = ["--input", str(inbox), *_flags(ruler_model, out, "--repeated_lines_min_articles", "0")]
    kept = run(other)
    assert kept["skipped_by_reason"] == {"stale": first["articles_written"]} and kept["articles_written"] == 0
    assert kept["stale_settings"] == ["repeated_lines_min_articles"]
    printed = capsys.readouterr().out
    assert f"{first['articles_written']} inputs written with other settings (repeated_lines_min_articles)" in printed
    assert "--reprocess_stale reprocesses them" in printed
    # The rejections of the first run are retried: the settings changed since.
    assert kept["articles_rejected"] == first["articles_rejected"] == 2

    redone = run([*other, "--reprocess_stale"])
    assert redone["articles_written"] == first["articles_written"]
    rows = read_dataset(str(out)).to_table().to_pylist()
    assert len(rows) == rows_before  # replaced, not duplicated
    assert {r["run_id"] for r in rows} == {redone["run_id"]}
    assert run(other)["skipped_by_reason"] == {"unchanged": first["articles_written"], "rejected_before": 2}


def test_hidden_and_system_files_are_skipped_not_rejected(tmp_path, ruler_model):
    inbox = tmp_path / "in"
    (inbox / ".git").mkdir(parents=True)
    shutil.copy(next(SAMPLES.glob("000_*.txt")), inbox / "a.txt")
    for junk in (".DS_Store", "._a.txt", "Thumbs.db", "desktop.ini", ".git/notes.txt"):
        (inbox / junk).write_bytes(b"\x00\x01junk")
    summary = run(["--input", str(inbox), *_flags(ruler_model, tmp_path / "out")])
    assert (summary["articles_written"], summary["articles_rejected"], summary["ignored_files"]) == (1, 0, 5)
    assert summary["all_inputs_accounted_for"] is True
    # Named explicitly, a dot-file is read like any other, whatever else names its folder.
    hidden = inbox / ".note.txt"
    shutil.copy(inbox / "a.txt", hidden)
    assert run(["--input", str(hidden), *_flags(ruler_model, tmp_path / "out2")])["articles_written"] == 1
    both = run(["--input", str(inbox), "--input", str(hidden), *_flags(ruler_model, tmp_path / "out3")])
    assert (both["articles_written"], both["ignored_files"]) == (2, 5)
    # One file named two ways is one input.
    twice = run(["--input", str(inbox), "--input", f"file://{inbox}/a.txt", *_flags(ruler_model, tmp_path / "out4")])
    assert twice["articles_written"] == 1


def test_the_index_names_exactly_the_rows_readers_see(inbox, tmp_path, ruler_model):
    out = tmp_path / "out"
    common = _flags(ruler_model, out, "--min_rows_per_file", "3", "--max_rows_per_file", "6")
    run(["--input", str(inbox), *common])
    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(next(SAMPLES.glob("001_*.txt")), extra / "d.txt")
    run(["--input", str(extra), *common])  # merges with the small files of the first run
    run(["--input", str(extra / "d.txt"), *common, "--mode", "overwrite_partitions"])
    runs_before = sorted(p.name for p in (out / "_runs").iterdir())
    assert run(["--input", str(extra), *common])["published"] is False
    assert sorted(p.name for p in (out / "_runs").iterdir()) == runs_before  # a no-op adds nothing

    index = pq.read_table(out / "_index" / "inputs.parquet").to_pylist()
    written = [e for e in index if e["outcome"] == "written"]
    on_disk = {str(p.relative_to(out)) for p in out.glob("date=*/topic=*/*.parquet")}
    assert {e["file"] for e in written} == on_disk
    rows = read_dataset(str(out)).to_table().to_pylist()
    assert sorted((r["source_path"], r["source_line"] or 0) for r in rows) == sorted(
        (e["source_path"], e["source_line"]) for e in written
    )


def test_a_data_file_deleted_by_hand_has_its_inputs_ingested_again(inbox, tmp_path, ruler_model, capsys):
    """A user who deletes a published Parquet file (a bad partition, a disk clean-up) gets its
    rows back on the next run of the same inputs: they are not "unchanged" forever."""
    out = tmp_path / "out"
    flags = ["--input", str(inbox), *_flags(ruler_model, out)]
    first = run(flags)
    rows = read_dataset(str(out)).to_table().to_pylist()
    gone = sorted(out.glob("date=*/topic=*/*.parquet"))[0]
    lost = {(r["source_path"], r["source_line"]) for r in pq.read_table(gone).to_pylist()}
    gone.unlink()
    capsys.readouterr()
    plan = run([*flags, "--dry_run"])
    assert plan["by_status"].get("restore") == len(lost)
    assert f"1 data file of {out} is gone ({gone.relative_to(out)}): the {len(lost)} records of this run's inputs" in capsys.readouterr().err
    again = run(flags)
    assert again["articles_written"] == len(lost) and again["skipped"] == _processed(first) - len(lost)
    after = read_dataset(str(out)).to_table().to_pylist()
    assert sorted((r["source_path"], r["source_line"]) for r in after) == sorted((r["source_path"], r["source_line"]) for r in rows)
    assert run(flags)["articles_written"] == 0  # and then unchanged again


def test_an_output_path_that_reads_as_a_pattern_is_refused(inbox, tmp_path, ruler_model):
    """``out[1]`` would be listed as the pattern it is: ``out1``'s files taken for its own."""
    with pytest.raises(UsageError, match=r"out\[1\]: a dataset's path cannot hold \*, \? or \["):
        run(["--input", str(inbox), *_flags(ruler_model, tmp_path / "out[1]")])
    assert not (tmp_path / "out[1]").exists()


def test_an_input_indexed_under_both_spellings_before_leaves_no_old_row(inbox, tmp_path, ruler_model):
    """A dataset an earlier version wrote twice for one file (once as a path, once as a file://
    URL): when the file changes, both old rows go."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = tmp_path / "out"
    flags = ["--input", str(inbox / "a.txt"), *_flags(ruler_model, out, "--dedup", "off")]
    run(flags)
    _spelt_as_file_urls(out)
    (legacy,) = list(out.glob("date=*/topic=*/*.parquet"))
    table = pq.read_table(legacy)
    plain = table.set_column(table.schema.get_field_index("source_path"), "source_path", pc.replace_substring_regex(table["source_path"], "^file://", ""))
    twin = legacy.with_name("part-plain.parquet")
    pq.write_table(plain, twin)
    index = pq.read_table(out / "_index" / "inputs.parquet")
    extra = index.set_column(index.schema.get_field_index("source_path"), "source_path", pc.replace_substring_regex(index["source_path"], "^file://", ""))
    extra = extra.set_column(extra.schema.get_field_index("file"), "file", pa.array([str(twin.relative_to(out))] * len(extra), pa.string()))
    pq.write_table(pa.concat_tables([index, extra]), out / "_index" / "inputs.parquet")
    assert len(read_dataset(str(out)).to_table()) == 2
    (inbox / "a.txt").write_text((inbox / "a.txt").read_text() + "\nOne more line of reporting.\n")
    run(flags)
    assert len(read_dataset(str(out)).to_table()) == 1


def test_a_local_url_names_the_same_inputs_as_the_path(inbox, tmp_path, ruler_model):
    out = tmp_path / "out"
    first = run(["--input", f"local://{inbox}", *_flags(ruler_model, out)])
    assert all(p.startswith(str(inbox)) for p in read_dataset(str(out)).to_table()["source_path"].to_pylist())
    for spelling in (f"local://{inbox}", str(inbox)):
        again = run(["--input", spelling, *_flags(ruler_model, out)])
        assert again["articles_written"] == 0 and again["skipped"] == _processed(first), spelling
    (inbox / "feed.jsonl").write_text((inbox / "feed.jsonl").read_text().splitlines()[0] + "\n")
    assert run(["--input", f"local://{inbox}", *_flags(ruler_model, out)])["records_vanished"] == 1
