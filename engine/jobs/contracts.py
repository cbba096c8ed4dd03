"""What each job kind takes and gives, in one place: its params (validated once, when the job is
submitted), the output its sandboxed child writes to ``result.json``, and the result stored on the job
(what ``trimline ... --json`` prints). The child's ``spec.json`` carries the params as submitted.

Results keep extra keys where a measurement's summary is open-ended (a benchmark's grid, an
evaluation's metrics); every key named here is always there. The ``auto`` kind's params and result are
the search's own models (``engine.auto.params.AutoParams`` and ``AutoResult``); its child writes a
``SearchOutput``. Every kind names its three models in ``engine.jobs.kinds``.
"""
from __future__ import annotations

from typing import Annotated, Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, field_validator, model_validator
from pydantic_core import CoreSchema

from storage.store_base import check_relpath


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OpenContract(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _TypedOnUse:
    """Field metadata: the field's type is the model ``load()`` imports, built into the contract's schema when
    the contract is first used (with ``defer_build``). A benchmark's or a load test's config module loads numpy
    and the measuring or serving code; every job's child imports this module, and only those kinds need them."""

    def __init__(self, load: Callable[[], type[BaseModel]]):
        self.load = load

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler.generate_schema(self.load())


def _benchmark_config() -> type[BaseModel]:
    from engine.measure.config import BenchmarkConfig

    return BenchmarkConfig


def _loadtest_config() -> type[BaseModel]:
    from engine.serving.loadtest import LoadtestConfig

    return LoadtestConfig


# ---------------------------------------------------------------- params (the job row, validated at submit)
class ImageLayout(Contract):
    size: tuple[int, int] = Field(description="Height and width images are resized to.")
    channels: int = Field(ge=1, le=4, description="Channels the model's input has.")
    channels_first: bool = Field(description="The model takes NCHW (images are read as NHWC).")


class ImportParams(Contract):
    upload: str | None = Field(None, description="The upload staged on the submitting host (a generated name "
                                                 "under TRIMLINE_HOME/uploads); only a worker of that home can read it.")
    staged: str | None = Field(None, description="The upload staged in the shared artifact store (a store path); "
                                                 "any worker can import it.")
    name: str = Field(min_length=1, max_length=200, description="Display name of the model.")

    @model_validator(mode="after")
    def _one_source(self) -> "ImportParams":
        if (self.upload is None) == (self.staged is None):
            raise ValueError("an import reads either an upload on this host or one staged in the shared store")
        if self.staged is not None and not check_relpath(self.staged)[-1].startswith("upload-"):
            # the import deletes what it names once it ends: never a stored model or data set
            raise ValueError(f"{self.staged!r} is not an upload staged in the store")
        return self


class DatasetImportParams(ImportParams):
    label_column: str | None = Field(None, description="CSV label column (default: label).")
    image_layout: ImageLayout | None = Field(None, description="Lay images out for a model's input.")


class DemoParams(Contract):
    pass


class Step(Contract):
    pass_name: str = Field(alias="pass", description="A registered pass.")
    config: dict[str, Any] = Field(default_factory=dict, description="The pass's typed config, as JSON.")
    uses_data: bool | None = Field(None, description="This step's pass and config use the data set (calibration, "
                                                      "fine-tuning): only then does the data set count in its "
                                                      "identity. None (jobs queued before it was recorded): ask "
                                                      "the pass.")


class _Derivation(Contract):
    model_id: int = Field(description="The model the first step starts from.")
    dataset_id: int | None = None
    dataset_sha256: str | None = None
    model_refs: list[int] = Field(default_factory=list, description="Other models a config names (a student).")


class OptimizeParams(_Derivation):
    pass_name: str = Field(alias="pass", description="A registered pass.")
    config: dict[str, Any] = Field(default_factory=dict, description="The pass's typed config, as JSON.")
    uses_data: bool | None = None

    def all_steps(self) -> list[Step]:
        return [Step(pass_name=self.pass_name, config=self.config, uses_data=self.uses_data)]


class RecipeParams(_Derivation):
    steps: list[Step] = Field(min_length=1)

    def all_steps(self) -> list[Step]:
        return list(self.steps)


class BenchmarkParams(Contract):
    model_config = ConfigDict(defer_build=True)

    model_id: int
    config: Annotated[Any, _TypedOnUse(_benchmark_config)]  # an engine.measure.config.BenchmarkConfig


class AbOptions(Contract):
    batch: int = Field(1, ge=1)
    threads: int = Field(1, ge=1)
    time_budget_s: float = Field(4.0, gt=0)


class AbCompareParams(Contract):
    model_id: int
    versus: int
    options: AbOptions = AbOptions()


class EvaluateParams(Contract):
    model_id: int
    dataset_id: int
    task: Literal["classification", "regression"] | None = None


class ExportParams(Contract):
    model_id: int
    format: str = Field(description="An export target (engine.exporters.EXPORT_FORMATS).")
    deployment: dict[str, Any] | None = Field(None, description="A served deployment (engine.serving) whose "
                                                                "versions the export lays out.")
    ensemble: bool = Field(False, description="A composed chain's Triton repository as an ensemble of its two "
                                              "members (engine.serving.ensemble).")


class LoadtestParams(Contract):
    model_config = ConfigDict(defer_build=True)

    name: str = Field(description="The served model's name.")
    url: str = Field(description="The running server, on this host (a loopback address).")
    config: Annotated[Any, _TypedOnUse(_loadtest_config)]  # an engine.serving.loadtest.LoadtestConfig
    version: int | None = Field(None, ge=1, description="The version to call (default: the newest).")

    @field_validator("url")
    @classmethod
    def _on_this_host(cls, value: str) -> str:
        from urllib.parse import urlsplit

        host = urlsplit(value if "://" in value else f"http://{value}").hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"a load test job drives a server on its worker's host (127.0.0.1), not {host!r}; "
                             "use `trimline loadtest --url` for another host")
        return value


