"""Planning (ERP): MRP, kitting and production orders over the merged data.

Pure functions over plain data (``model.py``) live apart from the code that loads that data
from the database and stores the results.
"""
