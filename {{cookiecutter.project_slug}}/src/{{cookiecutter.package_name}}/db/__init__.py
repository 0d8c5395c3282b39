"""PostgreSQL: one pool per driver, what their failures mean, and the schema's migrations."""
