"""A worker process of a multi-process local run (``--direct_running_mode multi_processing``):
Beam's SDK harness, logging at the run's ``--log_level`` instead of Beam's INFO start-up chatter.

``python -m pipeline.worker LEVEL`` is the command the FnApiRunner starts per worker
(`pipeline.main._runner`); Beam sets its root logger to INFO while it starts, so the level is
held on the handler.
"""
from __future__ import annotations

import sys

from pipeline import logs

if __name__ == "__main__":
    logs.configure(sys.argv[1] if len(sys.argv) > 1 else "WARNING", "%(levelname)s %(name)s (worker): %(message)s")
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)
