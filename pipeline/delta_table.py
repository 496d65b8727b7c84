"""The output as a Delta Lake table (``--table_format delta``): the transaction log names the files.

Workers write Parquet exactly as for the Hive layout; the driver's publish (`pipeline.publish`)
moves them into the ``date=/topic=`` folders, where no Delta reader sees them, and then makes the
whole run visible in **one** commit of adds and removes. The commit carries an application
transaction (``news-ingest``, N) whose number the publish journal fixed before the commit, so a
driver rolling a crashed publish forward sees that its commit already happened and never commits
twice. Removed files stay on disk (time travel reads them) until ``vacuum``.

The table's log does not keep the files' key-value metadata, so every commit records the schema
version (and the run) in its commit info.
"""
from __future__ import annotations

import json
import math
import posixpath
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from schemas.article import ARTICLE_SCHEMA, NULL_PARTITION, PARTITION_COLUMNS, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from transforms.errors import UsageError

DELTA_LOG = "_delta_log"
#: The application id of our commits' transactions.
APP_ID = "news-ingest"
#: Commit-info keys (the log's commitInfo action keeps them).
RUN_KEY = "news_ingest.run_id"
OPERATION_KEY = "news_ingest.operation"
SCHEMA_KEY = SCHEMA_VERSION_KEY.decode()
#: Tries of one commit while other writers' commits keep getting in first.
COMMIT_ATTEMPTS = 20
#: Object stores deltalake reaches by URL; anything else must be a local path.
_REMOTE = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "azure")

#: The table's schema: the files' columns, then the partition columns (as the folder names give them).
TABLE_SCHEMA = pa.schema(list(ARTICLE_SCHEMA) + [pa.field(name, pa.string()) for name in PARTITION_COLUMNS])


class TableChanged(Exception):
    """Another writer changed the table so that a commit would no longer do what its run planned."""


@dataclass(frozen=True, order=True)
class DataFile:
    """A Parquet file of the table: its path relative to the root, size in bytes, rows."""

    path: str
    size: int
    rows: int | None = None


