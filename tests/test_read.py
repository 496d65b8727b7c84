"""Reading: decoding, matching over fsspec, and the read transforms' dead letters."""
from __future__ import annotations

import codecs
import hashlib
import uuid

import apache_beam as beam
import fsspec
import pytest

from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import test_pipeline
from transforms.failures import REJECTED, ArticleRejected
from transforms.read import MatchFiles, ReadArticles, decode_bytes, expand_pattern, read_article

TEXT = "Café au lait in Zürich — “quoted” – naïve résumé."


@pytest.mark.parametrize(
    "data, encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),  # with BOM
    ],
)
def test_decode_unicode_inputs(data, encoding):
    assert decode_bytes(data) == (TEXT, encoding)


def test_decode_cp1252_goes_through_the_detector():
    text = "Les élèves étaient très nombreux à la manifestation, a déclaré le ministre. " * 3
    decoded, encoding = decode_bytes(text.encode("cp1252"))
    assert decoded == text
    assert encoding == "cp1252"
    quotes = "He said: “We’ll win” – it’s a café."
    assert decode_bytes(quotes.encode("cp1252")) == (quotes, "cp1252")


@pytest.mark.parametrize(
    "data, error_type",
    [
        (b"", "empty_file"),
        (b"  \n\t\r\n ", "empty_file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 4, "binary_content"),
    ],
)
def test_unusable_bytes_are_rejected_with_a_reason(data, error_type):
    with pytest.raises(ArticleRejected) as info:
        decode_bytes(data)
    assert info.value.error_type == error_type


@pytest.fixture
def memdir():
    root = f"memory:///read-test-{uuid.uuid4().hex}"  # fsspec's canonical memory URL
    fs = fsspec.filesystem("memory")
    fs.pipe(
        {
            f"{root}/a.txt": b"First article text.",
            f"{root}/sub/b.txt": "Second article, caf\xe9.".encode("cp1252"),
            f"{root}/c.html": b"<p>not yet supported</p>",
        }
    )
    yield root
    fs.rm(root, recursive=True)


def test_expand_pattern_globs_and_directories(memdir, tmp_path):
    assert expand_pattern(f"{memdir}/*.txt") == [f"{memdir}/a.txt"]
    assert expand_pattern(memdir) == [f"{memdir}/a.txt", f"{memdir}/c.html", f"{memdir}/sub/b.txt"]
    assert expand_pattern(f"{memdir}/missing/*.txt") == []
    (tmp_path / "x.txt").write_text("x")
    assert expand_pattern(str(tmp_path / "*.txt")) == [str(tmp_path / "x.txt")]  # local paths stay plain


def test_read_article_records_provenance(memdir):
    article = read_article(f"{memdir}/a.txt", max_bytes=1000)
    assert article.text == "First article text."
    assert article.source_bytes == 19
    assert article.content_sha256 == hashlib.sha256(b"First article text.").hexdigest()
    assert article.encoding == "utf-8"


def test_read_article_refuses_large_and_unsupported_files(memdir):
    with pytest.raises(ArticleRejected) as too_large:
        read_article(f"{memdir}/a.txt", max_bytes=5)
    assert too_large.value.error_type == "too_large"
    with pytest.raises(ArticleRejected) as html:
        read_article(f"{memdir}/c.html", max_bytes=1000)
    assert html.value.error_type == "unsupported_format"


def test_match_and_read_transforms(memdir):
    with test_pipeline() as p:
        matched = p | MatchFiles([memdir, f"{memdir}/nothing-*.txt"])
        read = matched["files"] | ReadArticles(max_bytes=1000)
        assert_that(
            read.articles | "Texts" >> beam.Map(lambda a: (a.source_path.rsplit("/", 1)[-1], a.text)),
            equal_to([("a.txt", "First article text."), ("b.txt", "Second article, café.")]),
            label="articles",
        )
        rejected = (matched[REJECTED], read[REJECTED]) | beam.Flatten()
        assert_that(
            rejected | "Why" >> beam.Map(lambda r: (r.source_path.rsplit("/", 1)[-1], r.stage, r.error_type)),
            equal_to([("nothing-*.txt", "match", "no_match"), ("c.html", "read", "unsupported_format")]),
            label="rejected",
        )
