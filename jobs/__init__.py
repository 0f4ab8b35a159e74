"""Flink jobs and the scrapeguard CLI."""
