"""Match stage: expand ``--input`` URLs, globs and directories into files, through fsspec.

Matching goes through fsspec (not Beam's FileSystems) so every fsspec backend works: local
paths, ``file://``, ``memory://``, and ``s3://``/``gs://`` once their backend is installed.
Matching starts from a handful of patterns, so a `Reshuffle` follows it: without it the whole
fused read-clean-NER stage would run in one worker.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterator, Mapping

import apache_beam as beam
import fsspec

from schemas.article import LOCAL_URL_PREFIX
from transforms import errors
from transforms.failures import REJECTED, Rejection, rejection
from transforms.filesystems import is_local
from transforms.read import HIDDEN_OR_SYSTEM, SKIPPED, SkippedInput

_GLOB_CHARS = set("*?[")
#: Files the operating system or a desktop leaves in folders; never articles.
OS_FILES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "ehthumbs.db", "icon\r"})


def is_hidden_or_system(relative: str) -> bool:
    """A dot-file (``.DS_Store``, macOS ``._*`` forks), a file in a dot-folder, or an OS file such
    as ``Thumbs.db``: skipped when a directory or glob finds it, read when named explicitly."""
    parts = [p for p in relative.split("/") if p]
    return any(p.startswith(".") for p in parts) or (bool(parts) and parts[-1].lower() in OS_FILES)


@dataclasses.dataclass(frozen=True)
class Matched:
    """What one input pattern names."""

    files: list[str]
    #: Hidden and OS files a directory walk or glob found (see `is_hidden_or_system`).
    ignored: list[str]
    #: Symbolic links to directories (or broken links), not followed.
    not_followed: list[str]
    #: Each file's and ignored file's name with its protocol (``file:///x`` for ``/x``): one file
    #: named two ways by two patterns is still one input.
    canonical: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Named pipes, sockets and devices: never read (a pipe with no writer blocks forever).
    special: list[str] = dataclasses.field(default_factory=list)


def unique_files(matches: list[Matched]) -> tuple[list[str], list[str]]:
    """(files, ignored) of several patterns' matches, each file once (the first pattern's
    spelling wins); a file one pattern ignores and another names is read, not ignored."""
    seen: set[str] = set()

    def first_of(kind: str) -> list[str]:
        names = []
        for matched in matches:
            for name in getattr(matched, kind):
                key = matched.canonical.get(name, name)
                if key not in seen:
                    seen.add(key)
                    names.append(name)
        return names

    files = first_of("files")  # before the ignored ones: a file named explicitly is read
    return files, first_of("ignored")


def expand_pattern(pattern: str) -> list[str]:
    """Files a URL, glob or directory names, sorted; directories are walked recursively."""
    return list(match_pattern(pattern).files)


def match_pattern(pattern: str, largest_first: bool = False) -> Matched:
    """The files of a URL, glob or directory.

    Directories are walked recursively, but a symbolic link to a directory is not followed
    (it may loop back on itself); it is reported so the caller can say so. Files come in name
    order, or with ``largest_first`` from the largest down (see `MatchFiles`).
    """
    fs, path = fsspec.core.url_to_fs(_normalised(pattern))
    base = path
    if _GLOB_CHARS & set(path):
        infos = fs.glob(path, detail=True)
        base = path[: min(path.find(c) for c in _GLOB_CHARS if c in path)].rsplit("/", 1)[0]
    elif fs.isdir(path):
        infos = fs.find(path, detail=True)
    elif fs.exists(path):
        infos = {path: fs.info(path)}
        base = None  # named explicitly: read whatever it is
    else:
        infos = {}
    files, ignored, skipped, special = [], [], [], []
    for name, info in sorted(infos.items()):
        kind = info.get("type")
        if info.get("islink") and kind != "file":
            try:
                kind = fs.info(name).get("type")  # follows the link
            except OSError:
                kind = "broken link"
            if kind != "file":
                skipped.append(name)
                continue
        if kind == "directory":
            continue
        if kind == "other":  # the local (and arrow) file system's pipe, socket or device
            special.append(name)
            continue
        if base is not None and is_hidden_or_system(name[len(base) :] if name.startswith(base) else name.rsplit("/", 1)[-1]):
            ignored.append(name)
        else:
            files.append(name)
    if largest_first:
        files.sort(key=lambda name: -_size(infos[name]))  # stable: ties keep name order
    # A local file is named by its plain path in source_path, whether the pattern was a path or
    # a file:// URL: one file, one input (`schemas.article.source_id`).
    keep_plain = "://" not in pattern or is_local(fs)

    def as_url(path: str) -> str:
        return path if keep_plain else fs.unstrip_protocol(path)

    canonical = {as_url(p): fs.unstrip_protocol(p) for p in files + ignored}
    return Matched(
        [as_url(p) for p in files], [as_url(p) for p in ignored], [as_url(p) for p in skipped], canonical, [as_url(p) for p in special]
    )


def _normalised(pattern: str) -> str:
    """A local path or ``file://`` URL without ``//``, ``.`` or ``..`` steps, absolute: a file is
    one input, and keeps one ``source_path``, however a run's command line spells its folder
    (``/data//in``, ``../in`` from another working directory). Other URLs are as given."""
    if "://" not in pattern:
        return os.path.normpath(os.path.abspath(pattern)) if pattern else pattern
    for prefix in (LOCAL_URL_PREFIX, "local://"):
        if pattern.startswith(prefix):
            return prefix + os.path.normpath(os.path.abspath(pattern[len(prefix) :] or "/"))
    return pattern



def _size(info: Mapping[str, Any]) -> int:
    """A listing's size for ordering only: a backend that gives none (or no number) sorts last."""
    try:
        return int(info.get("size") or 0)
    except (TypeError, ValueError):
        return 0


class _MatchFn(beam.DoFn):
    """All patterns at once: a file two patterns name (a folder and a glob inside it) is read once."""

    def process(self, patterns: tuple[str, ...]) -> Iterator[Any]:
        matches = []
        for pattern in patterns:
            try:
                matched = match_pattern(pattern, largest_first=True)
            except Exception as exc:  # noqa: BLE001 - a bad pattern is a dead letter too
                yield beam.pvalue.TaggedOutput(REJECTED, rejection("match", pattern, exc))
                continue
            matches.append(matched)
            yield from self._problems(pattern, matched)
        files, ignored = unique_files(matches)
        for name in ignored:
            yield beam.pvalue.TaggedOutput(SKIPPED, SkippedInput(name, HIDDEN_OR_SYSTEM))
        yield from files

    @staticmethod
    def _problems(pattern: str, matched: Matched) -> Iterator[Any]:
        not_followed, files = matched.not_followed, matched.files
        for link in not_followed:
            yield beam.pvalue.TaggedOutput(
                REJECTED,
                Rejection(link, "match", errors.SYMLINK_NOT_FOLLOWED, "a symbolic link to a directory (or a broken link) is not followed"),
            )
        for name in matched.special:
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(name, "match", errors.NOT_A_REGULAR_FILE, "a named pipe, socket or device is not read"),
            )
        if not files and not not_followed and not matched.ignored and not matched.special:
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejection(pattern, "match", errors.NO_MATCH, "the input pattern matched no file")
            )


class MatchFiles(beam.PTransform):
    """Patterns -> file URLs (main output), unmatched or failing patterns (``rejected``) and
    the hidden and OS files they found (``skipped``).

    Each pattern's files are emitted largest first. The DirectRunner deals the spread files
    to its workers in turn, in that order, so no large file comes last to keep one worker busy
    while the other idles (random order left one worker ~5% more text, up to 12%); runners
    that balance work dynamically do best with the longest tasks first too.
    """

    def __init__(self, patterns: list[str]):
        super().__init__()
        self._patterns = list(patterns)

    def expand(self, pbegin):
        matched = (
            pbegin
            | "Patterns" >> beam.Create([tuple(self._patterns)])
            | "Expand" >> beam.ParDo(_MatchFn()).with_outputs(REJECTED, SKIPPED, main="files")
        )
        files = matched.files | "Spread" >> beam.Reshuffle()
        return {"files": files, REJECTED: matched[REJECTED], SKIPPED: matched[SKIPPED]}
