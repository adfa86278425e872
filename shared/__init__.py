"""What the server and the app both import: the table registry, domain errors and value types.

Layer rule: no I/O and no framework here; everything is plain data and pure functions.
"""
