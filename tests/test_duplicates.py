"""Duplicates: exact and near copies of real articles are found within a run and across runs,
marked or dropped, and two different articles on the same event are never merged."""
from __future__ import annotations

import json
import re
import textwrap

import pyarrow.parquet as pq
import pytest

from pipeline.main import run
from schemas.article import read_dataset
from tests.conftest import SAMPLES, sample
from transforms.near_duplicates import Fingerprint, band_layout, body_sha256, first_copy, rank


def rewrapped(text: str, width: int = 64) -> str:
    """The same paragraphs, re-wrapped at another width (as a feed or a mail client does)."""
    return "\n\n".join(textwrap.fill(" ".join(p.split()), width) for p in text.split("\n\n") if p.strip())


def lightly_edited(text: str) -> str:
    """A sub-editor's pass: a few words changed, one sentence cut, a closing line added."""
    edited = text.replace("Chinese", "China's", 1).replace("massive", "huge", 1).replace("Thursday", "Thursday morning", 1)
    sentences = re.split(r"(?<=\.) ", edited)
    if len(sentences) > 6:
        del sentences[4]
    return " ".join(sentences) + "\n\nReporting by staff; editing by the desk."


def with_other_boilerplate(text: str) -> str:
    return (
        "Home | World | Politics | Business | Sport\nSign in\nAdvertisement\n\n"
        + text
        + "\n\nShare this article\nFollow us on Facebook\nSubscribe to our newsletter\n© 2025 Another Outlet. All rights reserved."
    )


def fp(name: str, body: str) -> Fingerprint:
    return Fingerprint.of(f"id-{name}", name, body)


def test_exact_key_ignores_wrapping_case_and_punctuation():
    body = sample("003")
    assert body_sha256(rewrapped(body)) == body_sha256(body)
    assert body_sha256(body.upper().replace(",", " ,")) == body_sha256(body)
    assert body_sha256(lightly_edited(body)) != body_sha256(body)


def test_near_copy_found_and_distinct_articles_on_the_same_event_are_not():
    original = fp("a/003", sample("003"))
    copy = fp("b/003-edited", rewrapped(lightly_edited(sample("003"))))
    sim = copy.similarity_to(original)
    assert 0.8 <= sim < 1.0
    assert set(copy.keys[1:]) & set(original.keys[1:]), "an LSH band must collide for a near copy"
    assert first_copy(copy, [(original, False)], 0.8)[0] is original
    # 000 and 001 both report the Beijing summit, in other words: not duplicates.
    a, b = fp("000", sample("000")), fp("001", sample("001"))
    assert a.similarity_to(b) < 0.2
    assert not set(a.keys) & set(b.keys)
    assert first_copy(b, [(a, False)], 0.8) is None


def test_first_copy_prefers_committed_then_source_order():
    body = sample("002")
    earlier_run, x, y = fp("z/committed", body), fp("b", body), fp("c", rewrapped(body))
    assert first_copy(y, sorted([(x, False), (earlier_run, True)], key=rank), 0.8)[0] is earlier_run
    assert first_copy(y, [(x, False)], 0.8)[0] is x
    assert first_copy(x, [(y, False)], 0.8) is None  # y comes after x in source order
    assert band_layout() == (16, 8)


