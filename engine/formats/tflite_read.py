"""Reading a TFLite flatbuffer in pure Python: structure, parameters and MACs without the interpreter.

The interpreter's native code may crash on a damaged file; the generated flatbuffer readers only raise
Python errors, so inspection and the upload check use them and never build an interpreter.
"""
from __future__ import annotations

from collections import Counter

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine.errors import FormatError
from engine.formats.tflite_allowlist import check_tflite_operators, operator_facts

_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
           7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64",
           15: "uint32", 16: "uint16", 17: "int4", 18: "bfloat16"}


@lru_cache(maxsize=1)
def _schema() -> Any:
    """TensorFlow's generated schema module, loaded by path so ``import tensorflow`` is not paid."""
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        raise FormatError("TensorFlow is not installed, so TFLite files cannot be read here")
    path = Path(list(spec.submodule_search_locations)[0]) / "lite" / "python" / "schema_py_generated.py"
    module_spec = importlib.util.spec_from_file_location("trimline_tflite_schema", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _op_names() -> dict[int, str]:
    ops = _schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if isinstance(v, int)}


def _shape(tensor: Any) -> list[int | None]:
    if tensor.ShapeSignatureLength():
        return [int(d) if d >= 0 else None for d in tensor.ShapeSignatureAsNumpy()]
    return [int(d) for d in tensor.ShapeAsNumpy()] if tensor.ShapeLength() else []


def _count(shape: list[int | None]) -> int:
    total = 1
    for d in shape:
        total *= d if d is not None else 1  # the batch dimension: one sample
    return total


def _io(graph: Any, indices: Any) -> list[dict[str, Any]]:
    out = []
    for i in indices:
        t = graph.Tensors(int(i))
        out.append({"name": (t.Name() or b"").decode("utf-8", "replace"), "shape": _shape(t),
                    "dtype": _DTYPES.get(t.Type(), f"type{t.Type()}")})
    return out


def _macs(op: str, graph: Any, inputs: list[int], outputs: list[int]) -> int:
    def shape(i: int) -> list[int | None]:
        return _shape(graph.Tensors(i))

    if op == "CONV_2D":
        return _count(shape(outputs[0])[1:]) * _count(shape(inputs[1])[1:])
    if op == "DEPTHWISE_CONV_2D":
        w = shape(inputs[1])
        return _count(shape(outputs[0])[1:]) * _count(w[1:3])
    if op == "FULLY_CONNECTED":
        return _count(shape(outputs[0])) * _count(shape(inputs[1])[1:])
    if op == "BATCH_MATMUL":
        a = shape(inputs[0])
        return _count(shape(outputs[0])) * (a[-1] or 1)
    if op == "TRANSPOSE_CONV":
        w = shape(inputs[1])  # (out, kh, kw, in)
        return _count(shape(inputs[2])[1:]) * _count(w[:3])
    return 0


def read_tflite(path: Path) -> dict[str, Any]:
    """Inspect a TFLite file; FormatError when the flatbuffer is damaged or not TFLite, UnsafeFileError when
    it uses an operator that is not on the allow-list (``tflite_allowlist``)."""
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise FormatError("the file is not a TFLite model (no TFL3 identifier); convert it again")
    try:
        return _read(bytearray(data))
    except FormatError:
        raise
    except Exception as exc:  # any decoding error of the generated reader means a damaged buffer
        raise FormatError("the TFLite file is damaged (its flatbuffer cannot be read); convert it again") from exc


def check_tflite_operators_of(path: Path) -> None:
    """UnsafeFileError when the TFLite file uses an operator off the allow-list (FormatError if damaged)."""
    buf = bytearray(path.read_bytes())
    try:
        schema = _schema()
        facts, used_in = operator_facts(schema.Model.GetRootAs(buf, 0), schema, _op_names(), len(buf) // 4)
    except FormatError:
        raise
    except Exception as exc:  # any decoding error of the generated reader means a damaged buffer
        raise FormatError("the TFLite file is damaged (its flatbuffer cannot be read); convert it again") from exc
    check_tflite_operators(facts, used_in)


def _checked_len(n: int, limit: int) -> int:
    if n < 0 or n > limit:
        raise FormatError("the TFLite file is damaged (a table claims more entries than the file holds)")
    return n


def _read(buf: bytearray) -> dict[str, Any]:
    schema, names, limit = _schema(), _op_names(), len(buf) // 4
    model = schema.Model.GetRootAs(buf, 0)
    if _checked_len(model.SubgraphsLength(), limit) < 1:
        raise FormatError("the TFLite file holds no graph; convert it again")
    facts, used_in = operator_facts(model, schema, names, limit)
    check_tflite_operators(facts, used_in)  # every code in the table, whichever subgraph uses it
    codes = [name for name, _ in facts]
    graph = model.Subgraphs(0)
    histogram: Counter[str] = Counter()
    macs = 0
    for j in range(_checked_len(graph.OperatorsLength(), limit)):
        op = graph.Operators(j)
        name = codes[op.OpcodeIndex()]
        histogram[name] += 1
        ins = [int(i) for i in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(i) for i in op.OutputsAsNumpy()] if op.OutputsLength() else []
        macs += _macs(name, graph, ins, outs)
    params = 0
    n_buffers = _checked_len(model.BuffersLength(), limit)
    for j in range(_checked_len(graph.TensorsLength(), limit)):
        t = graph.Tensors(j)
        b = t.Buffer()
        if 0 < b < n_buffers:
            buffer = model.Buffers(b)
            if buffer.DataLength() or buffer.Size() > 1:
                params += _count(_shape(t))
    inputs = _io(graph, graph.InputsAsNumpy() if graph.InputsLength() else [])
    outputs = _io(graph, graph.OutputsAsNumpy() if graph.OutputsLength() else [])
    description = model.Description()
    return {"inputs": inputs, "outputs": outputs, "params": params, "flops": 2 * macs,
            "op_histogram": dict(histogram), "version": model.Version(),
            "producer": description.decode("utf-8", "replace") if description else None,
            "n_nodes": sum(histogram.values()), "n_subgraphs": model.SubgraphsLength()}
