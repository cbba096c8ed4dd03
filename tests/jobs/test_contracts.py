"""Job contracts: every job's child imports them, so they load no kind's code; the configs typed on first use
still validate as the benchmark's and the load test's own models."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[2]


def test_contracts_import_loads_no_measuring_or_serving_code() -> None:
    # a fresh interpreter: this test process may have loaded them already
    code = ("import sys, engine.jobs.contracts; "
            "print(' '.join(m for m in ('numpy', 'engine.measure.config', 'engine.serving.loadtest', "
            "'engine.serving.client') if m in sys.modules) or 'none')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "none", out.stdout + out.stderr


def test_benchmark_params_validate_their_config_as_a_benchmark_config() -> None:
    from engine.jobs.contracts import BenchmarkParams
    from engine.measure.config import BenchmarkConfig

    params = BenchmarkParams(model_id=3, config={"batches": [1, 8, 8], "threads": [1]})
    assert isinstance(params.config, BenchmarkConfig) and params.config.batches == [1, 8]
    stored = params.model_dump(mode="json")
    assert stored["config"]["batches"] == [1, 8] and BenchmarkParams.model_validate(stored) == params
    with pytest.raises(ValidationError, match="batches must be positive integers, got 0") as bad:
        BenchmarkParams.model_validate({"model_id": 3, "config": {"batches": [0]}})
    assert bad.value.errors()[0]["loc"] == ("config", "batches")
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        BenchmarkParams.model_validate({"model_id": 3, "config": {"batch": [1]}})
    assert BenchmarkParams.model_json_schema()["properties"]["config"] == {"$ref": "#/$defs/BenchmarkConfig"}


def test_loadtest_params_validate_their_config_as_a_loadtest_config() -> None:
    from engine.jobs.contracts import LoadtestParams
    from engine.serving.loadtest import LoadtestConfig

    params = LoadtestParams(name="digits", url="http://127.0.0.1:8600", config={"concurrency": [4, 1]})
    assert isinstance(params.config, LoadtestConfig) and params.config.concurrency == [1, 4]
    assert LoadtestParams.model_validate(params.model_dump(mode="json")) == params
    with pytest.raises(ValidationError, match="concurrency levels must be between 1 and 256"):
        LoadtestParams(name="digits", url="http://127.0.0.1:8600", config={"concurrency": [0]})
