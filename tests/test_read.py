"""Reading: decoding, matching over fsspec, and the read transforms' dead letters."""
from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import json
import uuid

import apache_beam as beam
import fsspec
import pytest
import zstandard

from apache_beam.testing.util import assert_that, equal_to

from tests.conftest import test_pipeline
from transforms.errors import ArticleRejected
from transforms.failures import REJECTED
from transforms.formats import JsonlFields
from transforms.formats import decode_bytes
from transforms.match import MatchFiles, expand_pattern
from transforms.read import ReadArticles, read_records

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
            f"{root}/c.pdf": b"%PDF-1.4 not supported",
        }
    )
    yield root
    fs.rm(root, recursive=True)


def test_expand_pattern_globs_and_directories(memdir, tmp_path):
    assert expand_pattern(f"{memdir}/*.txt") == [f"{memdir}/a.txt"]
    assert expand_pattern(memdir) == [f"{memdir}/a.txt", f"{memdir}/c.pdf", f"{memdir}/sub/b.txt"]
    assert expand_pattern(f"{memdir}/missing/*.txt") == []
    (tmp_path / "x.txt").write_text("x")
    assert expand_pattern(str(tmp_path / "*.txt")) == [str(tmp_path / "x.txt")]  # local paths stay plain


def test_match_pattern_largest_first_for_even_work_across_workers(memdir):
    from transforms.match import match_pattern

    # a.txt 19 bytes, sub/b.txt 21, c.pdf 22; equal sizes keep name order
    fsspec.filesystem("memory").pipe(f"{memdir}/d.txt", b"x" * 19)
    files = match_pattern(memdir, largest_first=True).files
    assert files == [f"{memdir}/c.pdf", f"{memdir}/sub/b.txt", f"{memdir}/a.txt", f"{memdir}/d.txt"]


def test_read_article_records_provenance(memdir):
    (article,) = read_records(f"{memdir}/a.txt", max_bytes=1000)
    assert article.text == "First article text."
    assert article.source_bytes == 19
    assert article.content_sha256 == hashlib.sha256(b"First article text.").hexdigest()
    assert article.encoding == "utf-8"
    assert (article.input_format, article.source_line, article.text_repaired) == ("text", None, False)


def test_read_article_refuses_large_and_unsupported_files(memdir):
    with pytest.raises(ArticleRejected) as too_large:
        list(read_records(f"{memdir}/a.txt", max_bytes=5))
    assert too_large.value.error_type == "too_large"
    with pytest.raises(ArticleRejected) as unknown:
        list(read_records(f"{memdir}/c.pdf", max_bytes=1000))
    assert unknown.value.error_type == "unsupported_format"


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_files_larger_than_a_read_chunk_are_read_whole_up_to_the_cap(extra):
    """Files are read in READ_CHUNK pieces (not one allocation of --max_article_bytes): a file
    of exactly the cap is read whole, one byte more is rejected."""
    from transforms import read

    cap = 3 * read.READ_CHUNK + 7
    body = (b"word " * cap)[: cap + extra]
    url = f"memory://chunks-{uuid.uuid4().hex}/big.txt"
    with fsspec.open(url, "wb") as f:
        f.write(body)
    if extra > 0:
        with pytest.raises(ArticleRejected) as too_large:
            list(read_records(url, max_bytes=cap))
        assert too_large.value.error_type == "too_large"
    else:
        (article,) = read_records(url, max_bytes=cap)
        assert article.source_bytes == len(body) and article.text == body.decode()


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
            equal_to([("nothing-*.txt", "match", "no_match"), ("c.pdf", "read", "unsupported_format")]),
            label="rejected",
        )


def _put(path: str, data: bytes) -> str:
    fsspec.filesystem("memory").pipe(path, data)
    return path


def test_compressed_text_is_read_through_fsspec():
    text = "A compressed article about the harbour.\n" * 50
    for suffix, compress in ((".gz", gzip.compress), (".bz2", bz2.compress), (".zst", zstandard.ZstdCompressor().compress)):
        url = _put(f"memory:///compressed/a.txt{suffix}", compress(text.encode()))
        (article,) = read_records(url, max_bytes=10_000)
        assert article.text == text and article.source_bytes == len(text.encode())


