"""Benchmarks for captorra-importer: `python -m benchmarks [--quick] [--only NAME]`.

Every target is a ratio or a rate measured in the same run, against a baseline
run on the same data on the same (shared, noisy) machine. See README.md.
"""
