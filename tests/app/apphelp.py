"""Small helpers for AppTest assertions."""
from __future__ import annotations


def by_label(elements, label: str):
    """The one element whose label is ``label``."""
    found = [e for e in elements if e.label == label]
    assert len(found) == 1, f"{len(found)} elements labelled {label!r} among {[e.label for e in elements]}"
    return found[0]


def plotly_count(at) -> int:
    return len(at.get("plotly_chart"))
