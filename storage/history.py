"""Champion history and the audit trail: rows are only ever added, so what was decided stays on record."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.tables import AuditEvent, ChampionEvent, Model


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def add_champion_event(session: Session, root_id: int, model_id: int | None, action: str, note: str = "",
                       who: str | None = None, hardware_id: int | None = None,
                       figures: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a promotion or demotion with the family's and the model's names, so it reads the same after
    either is deleted."""
    root, model = session.get(Model, root_id), session.get(Model, model_id) if model_id is not None else None
    row = ChampionEvent(root_id=root_id, root_ref=root_id, family_name=root.name if root else None,
                        model_id=model_id, model_ref=model_id, model_name=model.name if model else None,
                        action=action, note=note, who=who, hardware_id=hardware_id, figures=figures or {})
    session.add(row)
    session.flush()
    return _event(row)


def _event(row: ChampionEvent) -> dict[str, Any]:
    return {"id": row.id, "root_id": row.root_ref, "family_name": row.family_name, "model_id": row.model_ref,
            "model_name": row.model_name, "action": row.action, "note": row.note, "who": row.who,
            "hardware_id": row.hardware_id, "figures": row.figures or {}, "at": _iso(row.at),
            "deleted": row.root_id is None or (row.model_ref is not None and row.model_id is None)}


def champion_events(session: Session, root_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """A family's promotions and demotions, newest first (read by the live link: a new model that reuses a
    deleted model's id starts with no history)."""
    rows = session.scalars(select(ChampionEvent).where(ChampionEvent.root_id == root_id)
                           .order_by(ChampionEvent.id.desc()).limit(limit))
    return [_event(r) for r in rows]


def deleted_family_events(session: Session, limit: int = 500) -> list[dict[str, Any]]:
    """Promotions and demotions of families whose root model was deleted, newest first."""
    rows = session.scalars(select(ChampionEvent).where(ChampionEvent.root_id.is_(None))
                           .order_by(ChampionEvent.id.desc()).limit(limit))
    return [_event(r) for r in rows]


def audit(session: Session, action: str, target: str, who: str | None = None,
          details: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(action=action, target=target, who=who, details=details or {}))
    session.flush()


def audit_events(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    return [{"id": r.id, "who": r.who, "action": r.action, "target": r.target, "details": r.details,
             "at": _iso(r.at)} for r in rows]
