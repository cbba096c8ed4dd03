"""Persistence: SQLAlchemy tables, alembic migrations, plain-record queries, the artifact store."""
