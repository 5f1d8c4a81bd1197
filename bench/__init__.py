"""Benchmarks of opskpi against the emulator: `make bench` (see bench/run.py). Never part of `make test`."""