def table_uri(url: str, fs: Any, root: str) -> str:
    """How deltalake names the output: a local path, or an object-store URL it can reach itself."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("file", "local"):
        return root
    if protocol in _REMOTE:
        return url
    raise UsageError(
        f"--output {url}: --table_format delta writes through deltalake, which reaches local paths and "
        f"{', '.join(_REMOTE[:3])}/Azure URLs, not {protocol}://"
    )


def partition_values(path: str) -> dict[str, str | None]:
    """``date=2025-01-01/topic=sport/part.parquet`` -> {date: "2025-01-01", topic: "sport"}; the
    Hive null folder (``__HIVE_DEFAULT_PARTITION__``) is a null value, as Delta wants it."""
    values: dict[str, str | None] = {}
    for part in posixpath.dirname(path).split("/"):
        name, _, value = part.partition("=")
        if name in PARTITION_COLUMNS:
            values[name] = None if value == NULL_PARTITION else urllib.parse.unquote(value)
    if set(values) != set(PARTITION_COLUMNS):
        raise ValueError(f"{path} is not in a date=/topic= folder")
    return values


class DeltaLog:
    """The Delta transaction log of one output root."""

    def __init__(self, uri: str, storage_options: dict[str, str] | None = None):
        self.uri = uri
        self.storage_options = storage_options
        self._latest = None  # the table as last loaded: brought up to date, not loaded again

    def __getstate__(self):
        return {**self.__dict__, "_latest": None}

    def _table(self, version: int | None = None):
        """The table at ``version``, or at its latest version (read incrementally: a publish
        asks several times, and each full load replays the log since its last checkpoint)."""
        from deltalake import DeltaTable
        from deltalake.exceptions import DeltaError, TableNotFoundError

        try:
            if version is not None:
                return DeltaTable(self.uri, version=version, storage_options=self.storage_options)
            if self._latest is None:
                self._latest = DeltaTable(self.uri, storage_options=self.storage_options)
            else:
                self._latest.update_incremental()
            return self._latest
        except TableNotFoundError:
            raise
        except DeltaError as exc:  # a commit file truncated or garbled: delta-rs's message and Rust backtrace
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UsageError(
                f"{self.uri}: its Delta log cannot be read ({first}): restore {DELTA_LOG}/ from a backup; when only "
                f"the latest commit file is damaged, delete it and run python -m pipeline.compact OUTPUT --reindex"
            ) from exc

    def files(self) -> list[DataFile]:
        """The files of the current version (what a Delta reader reads), sorted by path."""
        actions = pa.table(self._table().get_add_actions(flatten=True))
        paths = [urllib.parse.unquote(p) for p in actions["path"].to_pylist()]
        sizes = actions["size_bytes"].to_pylist()
        rows = actions["num_records"].to_pylist() if "num_records" in actions.column_names else [None] * len(paths)
        return sorted(DataFile(p, s, r) for p, s, r in zip(paths, sizes, rows))

    def version(self) -> int:
        """The table's current version."""
        return self._table().version()

    def committed(self) -> int:
        """The number of our last commit's transaction (0 before the first, or with no table)."""
        from deltalake.exceptions import TableNotFoundError

        try:
            table = self._table()
        except TableNotFoundError:
            return 0
        return table.transaction_version(APP_ID) or 0

    def foreign_commits(self, limit: int = 50) -> list[str]:
        """The latest operations other writers committed (an OPTIMIZE, a DELETE, a MERGE...),
        newest first; ours and vacuums do not count."""
        return [
            f"{entry.get('operation', '?')} (version {entry.get('version')})"
            for entry in self._table().history(limit=limit)
            if RUN_KEY not in entry and not str(entry.get("operation", "")).startswith("VACUUM")
        ]

    def commit(
        self, txn: int, adds: list[DataFile], removes: list[str], run_id: str, operation: str, data_change: bool = True
    ) -> bool:
        """One commit of ``adds`` and ``removes`` as transaction ``txn``; False (and nothing done)
        when a commit with that number or a later one is already in the log. Creates the table
        when it does not exist yet. ``data_change`` False: the rows stay the same (a compaction),
        so a reader following the table's changes may skip the commit.

        Optimistic, and checked by us: a file this commit removes must still be in the table
        (delta-rs lets a commit remove a file an OPTIMIZE already merged away, which would leave
        the rows it replaces in the merged file), else `TableChanged`; the commit is made on the
        version just checked, without delta-rs's retries, and checked again when another commit
        got in first."""
        from deltalake import CommitProperties, Schema, Transaction
        from deltalake.exceptions import CommitFailedError, TableNotFoundError
        from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

        properties = CommitProperties(
            custom_metadata={RUN_KEY: run_id, SCHEMA_KEY: SCHEMA_VERSION, OPERATION_KEY: operation},
            app_transactions=[Transaction(APP_ID, txn)],
            max_commit_retries=0,
        )
        schema = Schema.from_arrow(TABLE_SCHEMA.remove_metadata())
        for _ in range(COMMIT_ATTEMPTS):
            try:
                table = self._table()
            except TableNotFoundError:
                table = None
            if table is not None and (table.transaction_version(APP_ID) or 0) >= txn:
                if not any(entry.get(RUN_KEY) == run_id for entry in table.history(limit=1000)):
                    raise RuntimeError(f"Delta commit of run {run_id}: transaction {txn} is in the log, made by another run")
                return False
            now = int(time.time() * 1000)
            current = {f.path: f for f in self.files()} if table is not None else {}
            already = [f.path for f in adds if f.path in current]
            if already:
                raise RuntimeError(f"Delta commit of run {run_id}: {already[0]} is already in the table")
            gone = [path for path in removes if path not in current]
            if gone:
                raise TableChanged(f"{gone[0]}, which this run replaces, was removed from the table by another writer")
            add_actions = [
                AddAction(f.path, f.size, partition_values(f.path), now, data_change, json.dumps({"numRecords": f.rows}))
                for f in adds
            ]
            try:
                if table is None:
                    create_table_with_add_actions(
                        self.uri,
                        schema,
                        add_actions,
                        mode="error",
                        partition_by=list(PARTITION_COLUMNS),
                        storage_options=self.storage_options,
                        commit_properties=properties,
                    )
                else:
                    table.create_write_transaction(
                        [*(RemoveAction(p, data_change, now, current[p].size, partition_values(p)) for p in removes), *add_actions],
                        mode="append",
                        schema=schema,
                        partition_by=list(PARTITION_COLUMNS),
                        commit_properties=properties,
                    )
                return True
            except CommitFailedError:
                continue  # another commit got in first: look again
            except Exception:
                if table is None and self._exists():
                    continue  # another writer created the table first
                raise
        raise RuntimeError(f"Delta commit of run {run_id}: other writers kept committing first ({COMMIT_ATTEMPTS} attempts)")

    def _exists(self) -> bool:
        from deltalake.exceptions import TableNotFoundError

        try:
            self._table()
        except TableNotFoundError:
            return False
        return True

    def vacuum(self, retention_hours: float, dry_run: bool = False) -> list[str]:
        """Delete the files commits removed more than ``retention_hours`` ago (never a file the
        log does not name: a running job's staged or not yet committed files are left alone)."""
        return self._table().vacuum(
            retention_hours=math.ceil(retention_hours),  # whole hours: never shorter than asked
            dry_run=dry_run,
            enforce_retention_duration=False,
            full=False,
        )
