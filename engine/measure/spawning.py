"""Fresh processes for timing, started the same way whatever program runs the engine.

A ``spawn`` child re-runs the parent's ``__main__`` script before it takes work, unless the parent was started
with ``-m``. In the dashboard (and in Streamlit's ``AppTest``) ``__main__`` is the page script, which must not
run again in a timing child: there it fails, and ``Pool`` replaces the failed child forever. Every timing pool
is therefore started with a bare ``__main__``; what the children run is always an engine function, imported
by its module's name.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import sys
import types
from typing import Any


def spawn_pool(processes: int = 1, **kwargs: Any) -> multiprocessing.pool.Pool:
    """``multiprocessing.get_context("spawn").Pool(processes, **kwargs)`` whose children skip ``__main__``."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        return multiprocessing.get_context("spawn").Pool(processes, **kwargs)
    finally:
        if main is not None:
            sys.modules["__main__"] = main
