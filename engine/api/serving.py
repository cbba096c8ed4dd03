"""Serving: deployments (versions from the lineage, labels, policy, settings), a family's new champion
served as the next version, running a server in the foreground or as a managed process (watched by the
``trimline up`` that owns it), and, from ``serving_checks``, its metrics, try-it and load tests."""
from __future__ import annotations

import logging
import re
from typing import Any

from engine.actor import require
from engine.api.common import get_model, ready
from engine.api.serving_checks import (input_from, loadtest_jobs, read_metrics, row_label,  # noqa: F401
                                       run_loadtest, served_versions, submit_loadtest, throughput, try_input)
from engine.errors import EngineError, InputError, validation_sentence
from storage import catalog, measurements
from storage.db import session_scope

log = logging.getLogger("trimline.serve")


def family_name(model_id: int) -> str:
    """The served name of a model's family: its root model's name, made URL-safe."""
    model = get_model(model_id)
    with session_scope() as s:
        root = catalog.get_model(s, model.root_id)
    name = re.sub(r"\.(keras|h5|onnx|tflite|zip)$", "", (root or model).name)
    return (re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or f"model-{model.root_id}")[:64]


def _latest_cells(model_id: int) -> list[dict[str, Any]]:
    """The cells of the model's latest in-process benchmark (a load test over HTTP is not one)."""
    ready()
    with session_scope() as s:
        rows = [m for m in measurements.list_measurements(s, int(model_id), "benchmark") if m.runtime != "server-http"]
    return [c for m in rows[-1:] for c in m.summary.get("results", [])]


def default_settings(model_id: int) -> dict[str, Any]:
    """Settings from the model's best benchmark cell at batch 1 (lowest p50): threads, opt level, mode."""
    cells = [c for c in _latest_cells(model_id) if c.get("batch") == 1 and "latency_ms" in c]
    if not cells:
        return {}
    best = min(cells, key=lambda c: c["latency_ms"]["p50"])
    out: dict[str, Any] = {"intra_threads": int(best.get("threads") or 0)}
    if best.get("opt_level"):
        out["opt_level"] = best["opt_level"]
    if best.get("execution_mode"):
        out["execution_mode"] = best["execution_mode"]
    return out


def batching_bound(model_id: int) -> dict[str, Any] | None:
    """What the runtime itself gains from a batch, read from the model's latest benchmark: at the settings of
    its best batch-1 cell, the per-item p50 at each larger batch against batch 1. Dynamic batching cannot beat
    this on the machine it was measured on (HTTP and queueing only add to it). None without such cells.

    {"threads", "per_item_ms": {batch: ms}, "best_batch", "gain"} (gain: batch 1's p50 over the best per-item)."""
    cells = [c for c in _latest_cells(model_id) if (c.get("latency_ms") or {}).get("p50")]
    ones = [c for c in cells if c.get("batch") == 1]
    if not ones:
        return None
    best = min(ones, key=lambda c: c["latency_ms"]["p50"])
    same = [c for c in cells if all(c.get(k) == best.get(k) for k in ("threads", "opt_level", "execution_mode"))
            and isinstance(c.get("batch"), int) and c["batch"] >= 1]
    per_item = {c["batch"]: c["latency_ms"]["p50"] / c["batch"] for c in sorted(same, key=lambda c: c["batch"])}
    if len(per_item) < 2:
        return None
    fastest = min(per_item, key=per_item.get)
    return {"threads": best.get("threads"), "per_item_ms": per_item, "best_batch": fastest,
            "gain": per_item[1] / per_item[fastest]}


def _settings(model_id: int, overrides: dict[str, Any] | None):  # noqa: ANN202
    from engine.serving.settings import ModelSettings

    merged = {**default_settings(model_id), **(overrides or {})}
    for part in ("batching", "cache"):
        if isinstance(merged.get(part), dict):
            merged[part] = {**merged[part]}
    try:
        return ModelSettings.model_validate(merged)
    except ValueError as exc:
        raise InputError(validation_sentence(exc)) from None


def plan(model_ids: list[int], name: str | None = None, settings: dict[str, Any] | None = None,
         policy: str = "all", labels: dict[str, int] | None = None) -> dict[str, Any]:
    """Define and save a deployment: the given models as versions 1..N (the newest id highest), ``stable``
    on the highest unless ``labels`` say otherwise. Settings default to the newest model's best cell."""
    require("engineer", "serve models")
    from engine.serving import deployments
    from engine.serving.settings import Deployment, Policy

    if not model_ids:
        raise InputError("give at least one model id to serve")
    ids = sorted({get_model(i).id for i in model_ids})
    families = {get_model(i).root_id for i in ids}
    if name is None and len(families) > 1:
        raise InputError("the models come from different families; plan one family at a time, or give a name")
    try:
        deployment = Deployment(name=name or family_name(ids[0]),
                                versions=[{"version": n, "model_id": i} for n, i in enumerate(ids, 1)],
                                labels=labels if labels is not None else {"stable": len(ids)},
                                policy=Policy.parse(policy), settings=_settings(ids[-1], settings))
    except ValueError as exc:
        raise InputError(validation_sentence(exc)) from None
    deployments.save(deployment)
    return deployment.model_dump()


