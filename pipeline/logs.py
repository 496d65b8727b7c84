"""Logging for the command line and its local worker processes: the run's level, and none of
Beam's messages that nobody can act on."""
from __future__ import annotations

import logging

#: Google Cloud's optional client is absent (on import); the local multi-process workers are
#: started with our own command (`pipeline.worker`) and keep no state between runs.
CHATTER = (
    "apitools not found",
    "in order for it to have the desired worker parallelism",
    "No semi_persistent_directory found",
)


def not_chatter(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return not any(text in message for text in CHATTER)


def configure(level: str = "WARNING", fmt: str = "%(levelname)s %(name)s: %(message)s") -> None:
    """Root handler at ``level`` (held on the handler: Beam's worker sets its root logger to INFO)."""
    logging.basicConfig(level=level, format=fmt)
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
        handler.addFilter(not_chatter)


def set_level(level: str) -> None:
    logging.getLogger().setLevel(level)
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
