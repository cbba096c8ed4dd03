"""What every pass is: a typed config, the formats it accepts and produces, and one ``run()``."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict

from engine.artifact import Artifact
from engine.formats.datasets import DatasetArrays


class PassConfig(BaseModel):
    """Base for pass configs: unknown keys are refused; every field carries a description (the UI help)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _no_progress(fraction: float, message: str) -> None:
    return None


@dataclass
class PassContext:
    """What a pass may use besides its input: a scratch folder it owns, data, progress and a log."""

    scratch: Path
    dataset: DatasetArrays | None = None
    progress: Callable[[float, str], None] = _no_progress
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("trimline.pass"))
    models: dict[int, Artifact] = field(default_factory=dict)  # other stored models a config names (distill student)


@dataclass(frozen=True)
class PassResult:
    """The output artifact (inside ``ctx.scratch``) and metrics the pass measured itself
    (achieved sparsity, unique weights per layer, gzip size, student accuracy, ...)."""

    artifact: Artifact
    metrics: dict[str, Any] = field(default_factory=dict)


Needs = Literal["nothing", "data", "labels"]
Kind = Literal["conversion", "compression"]


@dataclass(frozen=True)
class PassSpec:
    """A registered pass. ``kind='conversion'`` outputs must match their parent within tolerance or the
    job fails; ``kind='compression'`` outputs store their fidelity numbers as metrics instead."""

    name: str
    summary: str
    accepts: tuple[str, ...]
    produces: str
    config: type[PassConfig]
    run: Callable[[Artifact, Any, PassContext], PassResult]
    kind: Kind = "compression"
    needs: Needs = "nothing"

    def describe(self) -> dict[str, Any]:
        """The CLI contract's ``passes`` entry."""
        return {
            "name": self.name,
            "summary": self.summary,
            "accepts": list(self.accepts),
            "produces": self.produces,
            "kind": self.kind,
            "needs": self.needs,
            "config_schema": self.config.model_json_schema(),
        }
