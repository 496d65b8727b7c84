#!/usr/bin/env bash
# A scheduled batch run, for cron or a systemd timer: ingest what is new in INBOX into DATASET.
#
#   INBOX=/data/incoming DATASET=/data/articles /opt/news-ingest/deploy/cron/run-scheduled.sh
#
# Exit status (python -m pipeline --help): 0 published (or nothing new), 1 failed (nothing
# published; the next run retries), 2 usage error (fix the flags), 3 published but look: an
# input pattern matched nothing, or more than --max_reject_ratio of the records were rejected.
# A run that overlaps the previous one stops with exit 2 ("locked by run ..."): the pipeline
# keeps one writer per dataset itself, no flock needed.
set -uo pipefail
: "${INBOX:?set INBOX to the folder (or fsspec URL) the articles arrive in}"
: "${DATASET:?set DATASET to the dataset root}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="${PYTHON:-$HERE/.venv/bin/python}"

"$PYTHON" -m pipeline --input "$INBOX" --output "$DATASET" --quiet ${EXTRA_FLAGS:-}
status=$?
case $status in
  0) ;;
  3) echo "news-ingest: published with warnings (exit 3); see $DATASET/_runs/ and $DATASET/_rejected/" >&2 ;;
  *) echo "news-ingest: failed with exit status $status; nothing was published" >&2 ;;
esac
exit $status
