"""Truncated, bit-flipped and fuzzed model files end as a clear refusal (or a reported crash)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.safety.conftest import IsolatedInspector

ALLOWED = {"ok", "refused", "crashed"}


def _assert_handled(answer: dict) -> None:
    assert answer["outcome"] in ALLOWED, answer  # 'escaped' = a non-EngineError leaked out
    if answer["outcome"] == "crashed":
        assert answer["code"] < 0 and answer["message"].startswith("the model file is damaged")


TRUNCATED = {
    "onnx": "the file is not a readable ONNX model (damaged or truncated); export it again",
    "tflite": "the TFLite file is damaged (its flatbuffer cannot be read); convert it again",
}


@pytest.mark.parametrize("kind", ["onnx", "tflite"])
def test_truncated_model_refused_with_format_error(kind: str, tiny_onnx_bytes: bytes, tiny_tflite_bytes: bytes,
                                                   isolated: IsolatedInspector, tmp_path: Path) -> None:
    data = tiny_onnx_bytes if kind == "onnx" else tiny_tflite_bytes
    src = tmp_path / "upload"
    src.write_bytes(data[: len(data) * 2 // 3])
    answer = isolated.inspect(src)
    assert answer["outcome"] == "refused" and answer["type"] == "FormatError", answer
    assert answer["message"] == TRUNCATED[kind]


@pytest.mark.parametrize("kind", ["onnx", "tflite"])
def test_bit_flipped_model_handled(kind: str, tiny_onnx_bytes: bytes, tiny_tflite_bytes: bytes,
                                   isolated: IsolatedInspector, tmp_path: Path) -> None:
    data = bytearray(tiny_onnx_bytes if kind == "onnx" else tiny_tflite_bytes)
    for i in range(9, len(data), max(1, len(data) // 40)):
        data[i] ^= 0xFF
    src = tmp_path / "upload"
    src.write_bytes(bytes(data))
    _assert_handled(isolated.inspect(src))


def _mutate(data: bytes, edits: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out[:cut] if cut else out)


MUTATIONS = st.tuples(st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8),
                      st.one_of(st.none(), st.integers(8, 1 << 20)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=MUTATIONS)
def test_fuzzed_onnx_refused_or_read(mutation: tuple, tiny_onnx_bytes: bytes, isolated: IsolatedInspector,
                                     tmp_path: Path) -> None:
    src = tmp_path / "fuzz.onnx"
    src.write_bytes(_mutate(tiny_onnx_bytes, *mutation))
    _assert_handled(isolated.inspect(src))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=MUTATIONS)
def test_fuzzed_tflite_refused_or_read(mutation: tuple, tiny_tflite_bytes: bytes, isolated: IsolatedInspector,
                                       tmp_path: Path) -> None:
    edits, cut = mutation
    # keep the TFL3 identifier so the fuzz reaches the flatbuffer reader rather than the sniffing
    edits = [(p, v) for p, v in edits if not 4 <= p % len(tiny_tflite_bytes) < 8]
    src = tmp_path / "fuzz.tflite"
    src.write_bytes(_mutate(tiny_tflite_bytes, edits or [(0, 0)], cut))
    _assert_handled(isolated.inspect(src))
