"""A load-test job is refused, in a sentence, before anything is queued: a server beyond this host, no worker here."""
from __future__ import annotations

import pytest

from engine import api
from engine.errors import InputError


def test_loadtest_job_refuses_a_server_beyond_this_host_and_a_host_without_a_worker(home):
    with pytest.raises(InputError, match="drives a server on its worker's host .127.0.0.1., not '10.1.2.3'"):
        api.serving.submit_loadtest("http://10.1.2.3:8600", "m", [1])
    with pytest.raises(InputError, match="no worker runs on this host to drive the load test"):
        api.serving.submit_loadtest("http://127.0.0.1:8600", "m", [1])
    with pytest.raises(InputError, match="concurrency levels must be between 1 and 256"):
        api.serving.submit_loadtest("http://127.0.0.1:8600", "m", [0])
    assert api.list_jobs() == []
