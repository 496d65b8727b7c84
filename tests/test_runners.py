"""The same pipeline through Beam's portable job API (the path Flink and Spark job servers
use): a local job service and an external worker pool, started and stopped here, on free ports."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import pytest

from pipeline.main import run
from schemas.article import read_dataset
from tests.conftest import SAMPLES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {seconds} s")


@pytest.fixture(scope="module")
def portable_services():
    """(job endpoint, worker pool endpoint); the pool's workers run `python` from PATH."""
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    job_port, pool_port = _free_port(), _free_port()
    services = [
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", "--port", str(job_port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", "--service_port", str(pool_port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]  # fmt: skip
    try:
        _wait_for(job_port, services[0])
        _wait_for(pool_port, services[1])
        yield f"localhost:{job_port}", f"localhost:{pool_port}"
    finally:
        for service in services:
            service.terminate()
        for service in services:
            try:
                service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.kill()


def _rows(out):
    rows = read_dataset(str(out)).to_table().to_pylist()
    return sorted(
        (r["source_path"], r["source_line"], r["topic"], r["date"], r["body"], tuple((e["canonical"], e["label"]) for e in r["entities"]))
        for r in rows
    )


def test_portable_runner_writes_the_same_dataset_as_the_direct_runner(portable_services, tmp_path):
    job, pool = portable_services
    common = ["--input", str(SAMPLES), "--topic_model", "keywords"]
    direct = run([*common, "--output", str(tmp_path / "direct")])
    portable = run(
        [*common, "--output", str(tmp_path / "portable"), "--runner", "PortableRunner", "--job_endpoint", job,
         "--environment_type", "EXTERNAL", "--environment_config", pool]
    )  # fmt: skip
    assert portable["all_inputs_accounted_for"] and portable["articles_written"] == direct["articles_written"] == 10
    assert _rows(tmp_path / "portable") == _rows(tmp_path / "direct")
    assert portable["rejected_by_reason"] == direct["rejected_by_reason"]


def test_run_local_portable_runs_the_demo_and_stops_its_services(tmp_path):
    from tests.conftest import REPO

    result = subprocess.run(
        ["./run_local.sh", "portable", "--output", str(tmp_path / "out"), "--topic_model", "keywords"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "job service on localhost:" in result.stdout and "10 articles written" in result.stdout
    assert read_dataset(str(tmp_path / "out")).to_table().num_rows == 10
    job, pool = re.search(r"job service on localhost:(\d+), worker pool on localhost:(\d+)", result.stdout).groups()
    for service in (f"local_job_service_main --port {job}", f"worker_pool_main --service_port {pool}"):
        assert subprocess.run(["pgrep", "-f", service], capture_output=True).returncode == 1, f"{service} still runs"
