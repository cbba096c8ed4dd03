"""A job's temporary files stay inside its scratch folder under the home, which is removed when it ends."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.faults.conftest import assert_consistent

pytestmark = pytest.mark.xdist_group("faults")


def test_keras_import_unpacks_nothing_into_the_machines_tmp(home: Path, digits_files: tuple[Path, Path]) -> None:
    # before: `.keras` imports left /tmp/keras-weights-* folders outside the home
    from engine import api

    tmp = Path(tempfile.gettempdir())
    before = set(tmp.glob("keras-weights-*")) | set(tmp.glob("tmp*keras*"))
    job = api.wait_job(api.submit_import(digits_files[0]).id, timeout_s=300)
    assert job.status == "succeeded"
    after = set(tmp.glob("keras-weights-*")) | set(tmp.glob("tmp*keras*"))
    assert after - before == set()
    assert_consistent(home)
