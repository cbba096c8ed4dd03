"""The models a server holds, by name: their loaded versions, labels, caches, and atomic reloads.

A reload loads every new or changed version beside the ones serving now, then swaps the whole entry
in one assignment on the event loop. Requests already routed to a retired version finish on it; the
retired version frees its instances once they have. So a reload under load fails no request. With a
memory limit (``engine.serving.memory``), a version that does not fit is refused the same way as one that
fails to load: the server keeps serving what it served.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Callable

from engine.artifact import Artifact
from engine.errors import NotFoundError
from engine.serving.cache import ResponseCache
from engine.serving.memory import MemoryGuard, give_back
from engine.serving.metrics import ServingMetrics
from engine.serving.scheduler import LoadedVersion
from engine.serving.settings import Deployment

log = logging.getLogger("trimline.serve")


@dataclass
class ServedModel:
    deployment: Deployment
    versions: dict[int, LoadedVersion]
    cache: ResponseCache | None = None
    labels: dict[str, int] = field(default_factory=dict)

    @property
    def latest(self) -> LoadedVersion:
        return self.versions[max(self.versions)]


class Repository:
    def __init__(self, metrics: ServingMetrics, artifact_for: Callable[[int], Artifact],
                 guard: MemoryGuard | None = None) -> None:
        self.metrics, self._artifact_for, self.guard = metrics, artifact_for, guard
        self.models: dict[str, ServedModel] = {}
        self._lock = asyncio.Lock()

    def get(self, name: str, version: int | None = None, label: str | None = None) -> LoadedVersion:
        """The version to answer with: the one asked for, the label's, or the newest loaded."""
        served = self.models.get(name)
        if served is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise NotFoundError(f"no model named '{name}' is served here; served models: {known}")
        if label is not None:
            if label not in served.labels:
                raise NotFoundError(f"model '{name}' has no label '{label}'; its labels: "
                                    f"{', '.join(sorted(served.labels)) or 'none'}")
            version = served.labels[label]
        if version is None:
            return served.latest
        loaded = served.versions.get(version)
        if loaded is None:
            raise NotFoundError(f"version {version} of model '{name}' is not served; served versions: "
                                f"{', '.join(map(str, sorted(served.versions)))}")
        return loaded

    async def apply(self, deployment: Deployment) -> ServedModel:
        """Serve ``deployment``: load what is new beside what serves now, swap, then retire the rest. When a
        version fails to load (or does not fit the memory limit), the versions this call loaded are dropped
        and what served before keeps serving."""
        async with self._lock:
            old = self.models.get(deployment.name)
            cache = self._cache_for(deployment, old)
            versions: dict[int, LoadedVersion] = {}
            if self.guard is not None:
                self.guard.begin()
            try:
                await self._load(deployment, old, cache, versions)
            except BaseException:
                await self._drop(versions, old)
                if self.guard is not None:
                    await self.guard.settle()  # before ``end``: the watchdog waits for what was given back
                else:
                    give_back()
                raise
            finally:
                if self.guard is not None:
                    self.guard.end()
            served = ServedModel(deployment, versions, cache, dict(deployment.labels))
            self.models[deployment.name] = served  # the atomic swap
            retired = [v for n, v in (old.versions.items() if old else []) if versions.get(n) is not v]
            loop = asyncio.get_running_loop()
            for version in retired:
                loop.create_task(version.retire())
            return served

    @staticmethod
    async def _drop(versions: dict[int, LoadedVersion], old: ServedModel | None) -> None:
        """Free the versions an apply loaded before it failed (not those it took over from ``old``)."""
        reused = set(map(id, old.versions.values())) if old else set()
        for version in [v for v in versions.values() if id(v) not in reused]:
            await version.retire()
        versions.clear()

    async def _load(self, deployment: Deployment, old: ServedModel | None, cache: ResponseCache | None,
                    versions: dict[int, LoadedVersion]) -> None:
        loop = asyncio.get_running_loop()
        for number in deployment.served():
            model_id = deployment.model_of(number)
            current = old.versions.get(number) if old else None
            if current is not None and current.model_id == model_id and current.settings == deployment.settings \
                    and current.cache is cache:
                versions[number] = current
                continue
            artifact = self._artifact_for(model_id)
            what = f"'{deployment.name}' version {number} (model {model_id})"
            if self.guard is not None:
                self.guard.check_room(what, artifact.path)
            versions[number] = await loop.run_in_executor(
                None, LoadedVersion.load, deployment.name, number, model_id, artifact, deployment.settings,
                self.metrics, cache)
            if self.guard is not None:
                self.guard.check_loaded(what)
            log.info("loaded %s", what)

    @staticmethod
    def _cache_for(deployment: Deployment, old: ServedModel | None) -> ResponseCache | None:
        cfg = deployment.settings.cache
        if not cfg.enabled:
            return None
        if old and old.cache and (old.cache.max_entries, old.cache.max_bytes) == (cfg.max_entries, cfg.max_bytes):
            return old.cache
        return ResponseCache(cfg.max_entries, cfg.max_bytes)

    async def unload(self, name: str) -> None:
        async with self._lock:
            served = self.models.pop(name, None)
        for version in (served.versions.values() if served else []):
            await version.retire()
