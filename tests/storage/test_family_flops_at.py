"""The slim family rows carry the sizes a model's FLOPs were counted at, on SQLite and PostgreSQL alike."""
from __future__ import annotations

from pathlib import Path

from storage import catalog, family, migrate
from storage.db import session_scope

AT = [{"key": "image:1", "input": "image", "position": 1, "size": 224},
      {"key": "image:2", "input": "image", "position": 2, "size": 224}]


def test_family_rows_carry_flops_at(db_home: Path) -> None:
    migrate.upgrade()
    fields = dict(format="onnx", sha256="0" * 64, artifact="00/x/model.onnx", size_bytes=10, flops=1000)
    with session_scope() as s:
        open_size = catalog.add_model(s, name="any-size", info={"flops_at": AT}, **fields)
        fixed = catalog.add_model(s, name="fixed", info={"opset": 17}, **fields)
    with session_scope() as s:
        rows = {r["id"]: r for r in family.family_rows(s)}
    assert rows[open_size.id]["flops_at"] == AT
    assert rows[fixed.id]["flops_at"] is None
