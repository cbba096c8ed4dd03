"""Champion history and the audit trail: rows are only ever added, so what was decided stays on record."""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.tables import AuditEvent, ChampionEvent


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def add_champion_event(session: Session, root_id: int, model_id: int | None, action: str, note: str = "",
                       who: str | None = None, hardware_id: int | None = None,
                       figures: dict[str, Any] | None = None) -> dict[str, Any]:
    row = ChampionEvent(root_id=root_id, model_id=model_id, action=action, note=note, who=who,
                        hardware_id=hardware_id, figures=figures or {})
    session.add(row)
    session.flush()
    return _event(row)


def _event(row: ChampionEvent) -> dict[str, Any]:
    return {"id": row.id, "root_id": row.root_id, "model_id": row.model_id, "action": row.action, "note": row.note,
            "who": row.who, "hardware_id": row.hardware_id, "figures": row.figures or {}, "at": _iso(row.at)}


def champion_events(session: Session, root_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """A family's promotions and demotions, newest first."""
    rows = session.scalars(select(ChampionEvent).where(ChampionEvent.root_id == root_id)
                           .order_by(ChampionEvent.id.desc()).limit(limit))
    return [_event(r) for r in rows]


def champions_by_hardware(session: Session, root_id: int) -> dict[int | None, dict[str, Any]]:
    """The latest promotion per target hardware (None: chosen without naming one)."""
    newest = (select(func.max(ChampionEvent.id)).where(ChampionEvent.root_id == root_id)
              .group_by(ChampionEvent.hardware_id))
    rows = session.scalars(select(ChampionEvent).where(ChampionEvent.id.in_(newest)))
    return {r.hardware_id: _event(r) for r in rows if r.action == "promote"}


def audit(session: Session, action: str, target: str, who: str | None = None,
          details: dict[str, Any] | None = None) -> None:
    session.add(AuditEvent(action=action, target=target, who=who, details=details or {}))
    session.flush()


def audit_events(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    return [{"id": r.id, "who": r.who, "action": r.action, "target": r.target, "details": r.details,
             "at": _iso(r.at)} for r in rows]
