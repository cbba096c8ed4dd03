"""Content addresses of lineage nodes: the same pass and config on the same parent is one node, whether a
job, a recipe or a search made it."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from storage.records import ModelRecord


def model_identity(model: ModelRecord) -> str:
    """A root is identified by its content; a derived node by the key of its derivation."""
    return model.derivation_key or f"root:{model.sha256}:{model.id}"


def derivation_key(parent_identity: str, pass_name: str, config: dict[str, Any], dataset_sha: str | None,
                   uses_data: bool | None = None) -> str:
    """Content address of a derivation: the same pass and config on the same parent is one node. The data
    set counts only for passes that use one (calibration, fine-tuning): a conversion run inside a recipe
    that carries data is the same node as the conversion run alone. ``uses_data``: what the submitted job
    recorded (``engine.jobs.contracts.Step``); None asks the pass."""
    if uses_data is None:
        from engine.passes import get_pass

        spec = get_pass(pass_name)
        uses_data = spec.needs_for(spec.config(**config)) != "nothing"
    if not uses_data:
        dataset_sha = None
    payload = json.dumps({"parent": parent_identity, "pass": pass_name, "config": config, "data": dataset_sha},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
