"""Master data (ERP): the CSV import of PLANNING.md and the back-office API over the same rows.

    specs.py        the files: columns, cell types, keys (pure)
    validate.py     reading and checking files and rows; problems as file:line:column (pure)
    plan.py         stored state + checked rows -> the writes of an upsert by key (pure)
    importer.py     the service: read, check, plan and write in one transaction
    console.py      ``fieldsync import DIR``: progress bars, the summary, the problems
    controllers.py  /api/v1/master/{kind} and /api/v1/import
"""
