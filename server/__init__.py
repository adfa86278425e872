"""The fieldsync server: Litestar over SQLAlchemy. Only this package knows HTTP and SQL."""