def test_decompression_bomb_is_rejected_without_loading_it():
    url = _put("memory:///bomb/bomb.txt.gz", gzip.compress(b"a" * 50_000_000))  # 50 MB of 'a' in ~50 kB
    with pytest.raises(ArticleRejected) as info:
        list(read_records(url, max_bytes=1_000_000))
    assert info.value.error_type == "too_large"


def test_jsonl_lines_are_records_and_bad_lines_are_rejected_alone():
    lines = [
        json.dumps({"body": "First story text.", "headline": "One", "published_at": "2025-09-02", "link": "https://x/1"}),
        "{not json",
        json.dumps({"headline": "no body"}),
        "",
        json.dumps({"body": "x" * 200}),
        json.dumps({"body": "Second story, café.", "headline": "Two"}),
    ]
    url = _put("memory:///jsonl/feed.jsonl", "\n".join(lines).encode())
    fields = JsonlFields.parse("text=body,title=headline,date=published_at,url=link")
    outputs = list(read_records(url, max_bytes=150, jsonl_fields=fields))
    articles = [o for o in outputs if not isinstance(o, beam.pvalue.TaggedOutput)]
    rejected = [o.value for o in outputs if isinstance(o, beam.pvalue.TaggedOutput)]
    assert [(a.source_line, a.title, a.text, a.meta_date, a.url) for a in articles] == [
        (1, "One", "First story text.", "2025-09-02", "https://x/1"),
        (6, "Two", "Second story, café.", None, None),
    ]
    assert all(a.input_format == "jsonl" and a.source_id.startswith(url + "#L") for a in articles)
    assert articles[0].article_id != articles[1].article_id
    assert [(r.source_line, r.error_type) for r in rejected] == [(2, "bad_record"), (3, "bad_record"), (5, "too_large")]


def test_jsonl_fields_spec_is_validated():
    with pytest.raises(ValueError, match="FIELD=KEY"):
        JsonlFields.parse("body")
    with pytest.raises(ValueError, match="FIELD=KEY"):
        JsonlFields.parse("colour=red")


PAGE = """<html><head><title>Harbour reopens after storm | Example News</title>
<meta property="og:title" content="Harbour reopens after storm">
<meta name="author" content="Ana Lopez">
<meta property="article:published_time" content="2025-09-02T08:00:00Z">
</head><body><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article><h1>Harbour reopens after storm</h1>
<p>The harbour reopened on Tuesday after a storm closed it for three days, the port authority said.</p>
<p>Fishing boats returned to the water at dawn, and ferries resumed their schedules by midday.</p>
<p>Repairs to the northern pier will take another month, officials added in a statement.</p>
</article><footer>Copyright 2025 Example News. All rights reserved.</footer></body></html>"""


def test_html_pages_go_through_trafilatura():
    url = _put("memory:///html/page.html", PAGE.encode())
    (article,) = read_records(url, max_bytes=100_000)
    assert article.input_format == "html"
    assert article.title == "Harbour reopens after storm"
    assert article.author == "Ana Lopez"
    assert article.meta_date == "2025-09-02"
    assert "The harbour reopened on Tuesday" in article.text
    assert "Repairs to the northern pier" in article.text
    assert "All rights reserved" not in article.text and "Home" not in article.text


def test_mojibake_is_repaired_and_recorded():
    url = _put("memory:///moji/a.txt", "The Mona Lisa doesnâ€™t have eyebrows.".encode())
    (article,) = read_records(url, max_bytes=1000)
    assert article.text == "The Mona Lisa doesn’t have eyebrows."
    assert article.text_repaired is True


_REPAIR_PIECES = [
    "plain line", "caf\u00c3\u00a9 mojibake", "s\u00c3\u00b3", "Tom &amp; Jerry", "<b>a tag</b>", "x &lt; y",
    "bell\x07char", "\x1b[31mred\x1b[0m", "\u201cquotes\u201d \u2014 dash", "e\u0301", "\ufeffbom", "\x85c1", "A&B", "\r", "",
    # not ASCII: clean, mojibake of other encodings, a combining accent NFC turns into mojibake,
    # a lone surrogate, a deprecated format character, an entity next to accents
    "na\u00efve caf\u00e9 \u2019s", "\u0432\u0402\u2122", "A\u0303\u00a9 x", "\u00c3 \u00a0", "x\ud800y", "a\u206ab",
    "\u00e9t\u00e9 &eacute;t\u00e9", "\u4e2d\u6587\u3002", "\u00e2\u20ac\u201c dash",
]


