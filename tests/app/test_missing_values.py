"""Missing figures show as "—" in every table, never as the word None (Streamlit's default for a missing cell)."""
from __future__ import annotations

import ast
from pathlib import Path

from app import tables

APP_DIR = Path(__file__).resolve().parents[2] / "app"


def _words(rows: list[dict]) -> set[str]:
    """Every text cell of ``rows`` as the table would show it."""
    return {str(v) for r in rows for v in r.values() if isinstance(v, str)}


def test_every_table_in_the_app_shows_missing_values_as_a_dash() -> None:
    """st.dataframe draws a missing cell as "None" unless told otherwise: each call in the app says "—"."""
    missing = []
    for path in sorted(APP_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "dataframe"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "st"):
                given = {k.arg: k.value for k in node.keywords}
                if not (isinstance(given.get("placeholder"), ast.Constant) and given["placeholder"].value == "—"):
                    missing.append(f"{path.relative_to(APP_DIR)}:{node.lineno}")
    assert not missing, missing


def test_models_and_jobs_tables_built_from_records_with_gaps_hold_no_none_text() -> None:
    models = [{"id": 1, "name": "root", "format": "onnx", "pass": None, "parent_id": None, "root_id": 1,
               "params": None, "flops": None, "size_bytes": None, "tags": None, "archived": False, "info": None},
              {"id": 2, "name": "child", "format": "onnx", "pass": "ort-quantize-dynamic", "parent_id": 1,
               "root_id": 1, "params": 12, "flops": 2 * 10**6, "size_bytes": 2048, "tags": ["fast"],
               "info": {"flops_at": [{"key": "x:1", "input": "x", "position": 1, "size": 128}]}}]
    rows = tables.models_table(models, set())
    assert rows[0]["FLOPs"] == "—" and rows[0]["size"] == "—" and rows[1]["FLOPs"] == "2.00 M at 128"
    jobs = [{"id": 3, "kind": "demo", "status": "queued", "params": {}, "pass": None, "output_model_id": None,
             "created_at": "2026-12-02T10:00:00Z", "started_at": None, "finished_at": None, "duration_s": None,
             "submitted_by": None, "worker": None, "target": None, "message": None, "error": None}]
    io = tables.io_table({"inputs": [{"name": "x", "shape": None, "dtype": None}], "outputs": None})
    history = tables.history_rows([{"id": 4, "kind": "evaluate", "summary": {"metrics": {"accuracy": None}}}])
    for table in (rows, tables.jobs_table(jobs), io, history, tables.workers_table(
            [{"id": "w1", "host": "h", "labels": [], "heartbeat": None, "job": None}])):
        assert not {"None", "nan"} & _words(table), table
    assert io[0]["shape"] == "—"


def test_models_page_tables_say_dash_and_never_none(page, imported) -> None:
    at = page("models")
    assert at.dataframe, "the Models page drew no table"
    for frame in at.dataframe:
        assert frame.proto.placeholder == "—"
        cells = frame.value.astype(object).where(frame.value.notna(), None).to_numpy().ravel()
        assert not {"None", "nan"} & {c for c in cells if isinstance(c, str)}
    assert list(at.dataframe[0].value["parent"]) == [None]  # a root: missing, drawn as "—"


def test_settings_with_no_value_show_a_dash() -> None:
    from app.model_panel import _plain

    assert _plain(None) == "—" and _plain(0.5) == "0.5" and _plain([1, 2]) == "1, 2"
