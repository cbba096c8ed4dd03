"""Watching and proving a running server: its metrics, one input tried, and load tests (run here, or as a
background job whose curve is stored as a measurement with the hardware fingerprint)."""
from __future__ import annotations

import socket
from typing import Any

from engine.api.common import get_model, ready
from engine.errors import InputError, validation_sentence
from storage.db import session_scope
from storage.records import JobRecord


def read_metrics(url: str, token: str | None = None) -> dict[str, Any]:
    """One reading of the server's /metrics: requests, failures, latency percentiles, batch sizes, cache hit
    rate, in-flight requests, process CPU % and RSS (see ``engine.serving.readings.reduce``)."""
    from engine.serving.client import scrape
    from engine.serving.readings import reduce

    return reduce(scrape(url, token)["samples"])


def served_versions(url: str, name: str, token: str | None = None) -> list[dict[str, Any]]:
    """What the running server holds for ``name``: each version's model, provider, fallback note, settings."""
    import urllib.parse

    from engine.serving.client import Connection

    conn = Connection(url, token, timeout_s=10)
    try:
        return conn.json("GET", f"/v2/models/{urllib.parse.quote(name)}/stats")["versions"]
    finally:
        conn.close()


def throughput(history: list[dict[str, Any]]) -> list[float | None]:
    """Requests per second between consecutive ``read_metrics`` readings."""
    from engine.serving.readings import throughput as rates

    return rates(history)


def try_input(url: str, name: str, array: Any, version: int | None = None, top: int = 5,
              token: str | None = None) -> dict[str, Any]:
    """Send one input over KServe V2; the outputs, and the top classes when the first output is (1, classes)."""
    from engine.serving.client import infer_once

    return infer_once(url, name, array, version, top, token)


def input_from(kind: str, value: Any, model_id: int | None = None, row: int = 0) -> Any:
    """One try-it input: ``json`` (text), ``image`` (bytes, resized for ``model_id``) or ``dataset`` (an id)."""
    from engine.api.common import dataset_path
    from engine.serving import inputs

    if kind == "json":
        return inputs.from_json(value)
    if kind == "image":
        return inputs.from_image(value, get_model(model_id).inputs[0]["shape"])
    if kind == "dataset":
        return inputs.from_dataset(dataset_path(int(value)), int(row))
    raise InputError(f"unknown input kind {kind!r}; use json, image or dataset")


def row_label(dataset_id: int, row: int) -> int | float | None:
    """The label data set ``dataset_id`` gives ``row``, or None when it has none (Deploy's try-it shows it
    beside the answer)."""
    from engine.api.common import dataset_path
    from engine.serving import inputs

    return inputs.label_from_dataset(dataset_path(int(dataset_id)), int(row))


def _config(concurrency: list[int], requests_per_level: int, seconds_per_level: float, p99_budget_ms: float):  # noqa: ANN202
    from engine.serving.loadtest import LoadtestConfig

    try:
        return LoadtestConfig(concurrency=concurrency, requests_per_level=requests_per_level,
                              seconds_per_level=seconds_per_level, p99_budget_ms=p99_budget_ms)
    except ValueError as exc:
        raise InputError(validation_sentence(exc)) from None


def run_loadtest(url: str, name: str, concurrency: list[int], requests_per_level: int = 200,
                 seconds_per_level: float = 10.0, p99_budget_ms: float = 100.0, version: int | None = None,
                 token: str | None = None, store: bool = True) -> dict[str, Any]:
    """A closed-loop sweep over ``concurrency`` levels against a running server, here and now (the CLI);
    stored as a measurement."""
    from engine.jobs.kinds.loadtesting import store as store_sweep
    from engine.measure.hardware import fingerprint
    from engine.serving.loadtest import sweep

    result = sweep(url, name, _config(concurrency, requests_per_level, seconds_per_level, p99_budget_ms),
                   version, token)
    result["hardware"] = fingerprint()
    if store:
        ready()
        with session_scope() as s:
            result["measurement_id"] = store_sweep(s, result["hardware"], result)
    result.pop("samples", None)
    return result


def submit_loadtest(url: str, name: str, concurrency: list[int], requests_per_level: int = 200,
                    seconds_per_level: float = 10.0, p99_budget_ms: float = 100.0,
                    version: int | None = None) -> JobRecord:
    """The same sweep as a background job on a worker of this host (the server listens on loopback); its
    progress is the job's, its curve the job's result and a stored measurement. Raises InputError when no
    worker runs on this host."""
    from engine.jobs import placement, service
    from engine.jobs.contracts import LoadtestParams

    ready()
    config = _config(concurrency, requests_per_level, seconds_per_level, p99_budget_ms)
    try:
        params = LoadtestParams(name=name, url=url, config=config, version=version)
    except ValueError as exc:
        raise InputError(validation_sentence(exc)) from None
    host = socket.gethostname()
    if not placement.live_match(host):
        raise InputError("no worker runs on this host to drive the load test; start one with `trimline worker` "
                         "(`trimline up` starts one)")
    bound = len(config.concurrency) * config.seconds_per_level
    return service.submit("loadtest", params, timeout_s=bound + 120, target=host)


def loadtest_jobs(name: str, limit: int = 5) -> list[JobRecord]:
    """The newest load-test jobs of the served model ``name`` (running ones included), newest first."""
    from storage import jobs as jobstore

    ready()
    with session_scope() as s:
        jobs = jobstore.list_jobs(s, 500)
    return [j for j in jobs if j.kind == "loadtest" and j.params.get("name") == name][:limit]
