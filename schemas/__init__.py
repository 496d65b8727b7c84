"""The record type and the Parquet schema of the output table."""
