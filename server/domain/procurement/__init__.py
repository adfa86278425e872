"""Procurement (SRM): supplier allocation of planned purchases, requisitions, purchase orders,
receipts and supplier scorecards.

Pure rules (``allocation.py`` and its helpers) live apart from the code that reads and writes
the database.
"""
