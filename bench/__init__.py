"""Waypoint's benchmarks against the bare SpiffWorkflow cycle: `python -m bench` (or `make bench`)."""