@pytest.fixture
def variants(tmp_path):
    """Real variants: a re-wrapped and lightly edited copy, a copy with other boilerplate, the
    same article as text and as HTML, and two different articles on the same event."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_003.txt").write_text(sample("003"))
    (folder / "b_003_edited.txt").write_text(rewrapped(lightly_edited(sample("003"))))
    (folder / "c_003_boilerplate.txt").write_text(with_other_boilerplate(sample("003")))
    (folder / "d_000.txt").write_text(sample("000"))
    (folder / "e_001.txt").write_text(sample("001"))
    (folder / "f_001_page.html").write_bytes(next(SAMPLES.glob("005_*.html")).read_bytes())
    return folder


def _flags(ruler_model, out, *extra):
    return ["--output", str(out), "--topic_model", "keywords", "--spacy_model", ruler_model, "--quiet", *extra]


def _rows(out):
    table = read_dataset(str(out)).to_table(columns=["source_path", "article_id", "duplicate_of", "similarity", "body_sha256"])
    return {r["source_path"].rsplit("/", 1)[-1]: r for r in table.to_pylist()}


@pytest.mark.e2e
def test_mark_within_and_across_runs(variants, tmp_path, ruler_model):
    out = tmp_path / "out"
    manifest = run(["--input", str(variants), *_flags(ruler_model, out)])
    rows = _rows(out)
    first = rows["a_003.txt"]["article_id"]
    assert rows["a_003.txt"]["duplicate_of"] is None
    assert rows["b_003_edited.txt"]["duplicate_of"] == first and 0.8 <= rows["b_003_edited.txt"]["similarity"] < 1
    assert rows["c_003_boilerplate.txt"]["duplicate_of"] == first
    assert rows["c_003_boilerplate.txt"]["similarity"] >= 0.9  # whatever boilerplate the cleaner kept
    assert rows["f_001_page.html"]["duplicate_of"] == rows["e_001.txt"]["article_id"]
    assert rows["f_001_page.html"]["similarity"] == 1.0
    assert rows["d_000.txt"]["duplicate_of"] is None and rows["e_001.txt"]["duplicate_of"] is None
    assert manifest["duplicates"]["marked"] == 3 and manifest["duplicates"]["exact"] + manifest["duplicates"]["near"] == 3
    report = (out / "_runs" / f"{manifest['run_id']}.html").read_text()
    assert "b_003_edited.txt" in report and "f_001_page.html" in report  # the report lists the copies

    # The next day a re-wrapped copy of a committed article arrives: found in the index.
    later = tmp_path / "later"
    later.mkdir()
    (later / "g_000_again.txt").write_text(rewrapped(sample("000"), 50))
    manifest = run(["--input", str(later), *_flags(ruler_model, out)])
    assert manifest["duplicates"]["of_earlier_runs"] == 1
    assert _rows(out)["g_000_again.txt"]["duplicate_of"] == rows["d_000.txt"]["article_id"]


@pytest.mark.slow
@pytest.mark.e2e
def test_a_replaced_article_is_no_longer_an_original(tmp_path, ruler_model):
    out, day1, day2 = tmp_path / "out", tmp_path / "day1", tmp_path / "day2"
    day1.mkdir(), day2.mkdir()
    (day1 / "story.txt").write_text(sample("002"))
    run(["--input", str(day1), *_flags(ruler_model, out)])
    (day1 / "story.txt").write_text(sample("004"))  # the page now holds another story
    run(["--input", str(day1), *_flags(ruler_model, out)])
    (day2 / "copy.txt").write_text(rewrapped(sample("002")))
    manifest = run(["--input", str(day2), *_flags(ruler_model, out)])
    assert manifest["duplicates"]["marked"] == 0, "the old story's signature must not match: its row is gone"


@pytest.mark.e2e
def test_drop_lists_and_accounts_for_every_copy(variants, tmp_path, ruler_model):
    out = tmp_path / "out"
    manifest = run(["--input", str(variants), *_flags(ruler_model, out, "--dedup", "drop")])
    assert manifest["duplicates_dropped"] == 3 and manifest["articles_written"] == 3
    assert manifest["all_inputs_accounted_for"]
    assert set(_rows(out)) == {"a_003.txt", "d_000.txt", "e_001.txt"}
    listed = [json.loads(line) for line in (out / "_duplicates" / f"{manifest['run_id']}.jsonl").read_text().splitlines()]
    assert sorted(d["source_path"].rsplit("/", 1)[-1] for d in listed) == ["b_003_edited.txt", "c_003_boilerplate.txt", "f_001_page.html"]
    ledger = [json.loads(line) for line in (out / manifest["inputs_file"]).read_text().splitlines()]
    assert sum(e["outcome"] == "duplicate" for e in ledger) == 3
    index = pq.read_table(out / "_index" / "inputs.parquet").to_pylist()
    assert sorted(r["outcome"] for r in index) == ["duplicate"] * 3 + ["written"] * 3
    # Unchanged inputs are skipped next time, dropped copies included.
    again = run(["--input", str(variants), *_flags(ruler_model, out, "--dedup", "drop")])
    assert again["published"] is False and again["skipped"] == 6


@pytest.mark.e2e
def test_off_writes_no_signatures(variants, tmp_path, ruler_model):
    out = tmp_path / "out"
    manifest = run(["--input", str(variants), *_flags(ruler_model, out, "--dedup", "off")])
    assert manifest["articles_written"] == 6 and not list((out / "_index").glob("minhash-*.parquet"))
    assert all(r["duplicate_of"] is None for r in _rows(out).values())


@pytest.mark.e2e
def test_an_updated_article_is_not_a_copy_of_its_own_earlier_version(tmp_path, ruler_model):
    out, inbox = tmp_path / "out", tmp_path / "in"
    inbox.mkdir()
    (inbox / "story.txt").write_text(sample("003"))
    run(["--input", str(inbox), *_flags(ruler_model, out, "--dedup", "drop")])
    (inbox / "story.txt").write_text(lightly_edited(sample("003")))  # the outlet corrects its story
    manifest = run(["--input", str(inbox), *_flags(ruler_model, out, "--dedup", "drop")])
    assert manifest["articles_written"] == 1 and manifest["duplicates_dropped"] == 0
    assert [r["duplicate_of"] for r in _rows(out).values()] == [None]


@pytest.mark.e2e
def test_parked_articles_are_deleted_before_the_publish(variants, tmp_path, ruler_model, monkeypatch):
    import pipeline.main

    def stop(point):
        if point == "pipeline-finished":
            raise RuntimeError("stopped before the publish")

    monkeypatch.setattr(pipeline.main.faults, "reached", stop)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="stopped before the publish"):
        run(["--input", str(variants), *_flags(ruler_model, out)])
    (staging,) = (out / "_staging").iterdir()
    assert list(staging.glob("_index/minhash-*.parquet"))  # the run's other staged files are there
    assert not (staging / "_spill").exists()


def test_parked_articles_come_back_whole_and_in_their_windows(tmp_path):
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to
    from apache_beam.transforms import window

    from tests.conftest import test_pipeline
    from transforms.spill import ReadSpilled, SpillToFiles

    elements = [(i % 2, {"id": i, "text": "ü" * i}) for i in range(50)]
    with test_pipeline() as p:
        back = (
            p
            | beam.Create(elements)
            | beam.Map(lambda e: window.TimestampedValue(e, e[1]["id"] // 10 * 60))  # five minutes of ten
            | beam.WindowInto(window.FixedWindows(60))
            | SpillToFiles(str(tmp_path / "park"))
            | ReadSpilled()
        )
        counted = back | beam.combiners.Count.PerKey()
        assert_that(back, equal_to(elements), label="whole")
        # per window, not over the whole: five of each key in each of the five minutes
        assert_that(counted, equal_to([(0, 5), (1, 5)] * 5), label="windows")
    assert len(list((tmp_path / "park").glob("*.spill"))) >= 5
