"""Benchmarks (run on demand: make bench); never timed tests."""