def plan_families(model_ids: list[int], name: str | None = None, settings: dict[str, Any] | None = None,
                  policy: str = "all") -> list[str]:
    """``trimline serve ID...``: one deployment per family (each under its family's name), or all the
    models as versions of ``name`` when one is given. Returns the served names."""
    if name is not None:
        return [plan(model_ids, name, settings, policy)["name"]]
    by_family: dict[int, list[int]] = {}
    for model_id in model_ids:
        by_family.setdefault(get_model(model_id).root_id, []).append(model_id)
    names = [family_name(root) for root in by_family]
    if len(set(names)) != len(names):
        raise InputError("two families share a name; serve them one at a time with --name")
    return [plan(ids, None, settings, policy)["name"] for ids in by_family.values()]


def get_deployment(name: str) -> dict[str, Any]:
    from engine.serving import deployments

    ready()
    return deployments.load(name).model_dump()


def list_deployments() -> list[dict[str, Any]]:
    from engine.serving import deployments

    ready()
    return [deployments.load(n).model_dump() for n in deployments.names()]


def _update(name: str, change) -> dict[str, Any]:  # noqa: ANN001
    require("engineer", "change deployments")
    from engine.serving import deployments
    from engine.serving.settings import Deployment

    before = deployments.load(name)
    doc = before.model_dump()
    change(doc)
    try:
        deployment = Deployment.model_validate(doc)
    except ValueError as exc:
        raise InputError(validation_sentence(exc)) from None
    deployments.save(deployment)
    try:
        _reload_if_running(name)
    except EngineError:  # the running server kept what it served: so does the saved deployment
        deployments.save(before)
        raise
    return deployment.model_dump()


def promote(name: str, model_id: int, label: str | None = None) -> dict[str, Any]:
    """Add ``model_id`` as the next version of ``name`` (optionally labelled), and reload a running server."""
    model = get_model(model_id)

    def change(doc: dict[str, Any]) -> None:
        number = max(v["version"] for v in doc["versions"]) + 1
        doc["versions"].append({"version": number, "model_id": model.id})
        if label:
            doc["labels"][label] = number
    return _update(name, change)


def family_deployments(root_id: int) -> list[str]:
    """The saved deployments that serve models of the family ``root_id``."""
    from engine.serving import deployments

    ready()
    roots: dict[int, int] = {}
    names = []
    for name in deployments.names():
        try:
            served = deployments.load(name)
        except EngineError:  # a damaged file is reported where it is opened, not here
            continue
        ids = [v.model_id for v in served.versions]
        for model_id in ids:
            if model_id not in roots:
                try:
                    roots[model_id] = get_model(model_id).root_id
                except EngineError:
                    roots[model_id] = -1
        if any(roots[i] == root_id for i in ids):
            names.append(name)
    return names


def serve_champion(model_id: int, label: str = "canary") -> list[dict[str, Any]]:
    """A family's new champion joins every saved deployment of its family that does not serve it yet, as
    the next version with ``label``; a running server loads it beside the versions it serves and swaps
    atomically. Returns ``[{name, version}]`` for the deployments that changed."""
    model = get_model(model_id)
    added = []
    for name in family_deployments(model.root_id):
        if any(v["model_id"] == model.id for v in get_deployment(name)["versions"]):
            continue
        doc = promote(name, model.id, label)
        added.append({"name": name, "version": max(v["version"] for v in doc["versions"])})
    return added


def champion_chosen(model_id: int) -> list[dict[str, Any]]:
    """Called when a champion is chosen: ``serve_champion``, best effort. A version that fails to load
    leaves the deployment and its server as they were (the Deploy page offers it again, with the reason)."""
    try:
        return serve_champion(model_id)
    except EngineError as exc:
        log.warning("the new champion %s was not added to its family's served versions: %s", model_id, exc)
        return []


def set_label(name: str, label: str, version: int) -> dict[str, Any]:
    """Point ``label`` at ``version`` (rollback is moving ``stable`` back), and reload a running server."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$", label):
        raise InputError(f"label {label!r} must start with a letter and hold letters, digits, '_' or '-'")
    return _update(name, lambda doc: doc["labels"].__setitem__(label, int(version)))


def configure(name: str, settings: dict[str, Any] | None = None, policy: str | None = None) -> dict[str, Any]:
    """Change a deployment's settings or version policy; a running server reloads it beside the old one."""
    from engine.serving.settings import Policy

    def change(doc: dict[str, Any]) -> None:
        if settings:
            doc["settings"] = {**doc["settings"], **settings}
        if policy:
            try:
                doc["policy"] = Policy.parse(policy).model_dump()
            except ValueError as exc:
                raise InputError(str(exc)) from None
    return _update(name, change)


def serve_token() -> str | None:
    """TRIMLINE_SERVE_TOKEN, from the settings: what managed servers require and load-test jobs send."""
    return _env_token()


