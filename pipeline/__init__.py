"""News-article ingestion pipeline on Apache Beam: read, clean, enrich, write Parquet."""

__version__ = "0.2.0"
