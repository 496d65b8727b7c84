"""Benchmarks: python benchmarks/throughput.py --help."""