def _env_token() -> str | None:
    """TRIMLINE_SERVE_TOKEN, from the settings."""
    from engine import environment

    token = environment.settings().serve_token
    return token.get_secret_value() if token else None


def check_bind(host: str, port: int, token: str | None = None) -> None:
    """Refuse before anything is saved: a host beyond loopback without a token, or a port in use."""
    from engine.serving.common import ServerOptions
    from engine.serving.server import check_bind as check

    check(ServerOptions(host=host, port=port, token=token or _env_token()))


def serve(names: list[str], host: str = "127.0.0.1", port: int = 8600, token: str | None = None,
          owner: str | None = None, say: Any = None, memory_mb: int | None = None) -> None:
    """Serve saved deployments in the foreground until Ctrl-C or SIGTERM, following changes saved to them;
    with ``owner`` ("PID:START_TIME", given to managed servers) also until that process is gone. The server
    walls itself in before it opens a model (``engine.jobs.server_walls``: it reads only what ``names`` serve,
    staged by ``engine.serving.staging``), tells ``say(line)`` which walls hold, and keeps to ``memory_mb``
    (default: ``server_memory_mb()``). Raises InputError/EngineError with a sentence."""
    from functools import partial

    from engine.jobs.server_walls import wall_in
    from engine.serving import deployments, staging
    from engine.serving.common import ServerOptions
    from engine.serving.server import serve_forever

    ready()
    loaded = [deployments.load(n) for n in names]
    options = ServerOptions(host=host, port=port, token=token or _env_token(),
                            memory_mb=_memory_limit(memory_mb))
    boss = None
    if owner:
        pid, _, created = owner.partition(":")
        try:
            boss = (int(pid), float(created))
        except ValueError:
            raise InputError(f"--owner takes PID:START_TIME, got {owner!r}") from None
    folders = [staging.stage(d, deployments.artifact_for) for d in loaded]  # the walled server reads no database
    serve_forever(loaded, options, staging.staged_artifacts(names), staging.staged_deployment, boss,
                  wall_in=partial(wall_in, folders), say=say)


def server_memory_mb() -> int:
    """A server's memory limit when none is given: TRIMLINE_SERVE_MEMORY_MB, else half of this machine's memory."""
    from engine import environment
    from engine.serving.memory import default_limit_mb

    return environment.settings().serve_memory_mb or default_limit_mb()


def _memory_limit(memory_mb: int | None) -> int:
    if memory_mb is None:
        return server_memory_mb()
    if memory_mb < 1:
        raise InputError(f"a server's memory limit must be a positive number of MB, got {memory_mb}")
    return int(memory_mb)


def own_servers() -> None:
    """``trimline up``: the managed servers started from now on are this process's to stop."""
    from engine.serving import managed

    ready()
    managed.claim_ownership()


def stop_owned_servers() -> list[str]:
    """Stop the managed servers this process owns (``own_servers``); the names it stopped."""
    from engine.serving import managed

    return managed.stop_owned()


def _reload_if_running(name: str) -> None:
    from engine.serving import managed

    managed.reload(name)


def sandbox_layers() -> list[dict[str, Any]]:
    """The walls a serving process builds on this machine: ``{name, active, detail}`` per layer."""
    from engine.jobs import server_walls

    return server_walls.layers()


def start_server(name: str, port: int = 8600, host: str = "127.0.0.1", memory_mb: int | None = None) -> dict[str, Any]:
    """Start ``trimline serve --name NAME`` as a managed process beside the worker (it outlives the page),
    limited to ``memory_mb`` (default: ``server_memory_mb()``)."""
    from engine.serving import managed

    require("engineer", "start servers")
    get_deployment(name)
    return managed.start(name, host, port, memory_mb=_memory_limit(memory_mb))


def stop_server(name: str) -> bool:
    from engine.serving import managed

    require("engineer", "stop servers")
    return managed.stop(name)


def server_status(name: str) -> dict[str, Any] | None:
    """``{pid, url, state: starting|ready|exited, log_tail, sandbox}`` of the managed server, or None;
    ``sandbox`` is the line its process logged about its walls (empty until it has)."""
    from engine.serving import managed

    return managed.status(name)


def submit_deployment_export(name: str, target: str):  # noqa: ANN201
    """Export a deployment's served versions with labels, policy and settings: ``tfserving`` (SavedModel per
    version and models.config) or ``triton`` (model.onnx per version, instance count, dynamic batching)."""
    from engine.exporters import check_export_request
    from engine.jobs import service
    from engine.serving import deployments

    if target not in ("tfserving", "triton"):
        raise InputError(f"a served model exports as tfserving or triton, not {target!r}")
    deployment = deployments.load(name)
    served = deployment.served()
    for number in served:
        model = get_model(deployment.model_of(number))
        try:
            check_export_request(model.format, target, model.id)
        except InputError as exc:
            raise InputError(f"version {number} (model {model.id}): {exc}") from None
    doc = deployment.model_dump()
    doc["versions"] = [v for v in doc["versions"] if v["version"] in served]
    newest = deployment.model_of(max(served))
    return service.submit("export", {"model_id": newest, "format": target, "deployment": doc})
