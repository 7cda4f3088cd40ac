"""Benchmark modules: every module here is imported by ``python -m bench`` (see bench/registry.py)."""
