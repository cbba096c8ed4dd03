"""A composed chain's Triton repository as an ensemble: both members and the ensemble's config.pbtxt, parsed
with Triton's own ModelConfig schema, checked for wiring, and run step by step as Triton would run it."""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from engine import api
from engine.errors import InputError
from engine.jobs import service
from tests.serving.triton_schema import data_type, parse_config


def _scaler(path: Path) -> Path:
    """raw (N, 8, 8, 1) -> scaled = raw / 16 (named unlike the classifier's input: wired by position), and
    a second, unwired output kept by the chain: doubled = raw * 2."""
    import onnx
    from onnx import TensorProto, helper

    shape = ["N", 8, 8, 1]
    graph = helper.make_graph(
        [helper.make_node("Mul", ["raw", "scale"], ["scaled"]), helper.make_node("Add", ["raw", "raw"], ["doubled"])],
        "scaler", [helper.make_tensor_value_info("raw", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("scaled", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("doubled", TensorProto.FLOAT, shape)],
        [helper.make_tensor("scale", TensorProto.FLOAT, [], [1 / 16])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def chain(studio):
    """(composed id, classifier id, the unzipped ensemble repository)."""
    root = studio[0].parent
    pre = service.wait(api.submit_import(_scaler(root / "scaler.onnx"), name="scaler").id, timeout_s=300)
    clf = studio[1]
    pre_id = pre.result["model_id"]
    image = api.get_model(clf).inputs[0]["name"]
    composed = service.wait(api.submit_optimize(pre_id, "compose", {"second": clf, "io_map": f"scaled:{image}"}).job.id,
                            timeout_s=300).result["model_id"]
    job = service.wait(api.submit_export(composed, "triton", ensemble=True).id, timeout_s=300)
    out = root / "ensemble"
    with zipfile.ZipFile(api.copy_export(job, root / "ensemble.zip")) as zf:
        zf.extractall(out)
    return composed, clf, out


def _repository(folder: Path) -> dict[str, object]:
    return {p.parent.name: parse_config(p.read_text()) for p in folder.glob("*/config.pbtxt")}


def test_ensemble_repository_parses_with_tritons_schema_and_wires_every_tensor(chain):
    import onnx

    composed_id, _, folder = chain
    configs = _repository(folder)
    ensembles = [n for n, c in configs.items() if c.platform == "ensemble"]
    assert len(ensembles) == 1 and len(configs) == 3
    name = ensembles[0]
    ensemble = configs[name]
    assert (folder / name / "1").is_dir() and not any((folder / name / "1").iterdir())
    composed = api.get_model(composed_id)
    assert [t.name for t in ensemble.input] == [t["name"] for t in composed.inputs]
    assert [t.name for t in ensemble.output] == [t["name"] for t in composed.outputs]
    available = {t.name: (data_type(t.data_type), list(t.dims)) for t in ensemble.input}
    steps = list(ensemble.ensemble_scheduling.step)
    assert [s.model_name for s in steps] == [f"{name}_step1", f"{name}_step2"]
    for step in steps:
        member = configs[step.model_name]
        assert member.backend == "onnxruntime" and member.max_batch_size == ensemble.max_batch_size == 64
        graph = onnx.load(str(folder / step.model_name / "1" / "model.onnx")).graph
        assert [t.name for t in member.input] == [i.name for i in graph.input]
        assert [t.name for t in member.output] == [o.name for o in graph.output]
        declared = {t.name: (data_type(t.data_type), list(t.dims)) for t in [*member.input, *member.output]}
        assert set(step.input_map) == {t.name for t in member.input}
        for key, tensor in step.input_map.items():  # every input is an ensemble input or an earlier output
            assert tensor in available, f"{step.model_name} reads {tensor}, which nothing produced"
            assert available[tensor][0] == declared[key][0]
        for key, tensor in step.output_map.items():
            assert tensor not in available, f"{tensor} is produced twice"
            available[tensor] = declared[key]
    for out in ensemble.output:
        assert available[out.name] == (data_type(out.data_type), list(out.dims))


def test_ensemble_run_step_by_step_matches_the_composed_model(chain):
    import onnxruntime as ort

    composed_id, _, folder = chain
    configs = _repository(folder)
    name = next(n for n, c in configs.items() if c.platform == "ensemble")
    raw = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 1)).astype(np.float32)
    tensors = {"raw": raw}
    for step in configs[name].ensemble_scheduling.step:  # what Triton's ensemble scheduler does
        session = ort.InferenceSession(str(folder / step.model_name / "1" / "model.onnx"),
                                       providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        outputs = session.run(names, {key: tensors[value] for key, value in step.input_map.items()})
        tensors.update({step.output_map[n]: v for n, v in zip(names, outputs) if n in step.output_map})
    whole = ort.InferenceSession(str(api.model_path(composed_id)), providers=["CPUExecutionProvider"])
    expected = dict(zip([o.name for o in whole.get_outputs()], whole.run(None, {"raw": raw})))
    assert set(expected) == {o.name for o in configs[name].output}
    for out_name, value in expected.items():
        np.testing.assert_allclose(tensors[out_name], value, rtol=1e-5, atol=1e-6)


def test_only_a_composed_chain_exports_as_an_ensemble(chain):
    composed_id, clf, _ = chain
    with pytest.raises(InputError, match="was not made by the compose pass"):
        api.submit_export(clf, "triton", ensemble=True)
    with pytest.raises(InputError, match="export it with format triton, not onnx"):
        api.submit_export(composed_id, "onnx", ensemble=True)
    assert api.can_be_ensemble(composed_id) and not api.can_be_ensemble(clf)
