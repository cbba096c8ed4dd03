"""How the sizes FLOPs were counted at are written, and that throughput is not judged at other sizes."""
from __future__ import annotations

from engine.formats.open_sizes import nominal_sizes, sizes_text
from engine.jobs.kinds.measuring import _roofline

IMAGE = [{"name": "image", "shape": [None, None, None, 3], "dtype": "float32"}]
PEAK = {"single_thread": 100.0, "all_threads": 180.0}


def test_image_sizes_written_as_height_by_width() -> None:
    at = nominal_sizes(IMAGE)
    assert [(d["key"], d["size"]) for d in at] == [("image:1", 224), ("image:2", 224)]
    assert sizes_text(at) == "224×224"


def test_several_inputs_named() -> None:
    inputs = [{"name": "tokens", "shape": [None, "seq"]}, {"name": "mask", "shape": [None, None]}]
    at = nominal_sizes(inputs)
    assert [(d["key"], d["size"]) for d in at] == [("seq", 128), ("mask:1", 128)]
    assert sizes_text(at) == "tokens 128, mask 128"
    assert nominal_sizes([{"name": "x", "shape": [None, 8, 8, 1]}]) == []


def test_roofline_only_when_timed_at_the_counted_sizes() -> None:
    model = {"flops": 2_000_000, "flops_at": nominal_sizes(IMAGE), "pass": None}
    result = {"results": [{"batch": 1, "threads": 1, "opt_level": "all", "latency_ms": {"p50": 1.0}}]}
    assert _roofline(model, result, PEAK, {"image:1": 224, "image:2": 224})
    assert _roofline(model, result, PEAK, {"image:1": 320, "image:2": 320}) == []
    assert _roofline({**model, "flops_at": None}, result, PEAK, None)


def test_the_dashboard_writes_the_sizes_as_the_engine_does() -> None:
    from app.tables import open_sizes_text

    for inputs in (IMAGE, [{"name": "tokens", "shape": [None, "seq"]}, {"name": "mask", "shape": [None, None]}]):
        assert open_sizes_text(nominal_sizes(inputs)) == sizes_text(nominal_sizes(inputs))


def test_cli_model_line_names_the_counted_size() -> None:
    from engine.cli.base import model_line

    m = {"id": 3, "name": "any", "format": "keras", "size_bytes": 10**6, "params": 10, "flops": 1000,
         "inputs": IMAGE, "info": {"flops_at": nominal_sizes(IMAGE)}}
    assert "flops=1000 (at 224×224)" in model_line(m)
    assert "flops=1000  inputs" in model_line({**m, "info": {}})
