"""Copying a catalogue from one kind of database into another: a SQLite backup restored into PostgreSQL,
which is how a team moves from one box to several hosts.

Both databases are first brought to this release's schema (the source is a scratch copy, never the
backup itself). Rows then go table by table in foreign-key order, in one transaction on the target,
typed by the same table definitions the studio uses (JSON, times and flags convert between the
dialects). Ids are kept, so every artifact path, lineage link and measurement still points where it
did; PostgreSQL's id sequences are then moved past the copied ids. Live workers are not copied: they
announce themselves again.
"""
from __future__ import annotations

from sqlalchemy import Integer, func, select, text

from storage import migrate
from storage.db import get_engine
from storage.tables import Base

SKIPPED = {"workers"}  # who is alive now, not part of the catalogue
CHUNK = 500


def copy_catalogue(source_url: str, target_url: str) -> dict[str, int]:
    """Replace the (empty) catalogue at ``target_url`` with the one at ``source_url``; rows copied per table."""
    migrate.upgrade(source_url)
    migrate.upgrade(target_url)
    tables = [t for t in Base.metadata.sorted_tables if t.name not in SKIPPED]
    counts: dict[str, int] = {}
    target = get_engine(target_url)
    with get_engine(source_url).connect() as read, target.begin() as write:
        for table in reversed(tables):  # what ``migrate`` or a first start wrote (catalogue versions) goes
            write.execute(table.delete())
        for table in tables:
            rows = read.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            counts[table.name] = 0
            while batch := [dict(r) for r in rows.fetchmany(CHUNK)]:
                write.execute(table.insert(), batch)
                counts[table.name] += len(batch)
        if target.dialect.name == "postgresql":
            for table in tables:
                _move_sequence_past(write, table)
    return counts


def _move_sequence_past(conn, table) -> None:  # noqa: ANN001
    """The next id PostgreSQL hands out is past the largest copied one (no-op for keys without a sequence)."""
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or not isinstance(keys[0].type, Integer):
        return
    column = keys[0]
    highest = conn.execute(select(func.max(column))).scalar()
    if highest is not None:
        conn.execute(text("SELECT setval(pg_get_serial_sequence(:table, :column), :value)"),
                     {"table": table.name, "column": column.name, "value": highest})
