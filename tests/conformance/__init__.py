"""Conformance runs against published test kits (the DMN TCK); `python -m tests.conformance` prints the table."""
