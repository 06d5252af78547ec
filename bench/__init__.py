"""Benchmarks: each prints its figures beside the goal it is measured against."""
