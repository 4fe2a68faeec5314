"""Storage: SQLAlchemy Core tables, Alembic migrations, one query module per entity.

Only this package knows SQL. Two backends sit behind the same code: SQLite (the
embedded default, WAL, one writer at a time) and PostgreSQL (production, scale).
"""