# ---------------------------------------------------------------- the child's result.json
class ModelOutput(Contract):
    path: str = Field(description="The artifact, relative to the job's scratch folder.")
    format: str
    inspection: dict[str, Any]
    metrics: dict[str, Any] = Field(default_factory=dict)


class DatasetOutput(Contract):
    path: str
    meta: dict[str, Any]


class DemoOutput(Contract):
    model: ModelOutput
    dataset: DatasetOutput = Field(description="The held-out test split.")
    train: DatasetOutput = Field(description="The training split (calibration data).")
    accuracy: float


class StepsOutput(Contract):
    outputs: list[ModelOutput] = Field(description="One model per step that was computed (reused steps have none).")


class BenchmarkOutput(Contract):
    hardware: dict[str, Any]
    benchmark: dict[str, Any]


class LoadtestOutput(Contract):
    hardware: dict[str, Any]
    loadtest: dict[str, Any] = Field(description="The sweep (engine.serving.loadtest.sweep), samples included.")


class ExportOutput(Contract):
    path: str
    filename: str


class SummaryOutput(OpenContract):
    """An evaluation's or an interleaved comparison's summary, as the measuring code returns it."""


class SearchOutput(OpenContract):
    """What a search returns (``engine.auto.search``): the candidates it built, by derivation key."""


# ---------------------------------------------------------------- the job's result
class ModelResult(Contract):
    model_id: int


class DatasetResult(Contract):
    dataset_id: int


class DemoResult(Contract):
    model_id: int
    dataset_id: int = Field(description="The held-out test split.")
    train_dataset_id: int | None = Field(None, description="The training split (calibration data).")
    reused: bool = Field(False, description="The demo was loaded before: its family and data sets are reused.")


class StepsResult(Contract):
    model_id: int = Field(description="The last model produced.")
    model_ids: list[int] = Field(description="Every model the steps produced or reused, in order.")


class BenchmarkResult(OpenContract):
    measurement_id: int
    model_id: int
    worker: str | None = Field(None, description="The worker that measured (its host's fingerprint is in hardware).")
    runtime: str
    hardware: dict[str, Any]
    results: list[dict[str, Any]]
    explanations: list[str] = Field(default_factory=list)
    explanation_tone: Literal["info", "warning"] = "info"


class EvaluateResult(OpenContract):
    measurement_id: int
    model_id: int
    dataset_id: int


class AbCompareResult(OpenContract):
    model_id: int
    versus: int
    worker: str | None = None


class LoadtestResult(OpenContract):
    measurement_id: int
    model_id: int
    name: str
    version: int
    results: list[dict[str, Any]]
    best: dict[str, Any] | None
    failures: int
    hardware: dict[str, Any]


class ExportResult(Contract):
    model_id: int
    format: str
    artifact: str
    filename: str
    sha256: str
    size_bytes: int
