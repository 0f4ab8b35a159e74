"""Benchmarks: `scrapeguard bench` (`benchmarks/suite.py`) and the commands it runs."""
