"""Every reason an input is rejected and every error a run stops with, in one place.

Rejection codes are the ``error_type`` of a `Rejection` (``_rejected/*.jsonl``, the ledger,
the summary's ``rejected_by_reason``): stable strings users filter on. An exception nobody
expected is rejected as ``unexpected:<ExceptionClass>``, so it can be found and fixed.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

T = TypeVar("T")

# -- rejection codes, by the stage that gives them -------------------------------------
# match
NO_MATCH = "no_match"  # an --input pattern that matched no file
SYMLINK_NOT_FOLLOWED = "symlink_not_followed"  # a link to a directory (it may loop), or a broken link
NOT_A_REGULAR_FILE = "not_a_regular_file"  # a named pipe, socket or device: reading it could block forever
# read
EMPTY_FILE = "empty_file"  # no bytes, or only whitespace
EMPTY_BODY = "empty_body"  # a JSON Lines record whose text field is blank
BINARY_CONTENT = "binary_content"  # control characters or NUL bytes: not text
UNDECODABLE = "undecodable"  # no text encoding fits the bytes
TOO_LARGE = "too_large"  # over --max_article_bytes after decompression (per line for JSON Lines)
UNSUPPORTED_FORMAT = "unsupported_format"  # a file name no reader knows
BAD_RECORD = "bad_record"  # a JSON Lines line that is not an object with a text field
NO_TEXT_IN_HTML = "no_text_in_html"  # trafilatura found no main text
CORRUPT_COMPRESSED = "corrupt_compressed"  # a .gz/.bz2/.xz/.zst that is cut short or not what its name says
UNREADABLE = "unreadable"  # the file system refused the read (permissions, I/O error)
# clean
NO_TEXT_AFTER_CLEANING = "no_text_after_cleaning"  # everything was boilerplate
# entities
TEXT_TOO_LONG = "text_too_long"  # over the spaCy model's max_length
#: Prefix of the code of an exception nobody expected.
UNEXPECTED = "unexpected"


class ArticleRejected(Exception):
    """An input that is well understood to be unusable; `error_type` is one of the codes above."""

    def __init__(self, message: str, error_type: str):
        super().__init__(message)
        self.error_type = error_type


class SettingError(ValueError):
    """A setting, or a file or model a setting names, that cannot be used: raised before any
    work; the command line prints it in one line, naming the flag, and exits 2."""


class DataFileError(SettingError):
    """A data file that is missing or not valid YAML; the message names the file and the place."""


class RulePackError(SettingError):
    """A rule pack that cannot be used."""


class TaxonomyError(SettingError):
    """A taxonomy (or topic model) that cannot be used."""


class ModelNotFound(SettingError):
    """A spaCy model that is not installed or has no entity recogniser."""


class EmbeddingsUnavailable(SettingError):
    """A package or file the embeddings topic model needs is missing; the message says what to install."""


class UsageError(Exception):
    """A flag, file, model or output that cannot be used as given: the command line prints the
    message (which says how to fix it) and exits 2, having done nothing."""


class OutputLocked(UsageError):
    """Another live run holds the output's lock."""


def loaded(flag: str, load: "Callable[[Any], T]", value: Any) -> "T":
    """``load(value)``, with a user's mistake in that flag's value or file as a `UsageError`
    that names the flag. Anything else is a bug and keeps its traceback."""
    try:
        return load(value)
    except SettingError as exc:
        raise UsageError(f"{flag}: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"{flag} {value}: {exc.strerror or exc}") from exc
