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


def derivation_key(parent_identity: str, pass_name: str, config: dict[str, Any], dataset_sha: str | None) -> str:
    """Content address of a derivation: the same pass and config on the same parent is one node. The data
    set counts only for passes that use one (calibration, fine-tuning): a conversion run inside a recipe
    that carries data is the same node as the conversion run alone."""
    from engine.passes import get_pass, required_data

    spec = get_pass(pass_name)
    if required_data(spec, spec.config(**config)) == "nothing":
        dataset_sha = None
    payload = json.dumps({"parent": parent_identity, "pass": pass_name, "config": config, "data": dataset_sha},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