@pytest.mark.parametrize("seed", range(8))
def test_repair_text_matches_ftfy_line_by_line(seed):
    """The fast paths must give exactly ftfy's result, tag-stops-unescaping rule included."""
    import random
    import unicodedata

    import ftfy

    from transforms.formats import _FTFY, repair_text

    rnd = random.Random(seed)
    for _ in range(300):
        text = "\n".join(rnd.choice(_REPAIR_PIECES) for _ in range(rnd.randint(0, 8))) + rnd.choice(["", "\n"])
        expected = ftfy.fix_text(text, _FTFY)
        assert repair_text(text) == (expected, expected != unicodedata.normalize("NFC", text))
    assert repair_text("caf\u00c3\u00a9 &amp;\n<p>x</p>\n&amp;") == ("café &\n<p>x</p>\n&amp;", True)
    # a line over ftfy's max_decode_length is fixed in pieces, the tag rule applying per piece
    long_line = "&amp; " + "a" * _FTFY.max_decode_length + " <b>x</b> &amp;\n&amp;"
    assert repair_text(long_line)[0] == ftfy.fix_text(long_line, _FTFY)


def test_the_skip_list_is_loaded_once_per_process_for_every_dofn_that_uses_it(tmp_path):
    import json
    import pickle

    from transforms.read import KnownInputs

    path = tmp_path / "known.json"
    path.write_text(json.dumps({"in/a.txt": ["ab" * 32, "unchanged"]}))
    handle = KnownInputs(str(path))
    first, second = pickle.loads(pickle.dumps(handle)), pickle.loads(pickle.dumps(handle))  # two DoFns' copies
    known = first.acquire()
    assert known == {"in/a.txt": ("ab" * 32, "unchanged")}
    assert second.acquire() is known
    assert KnownInputs(None).acquire() == {}


