"""What every pass is: a typed config, the formats it accepts and produces, and one ``run()``."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict

from engine.artifact import Artifact
from engine.formats.datasets import DatasetArrays
from engine.passes import tolerances

Needs = Literal["nothing", "data", "labels"]
Kind = Literal["conversion", "compression"]


class PassConfig(BaseModel):
    """Base for pass configs: unknown keys are refused; every field carries a description (the UI help).

    A config whose settings change what the pass needs or how its output is gated overrides the three
    hooks below; ``None`` leaves the decision to the pass's spec.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    def required_data(self) -> Needs | None:
        """What this configuration needs (``nothing``, ``data``, ``labels``), when the settings decide it."""
        return None

    def must_match_parent(self) -> bool | None:
        """Whether this configuration's output is gated on fidelity, when the settings decide it."""
        return None

    def fidelity_tolerance(self) -> float | None:
        """The tolerance of this configuration's gate, when the settings decide it."""
        return None


def _no_progress(fraction: float, message: str) -> None:
    return None


@dataclass
class PassContext:
    """What a pass may use besides its input: a scratch folder it owns, data, progress and a log, and the
    CPU's ISA flags (the job reads them once; a pass never probes the hardware itself)."""

    scratch: Path
    dataset: DatasetArrays | None = None
    progress: Callable[[float, str], None] = _no_progress
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("trimline.pass"))
    models: dict[int, Artifact] = field(default_factory=dict)  # other stored models a config names (distill student)
    cpu_flags: dict[str, bool] = field(default_factory=dict)  # the ISA flags of the CPU the output is made for
    # the fidelity check's inputs and a parent's outputs on them, by (parent path, rows): a caller that
    # derives many children of one parent with one data set (a search) passes one dict to every pass
    reference_outputs: dict[tuple[str, int], Any] | None = None
    # a folder where static quantization keeps the activation ranges it calibrated, for a caller that
    # quantizes one graph with one data set in several forms (a search); None: calibrate every time
    calibration_cache: Path | None = None


@dataclass(frozen=True)
class PassResult:
    """The output artifact (inside ``ctx.scratch``) and metrics the pass measured itself
    (achieved sparsity, unique weights per layer, gzip size, student accuracy, ...).

    ``tolerance`` and ``min_agreement`` let a pass loosen or tighten the gate for what it produced
    (tf2onnx on a QAT model emits Q/DQ nodes that round to neighbouring int8 steps)."""

    artifact: Artifact
    metrics: dict[str, Any] = field(default_factory=dict)
    tolerance: float | None = None
    min_agreement: float | None = None


@dataclass(frozen=True)
class PassSpec:
    """A registered pass, and the rules it owns.

    ``kind='conversion'`` outputs must match their parent within ``tolerance`` or the job fails;
    ``kind='compression'`` outputs store their fidelity numbers as metrics instead. ``needs`` says what
    data every run needs; ``data_optional`` marks a pass whose settings may ask for data (its config's
    hooks then decide, see ``PassConfig``)."""

    name: str
    summary: str
    accepts: tuple[str, ...]
    produces: str
    config: type[PassConfig]
    run: Callable[[Artifact, Any, PassContext], PassResult]
    kind: Kind = "compression"
    needs: Needs = "nothing"
    data_optional: bool = False
    tolerance: float = tolerances.DEFAULT

    def needs_for(self, config: PassConfig) -> Needs:
        """What a run with ``config`` needs: nothing, data, or labelled data."""
        return config.required_data() or self.needs

    def is_gated(self, config: PassConfig | None = None) -> bool:
        """Whether a run with ``config`` must reproduce its parent (conversions, unless the config says)."""
        decided = config.must_match_parent() if config is not None else None
        return self.kind == "conversion" if decided is None else decided

    def tolerance_for(self, config: PassConfig | None = None) -> float:
        decided = config.fidelity_tolerance() if config is not None else None
        return self.tolerance if decided is None else decided

    def data_use(self) -> Literal["required", "optional", "none"]:
        """Whether a form asks for a data set: always, for some settings, or never."""
        if self.needs != "nothing":
            return "required"
        return "optional" if self.data_optional else "none"

    def describe(self) -> dict[str, Any]:
        """The CLI contract's ``passes`` entry."""
        return {
            "name": self.name,
            "summary": self.summary,
            "accepts": list(self.accepts),
            "produces": self.produces,
            "kind": self.kind,
            "needs": self.needs,
            "data": self.data_use(),
            "config_schema": self.config.model_json_schema(),
        }
