"""Building candidates from the pass library with content addressing: a step whose node already exists
(stored earlier, or built earlier in this search) is not recomputed; a new one is written under the
job's work folder and becomes a lineage node when the job commits."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.artifact import Artifact
from engine.formats.datasets import DatasetArrays


@dataclass
class Node:
    key: str
    artifact: Artifact
    pass_name: str
    config: dict[str, Any]
    parent_key: str | None  # None: the search's parent
    id: int | None = None  # set for nodes that were already stored
    inspection: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    used_data: bool = False  # the pass calibrated or trained on the search's data set

    @property
    def new(self) -> bool:
        return self.id is None


class Builder:
    """Runs recipes from the parent, reusing existing nodes by their derivation key."""

    def __init__(self, parent: Artifact, parent_identity: str, existing: dict[str, dict[str, Any]], work: Path,
                 dataset: DatasetArrays | None, dataset_sha: str | None, log, progress) -> None:  # noqa: ANN001
        self.parent, self.parent_identity, self.existing = parent, parent_identity, existing
        self.work, self.dataset, self.dataset_sha, self.log, self.progress = work, dataset, dataset_sha, log, progress
        self.nodes: dict[str, Node] = {}  # built or reused in this search, in creation order
        self.reused: set[str] = set()
        self.attempts = 0
        self.root_key: str | None = None  # None: steps start at the search's parent
        self.reference_outputs: dict = {}  # every parent's fidelity-check outputs, computed once per search

    def rebase(self, node: Node) -> None:
        """Later recipes start from ``node`` (the output of a recipe's steps before its auto step)."""
        self.parent, self.parent_identity, self.root_key = node.artifact, node.key, node.key

    def full_config(self, pass_name: str, config: dict[str, Any]) -> dict[str, Any]:
        """The config as a stored node records it (every field), so manual runs and searches share nodes."""
        from engine.passes import get_pass

        return get_pass(pass_name).config(**config).model_dump(mode="json")

    def key_of(self, parent_key: str | None, pass_name: str, config: dict[str, Any]) -> str:
        from engine.lineage import derivation_key

        return derivation_key(parent_key or self.parent_identity, pass_name, config, self.dataset_sha)

    def build(self, steps: list[tuple[str, dict[str, Any]]]) -> Node | None:
        """The last node of ``steps`` (None for no steps: the parent itself). Raises what the pass raises."""
        from engine.passes.gate import run_pass
        from engine.formats import inspect_model
        from engine.passes import get_pass
        from engine.passes.base import PassContext

        node: Node | None = None
        for pass_name, raw in steps:
            config = self.full_config(pass_name, raw)
            key = self.key_of(node.key if node else self.root_key, pass_name, config)
            if key in self.nodes:
                node = self.nodes[key]
                continue
            stored = self.existing.get(key)
            if stored is not None:
                node = Node(key, Artifact(Path(stored["path"]), stored["format"]), pass_name, config,
                            node.key if node else self.root_key, id=int(stored["id"]))
                self.reused.add(key)
                self.nodes[key] = node
                continue
            source = node.artifact if node else self.parent
            self.attempts += 1  # a failed build leaves its folder: every attempt gets its own
            out = self.work / f"n{self.attempts}"
            out.mkdir(parents=True)
            spec = get_pass(pass_name)
            started = time.perf_counter()
            ctx = PassContext(scratch=out, dataset=self.dataset, log=self.log,
                              progress=lambda f, m, name=pass_name: self.progress(f"{name}: {m}"),
                              reference_outputs=self.reference_outputs, calibration_cache=self.work / "calibration")
            settings = spec.config(**config)
            result = run_pass(spec, source, settings, ctx)
            metrics = {**result.metrics, "pass_wall_s": round(time.perf_counter() - started, 2)}
            node = Node(key, result.artifact, pass_name, config, node.key if node else self.root_key,
                        inspection=inspect_model(result.artifact, produced=True), metrics=metrics,
                        used_data=self.dataset is not None and spec.needs_for(settings) != "nothing")
            self.nodes[key] = node
        return node

    def new_nodes(self, work_root: Path) -> list[dict[str, Any]]:
        """The nodes this search created, parents first, as the commit stores them."""
        out = []
        for node in self.nodes.values():
            if not node.new:
                continue
            rel = Path(node.artifact.path).resolve().relative_to(work_root.resolve())
            out.append({"key": node.key, "parent_key": node.parent_key, "pass": node.pass_name,
                        "config": node.config, "path": str(rel), "format": node.artifact.format,
                        "inspection": node.inspection, "metrics": node.metrics, "used_data": node.used_data})
        return out
