"""Alembic environment. Batch mode so that ALTERs work on SQLite."""
from alembic import context

from storage.tables import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` run from the command line
    from storage.db import get_engine

    connection = get_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
