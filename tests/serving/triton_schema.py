"""Triton's own ModelConfig schema (the generated protobuf module tritonclient ships), to parse the
config.pbtxt files Trimline writes exactly as Triton's model repository would, without a Triton binary."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def _module():  # noqa: ANN202
    import tritonclient

    # loaded by path: the tritonclient.grpc package itself needs the grpc extra, its generated schema does not
    path = Path(tritonclient.__file__).parent / "grpc" / "model_config_pb2.py"
    spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SCHEMA = _module()


def parse_config(text: str):  # noqa: ANN201
    """The ModelConfig message of ``text``; google.protobuf.text_format.ParseError when it does not fit."""
    from google.protobuf import text_format

    return text_format.Parse(text, _SCHEMA.ModelConfig())


def data_type(name: str) -> str:
    """``TYPE_FP32`` and friends from a ModelConfig's enum value."""
    return _SCHEMA.DataType.Name(name) if isinstance(name, int) else name
