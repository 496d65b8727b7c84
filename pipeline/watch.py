"""``--streaming``: watch the ``--input`` patterns and publish what arrives, one window at a time.

A loop in the driver, holding the output's lock for its whole life: every ``--watch_interval``
seconds it lists the patterns; a file that is new, or whose size or modification time changed,
and that was not modified in the last interval (so a file still being copied waits), joins the
open window. A window opens when its first file was last modified, so files that arrive while a
window is being processed are due as soon as it ends; ``--window_seconds`` after it opened, its
files go through the same batch pipeline and publish as any run, under the run id
``<run_id>-w<n>``. Whether a file
was already committed (by a batch run, or by this job before a restart) is the committed-input
index's decision, exactly as in incremental mode, so a restart never processes a file twice.

SIGTERM or SIGINT stops the loop: between windows at once; during a window's pipeline by ending
it, which leaves that window unpublished in staging for the next start to clean up; a publish
that has started is never interrupted. Beam's own streaming runners need a per-window publish
inside the pipeline; docs/design.md says why this loop runs on the DirectRunner instead.
"""
from __future__ import annotations

import contextlib
import dataclasses
import signal
import sys
import time
from collections import Counter
from typing import Any, Callable, Iterator

import fsspec

from pipeline.config import RunConfig
from pipeline.publish import DatasetOutput
from transforms.match import match_pattern

#: How often a sleeping loop looks at a stop request.
_TICK = 0.2


class StopRequested(BaseException):
    """SIGTERM or SIGINT arrived while a window's pipeline ran. Not an `Exception`, like
    KeyboardInterrupt: the stages' per-article guards (``except Exception``) would take it for a
    failed batch, go on, and publish the window."""


def stamps(patterns: tuple[str, ...]) -> dict[str, tuple[Any, Any]]:
    """(size, modification time) of every file the patterns match now."""
    found: dict[str, tuple[Any, Any]] = {}
    for pattern in patterns:
        try:
            files = match_pattern(pattern).files
        except Exception:  # noqa: BLE001 - a folder that is briefly unreadable: look again next time
            continue
        for url in files:
            try:
                fs, path = fsspec.core.url_to_fs(url)
                info = fs.info(path)
            except OSError:
                continue  # gone since the listing
            found.setdefault(url, (info.get("size"), info.get("mtime") or info.get("LastModified") or info.get("created")))
    return found


def watch(
    config: RunConfig,
    output: DatasetOutput,
    say: Callable[[str], None],
    run_window: Callable[[RunConfig, Callable[[], Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Run until SIGTERM/SIGINT; return the totals of the windows published."""
    interval, window_seconds = config.watch_interval, config.window_seconds
    state = {"stop": False, "interruptible": False}

    def on_signal(signum, frame) -> None:
        state["stop"] = True
        if state["interruptible"]:
            raise StopRequested(signal.Signals(signum).name)

    @contextlib.contextmanager
    def interruptible() -> Iterator[None]:
        state["interruptible"] = True
        try:
            if state["stop"]:
                raise StopRequested("stop requested")
            yield
        finally:
            state["interruptible"] = False

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    totals: Counter = Counter()
    committed: dict[str, tuple[Any, Any]] = {}  # what this job has put through a window
    try:
        with output.lock(config.run_id):
            for action in output.recover():
                say(f"recovery: {action}")
            output.migrate_index()
            say(
                f"watching {', '.join(config.inputs)} every {interval:g} s; the files of each {window_seconds:g} s "
                f"window are published as one run into {config.output}; SIGTERM or Ctrl-C stops"
            )
            last: dict[str, tuple[Any, Any]] = {}
            pending: dict[str, tuple[Any, Any]] = {}
            opened: float | None = None  # wall-clock time the open window's first file arrived
            while not state["stop"]:
                now = stamps(config.inputs)
                clock = time.time()
                for url, stamp in now.items():
                    modified = _seconds(stamp[1])
                    # Not being written: unchanged since the last look, or untouched for an interval.
                    settled = last.get(url) == stamp or (modified is not None and clock - modified >= interval)
                    if settled and committed.get(url) != stamp and pending.get(url) != stamp:
                        pending[url] = stamp
                        arrived = min(modified, clock) if modified is not None else clock
                        opened = arrived if opened is None else min(opened, arrived)
                last = now
                if pending and opened is not None and time.time() - opened >= window_seconds:
                    totals["windows"] += 1
                    window = _window_config(config, sorted(pending), totals["windows"])
                    try:
                        manifest = run_window(window, interruptible)
                    except StopRequested:
                        say(f"stopped during window {window.run_id}: it stays unpublished; the next start cleans it up")
                        break
                    committed.update(pending)
                    pending, opened = {}, None
                    totals["published_windows"] += bool(manifest.get("published"))
                    for key in ("articles_written", "articles_rejected", "skipped"):
                        totals[key] += manifest.get(key, 0) or 0
                    sys.stdout.flush()
                _sleep(interval, state)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    say(
        f"stopped: {totals['windows']} windows, {totals['published_windows']} published; "
        f"{totals['articles_written']} articles written, {totals['articles_rejected']} rejected, {totals['skipped']} skipped"
    )
    return {"run_id": config.run_id, "streaming": True, "published": totals["published_windows"] > 0, **totals, "unmatched_patterns": []}


def _seconds(mtime: Any) -> float | None:
    """A listing's modification time as epoch seconds (local files give a float, object stores
    a datetime), or None."""
    if isinstance(mtime, (int, float)):
        return float(mtime)
    timestamp = getattr(mtime, "timestamp", None)
    return timestamp() if callable(timestamp) else None


def _window_config(config: RunConfig, files: list[str], number: int) -> RunConfig:
    run_id = f"{config.run_id}-w{number:05d}"
    return dataclasses.replace(config, inputs=tuple(files), run_id=run_id, header={**config.header, "run_id": run_id, "inputs": files})


def _sleep(seconds: float, state: dict[str, bool]) -> None:
    deadline = time.monotonic() + seconds
    while not state["stop"] and time.monotonic() < deadline:
        time.sleep(min(_TICK, max(0.0, deadline - time.monotonic())))
