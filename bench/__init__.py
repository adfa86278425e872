"""Benchmarks: one script per figure of docs/performance.md.

Each prints the figure beside a baseline measured in the same run and their ratio, so a number
never stands alone. Run one with ``.venv/bin/python -m bench.<name> [--db sqlite|postgres]``;
``--quick`` runs a tiny size (the smoke test uses it so the scripts cannot rot).
"""
