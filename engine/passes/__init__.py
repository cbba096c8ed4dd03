"""The pass registry: one explicit dict, by name. Heavy libraries are imported inside each ``run()``."""
from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from engine.errors import InputError, validation_sentence
from engine.passes.base import PassConfig, PassSpec

PASSES: dict[str, PassSpec] = {}


def register(spec: PassSpec) -> None:
    if spec.name in PASSES:
        raise ValueError(f"a pass named {spec.name!r} is already registered")
    PASSES[spec.name] = spec


def get_pass(name: str) -> PassSpec:
    try:
        return PASSES[name]
    except KeyError:
        known = ", ".join(sorted(PASSES))
        raise ValueError(f"unknown pass {name!r}; known passes: {known}") from None


def parse_config(spec: PassSpec, raw: dict[str, Any]) -> PassConfig:
    """The typed config from raw values (``--set`` strings or YAML values); ValueError with one sentence.

    Strings are coerced by pydantic; list fields also take comma-separated strings.
    """
    fields = spec.config.model_fields
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(f"pass '{spec.name}' has no setting {', '.join(map(repr, unknown))}; "
                         f"its settings are: {', '.join(fields) or 'none'}")
    values = {k: _split_list(v) if _is_list_field(fields[k]) else v for k, v in raw.items()}
    try:
        return spec.config.model_validate(values)
    except ValidationError as exc:
        raise ValueError(validation_sentence(exc, f"pass '{spec.name}'", fields)) from None


def _is_list_field(field: Any) -> bool:
    return "list" in str(field.annotation).lower()


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def validate_request(pass_name: str, raw_config: dict[str, Any], source_format: str,
                     dataset: dict[str, Any] | None) -> PassConfig:
    """Check a pass request before anything is queued; return its typed config.

    ``dataset`` describes the chosen data set (``has_labels``, ``n_samples``, ``x_shape``) or is None.
    Raises InputError with one sentence: unknown pass, a format the pass does not accept, a missing
    data set or labels, unknown settings, wrong types or values out of range.
    """
    if pass_name not in PASSES:
        raise InputError(f"unknown pass '{pass_name}'; known passes: {', '.join(sorted(PASSES))}")
    spec = PASSES[pass_name]
    _check_format(spec, source_format)
    try:
        config = parse_config(spec, raw_config)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    _check_data(spec, config, dataset)
    return config


def check_request(spec: PassSpec, config: PassConfig, source_format: str, dataset: dict[str, Any] | None) -> None:
    """``validate_request`` for a config already typed (a recipe's steps): format and data needs."""
    _check_format(spec, source_format)
    _check_data(spec, config, dataset)


def _check_format(spec: PassSpec, source_format: str) -> None:
    if source_format not in spec.accepts:
        raise InputError(f"pass '{spec.name}' accepts {' or '.join(spec.accepts)} models, not {source_format}")


def _check_data(spec: PassSpec, config: PassConfig, dataset: dict[str, Any] | None) -> None:
    needs = spec.needs_for(config)
    if needs != "nothing" and dataset is None:
        what = "labelled data set (x and y)" if needs == "labels" else "data set"
        raise InputError(f"pass '{spec.name}' needs a {what}; pass one with --dataset")
    if needs == "labels" and not dataset.get("has_labels"):
        raise InputError(f"pass '{spec.name}' fine-tunes the model and needs labels; the data set has no y")


def _load() -> None:
    # Explicit list: greppable, no import-order magic. Each module defines PASS.
    from engine.passes import (
        cluster,
        compose,
        distill,
        fp16,
        onnx_optimize,
        ort_quantize_dynamic,
        ort_quantize_static,
        prune,
        qat,
        tf2onnx_convert,
        tflite,
    )

    for module in (tf2onnx_convert, tflite, onnx_optimize, fp16, ort_quantize_dynamic, ort_quantize_static,
                   prune, cluster, qat, distill):
        register(module.PASS)
    register(compose.PASS)
    register(compose.KERAS_PASS)


_load()
