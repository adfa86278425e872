"""Storage: the schema, engines and migrations. Nothing here decides a business rule."""