@pytest.mark.parametrize("name", ["cut.txt.gz", "cut.jsonl.gz", "fake.txt.gz", "cut.txt.xz", "cut.txt.bz2"])
def test_corrupt_compressed_files_are_rejected_as_such_without_a_traceback(name, tmp_path, caplog):
    import bz2
    import gzip
    import lzma

    text = ('{"text": "The council met on Tuesday."}\n' * 200).encode()
    packed = {"gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress}[name.rsplit(".", 1)[1]](text)
    path = tmp_path / name
    path.write_bytes(b"plain bytes, not compressed" if name.startswith("fake") else packed[: len(packed) // 2])
    with test_pipeline() as p:
        read = p | beam.Create([str(path)]) | ReadArticles(10**6)
        codes = read[REJECTED] | beam.Map(lambda r: (r.error_type, r.content_sha256 is not None))
        assert_that(codes, equal_to([("corrupt_compressed", True)]), label="rejected")
    assert not [r for r in caplog.records if r.exc_info]


def test_a_null_text_field_is_said_to_be_null_not_missing():
    from transforms.formats import jsonl_record

    with pytest.raises(ArticleRejected, match="field 'text' is null"):
        jsonl_record({"id": 1, "text": None}, JsonlFields())


def test_a_lone_surrogate_in_a_json_line_becomes_a_replacement_character():
    # JSON can escape half of an emoji ("\ud83d"); Python decodes it to a code point UTF-8 (Parquet,
    # the tokenizers) cannot hold, so every field gets U+FFFD instead, with or without the repair.
    line = r'{"text": "Council votes \ud83d on the river walls.", "title": "Walls \udc00", "author": "Jane \ud800Doe"}'
    url = _put("memory:///jsonl/surrogates.jsonl", line.encode())
    for repair in (True, False):
        (article,) = list(read_records(url, max_bytes=10_000, repair=repair))
        assert (article.text, article.title, article.author) == ("Council votes \ufffd on the river walls.", "Walls \ufffd", "Jane \ufffdDoe")
        for value in (article.text, article.title, article.author):
            value.encode("utf-8")  # no surrogate left
    # Control characters in a field go, and its mojibake is repaired, as the text's is.
    twice = "It’s a “test” of the café".encode().decode("latin-1")
    url = _put("memory:///jsonl/controls.jsonl", json.dumps({"text": "Council votes.", "title": "ctrl\x00chars\x1b here", "author": twice}).encode())
    (article,) = list(read_records(url, max_bytes=10_000))
    assert (article.title, article.author) == ("ctrlchars here", "It’s a “test” of the café")


_STORY = "<p>The council met on Tuesday to discuss the river walls and the plan.</p><p>Residents said the floods had cost them dearly this winter and last.</p>"


@pytest.mark.parametrize(
    "head, extra, day",
    [
        ("", "<p>The firm was founded in 2016.</p>", None),  # a bare year is no day
        ("", "<footer>© 2019 Example News</footer>", None),
        ("<meta name='date' content='2024-13-45'>", "", None),  # an invalid meta date
        ("<meta property='article:published_time' content='2024-01-01T10:00:00Z'>", "", "2024-01-01"),  # a real January 1st
        ("<meta property='article:published_time' content='2024-03-05T10:00:00Z'>", "", "2024-03-05"),
        ("", "<p>Published 5 March 2021</p>", "2021-03-05"),  # a date line in the text still counts
    ],
)
def test_an_html_page_s_date_is_never_a_bare_year_made_into_january_first(head, extra, day):
    from transforms.formats import html_record

    html = f"<html><head>{head}</head><body><article>{_STORY}{extra}</article></body></html>"
    assert html_record(html)["date"] == day


_FR = "Le président français a rencontré les élèves à l'école, où ils ont discuté de l'été et du café."


@pytest.mark.parametrize(
    "data, text, encoding",
    [
        # UTF-8 with its last character cut, or one stray byte: UTF-8, the broken bytes replaced
        (_FR.encode() + "é".encode()[:1], _FR + "\ufffd", "utf-8 (1 invalid sequence replaced)"),
        (_FR.encode().replace(b"discut", b"disc\xe9t"), _FR.replace("discut", "disc\ufffdt"), "utf-8 (1 invalid sequence replaced)"),
        ("東京で会議が開かれました。".encode()[:-1], "東京で会議が開かれました\ufffd", "utf-8 (1 invalid sequence replaced)"),
        # a legacy single-byte encoding has no valid multi-byte characters: still detected as such
        (_FR.encode("cp1252"), _FR, "cp1252"),
        ("The café opened on Main Street today, the owner said.".encode("cp1252"), "The café opened on Main Street today, the owner said.", "cp1252"),
    ],
)
def test_utf8_with_a_few_broken_bytes_stays_utf8(data, text, encoding):
    assert decode_bytes(data) == (text, encoding)


def test_text_encoded_twice_is_repaired_not_rejected_as_binary(tmp_path):
    # UTF-8 read as Latin-1 and written again as UTF-8 holds C1 characters ("â\x80\x99" for "’").
    text = "The president’s speech — “historic”, said the café’s owner. Ölpreis für Straßen. " * 3
    path = tmp_path / "twice.txt"
    path.write_bytes(text.encode("utf-8").decode("latin-1").encode("utf-8"))
    (article,) = list(read_records(str(path), max_bytes=10**6))
    assert article.text.strip() == text.strip() and article.text_repaired


def test_a_named_pipe_among_the_inputs_is_rejected_not_read(tmp_path):
    # Reading a pipe nobody writes to blocks forever; it is reported, the other files are read.
    import os

    from transforms.match import match_pattern

    (tmp_path / "a.txt").write_text("Council votes to expand river flood defences.")
    os.mkfifo(tmp_path / "pipe.txt")
    matched = match_pattern(str(tmp_path))
    assert [f.rsplit("/", 1)[-1] for f in matched.files] == ["a.txt"]
    assert [f.rsplit("/", 1)[-1] for f in matched.special] == ["pipe.txt"]


def test_a_january_first_in_the_page_s_url_stands():
    from transforms.formats import html_record

    html = f"<html><head><meta property='og:url' content='https://example.com/2024/01/01/council-votes'></head><body><article>{_STORY}</article></body></html>"
    assert html_record(html)["date"] == "2024-01-01"  # the page's own og:url, as the reader calls it


def test_a_local_file_named_as_a_file_url_is_skipped_by_its_path(tmp_path):
    """The skip list is keyed by plain paths: a file:// URL of the same file finds its entry."""
    from transforms.read import input_digest, plan_records

    path = tmp_path / "a.txt"
    path.write_text("Some article text that is long enough to be one.\n")
    known = {str(path): (input_digest(str(path)), "unchanged")}
    assert [skipped for _, _, skipped in plan_records(f"file://{path}", 1_000_000, known)] == ["unchanged"]
