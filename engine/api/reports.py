"""Reports: a family as one offline HTML file, and every measurement of a family as CSV."""
from __future__ import annotations

from typing import Any, TextIO

from engine import report
from engine.api.common import get_model, ready
from engine.api.releasing import champion_history
from engine.api.review import evaluation_datasets, family_overview
from storage import catalog, family
from storage.db import session_scope


def _root(root_id: int):  # noqa: ANN202
    model = get_model(root_id)
    return get_model(model.root_id)


def family_report_html(root_id: int, dataset_id: int | None = None) -> str:
    """The self-contained HTML report of the family ``root_id`` belongs to (accuracy on ``dataset_id``, default:
    the data set most of its evaluations used)."""
    root = _root(root_id)
    rows = family_overview(root.id, dataset_id)
    if dataset_id is None:
        used = evaluation_datasets(root.id)
        dataset_id = max(used, key=lambda d: d["evaluations"])["id"] if used else None
    with session_scope() as s:
        champion = catalog.get_champion(s, root.id)
        dataset = catalog.get_dataset(s, dataset_id) if dataset_id else None
        hardware = family.hardware_of(s, {r["hardware_id"] for r in rows})
    champ = {"model_id": champion.model_id, "note": champion.note,
             "chosen_at": champion.chosen_at.isoformat(timespec="minutes") + "Z"} if champion else None
    data = {"id": dataset.id, "name": dataset.name} if dataset else None
    return report.family_html({"id": root.id, "name": root.name}, rows, champ, champion_history(root.id), data,
                              hardware)


def family_measurements_csv(root_id: int, out: TextIO) -> int:
    """Write every measurement of the family as CSV rows (``report.CSV_COLUMNS``); returns how many."""
    root = _root(root_id)
    ready()
    with session_scope() as s:
        models = {m["id"]: m for m in family.family_rows(s, root.id)}
        datasets = {d.id: {"name": d.name} for d in catalog.list_datasets(s)}
        hardware: dict[int, dict[str, Any]] = {}

        def rows():  # noqa: ANN202
            for m in family.iter_measurements(s, root.id):
                if m.hardware_id is not None and m.hardware_id not in hardware:
                    hardware.update(family.hardware_of(s, [m.hardware_id]))
                yield report.csv_row(m.to_json(), models.get(m.model_id, {}), datasets.get(m.dataset_id),
                                     hardware.get(m.hardware_id))

        return report.write_csv(out, rows())
