"""The sync engine, shared by the server and the app.

Layer rule: the core (hlc, merge, protocol, codec, outbox) is pure: no I/O, no clock reads, no
framework. Storage lives at the edges (``replica.py`` for a device; the server has its own).
"""
