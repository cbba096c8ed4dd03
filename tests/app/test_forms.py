"""Config forms generated from pass schemas: every registered pass, and a hand-written schema."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app import forms
from engine import api
from engine.passes import PASSES

PASS_NAMES = [p["name"] for p in api.list_passes()]

HAND_SCHEMA = {
    "$defs": {"Mode": {"enum": ["fast", "exact"], "title": "Mode", "type": "string"}},
    "properties": {
        "mode": {"$ref": "#/$defs/Mode", "default": "exact", "description": "How hard to try."},
        "maybe_mode": {"anyOf": [{"$ref": "#/$defs/Mode"}, {"type": "null"}], "default": None},
        "bits": {"type": "integer", "minimum": 2, "maximum": 8, "default": 8, "description": "Bits."},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "default": 0.5},
        "steps": {"type": "integer", "exclusiveMinimum": 0, "default": 3},
        "limit": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}], "default": None},
        "enabled": {"type": "boolean", "default": True},
        "layers": {"type": "array", "items": {"type": "string"}, "description": "Layer names."},
        "sizes": {"type": "array", "items": {"type": "integer"}, "default": [1, 8]},
        "kinds": {"type": "array", "items": {"enum": ["Conv", "MatMul"]}, "default": ["Conv"]},
        "fixed": {"const": "v1", "default": "v1"},
        "tag": {"type": "string", "default": "x"},
        "must": {"type": "integer"},
    },
    "required": ["must"],
    "type": "object",
}


def _by_name(specs):
    return {s.name: s for s in specs}


def test_fields_from_schema_covers_every_property_of_every_registered_pass():
    assert PASS_NAMES, "no pass is registered"
    for p in api.list_passes():
        props = p["config_schema"].get("properties", {})
        specs = forms.fields_from_schema(p["config_schema"])
        assert [s.name for s in specs] == list(props), p["name"]
        for spec in specs:
            prop = props[spec.name]
            assert spec.help == prop.get("description"), (p["name"], spec.name)
            expected = {"boolean": "checkbox", "integer": "number", "number": "number", "array": "list"}
            if "enum" in prop:
                assert spec.widget == "select" and list(spec.options) == prop["enum"]
            elif prop.get("type") in expected:
                assert spec.widget == expected[prop["type"]], (p["name"], spec.name)
            if "minimum" in prop:
                assert spec.minimum == prop["minimum"] and spec.maximum == prop.get("maximum")


@pytest.mark.parametrize("name", PASS_NAMES)
def test_to_config_of_defaults_validates_for_pass(name):
    spec = PASSES[name]
    schema = spec.config.model_json_schema()
    fields = forms.fields_from_schema(schema)
    # A field with no default (compose's `second`, a model id) must be chosen by the user: give it one.
    chosen = {name: 1 for name in schema.get("required", [])}
    config = forms.to_config(fields, {f.name: chosen.get(f.name, f.default) for f in fields})
    assert spec.config.model_validate(config) == spec.config(**chosen)


def test_fields_from_schema_reads_refs_anyof_bounds_and_lists():
    specs = _by_name(forms.fields_from_schema(HAND_SCHEMA))
    assert specs["mode"].widget == "select" and specs["mode"].options == ("fast", "exact")
    assert specs["mode"].default == "exact" and specs["mode"].help == "How hard to try."
    assert specs["maybe_mode"].widget == "select" and specs["maybe_mode"].nullable
    assert (specs["bits"].widget, specs["bits"].integer, specs["bits"].minimum, specs["bits"].maximum) == ("number", True, 2, 8)
    assert (specs["ratio"].integer, specs["ratio"].minimum, specs["ratio"].maximum) == (False, 0, 1)
    assert specs["steps"].minimum == 1  # an integer's exclusive minimum 0 is 1
    assert specs["limit"].widget == "number" and specs["limit"].nullable and specs["limit"].minimum == 1
    assert specs["enabled"].widget == "checkbox" and specs["enabled"].default is True
    assert specs["layers"].widget == "list" and not specs["layers"].integer
    assert specs["sizes"].widget == "list" and specs["sizes"].integer
    assert specs["kinds"].widget == "multiselect" and specs["kinds"].options == ("Conv", "MatMul")
    assert specs["fixed"].widget == "select" and specs["fixed"].options == ("v1",)
    assert specs["tag"].widget == "text"
    assert specs["must"].required and not specs["bits"].required


def test_to_config_splits_lists_and_drops_empty_optionals():
    specs = forms.fields_from_schema(HAND_SCHEMA)
    values = {"mode": "fast", "maybe_mode": "(none)", "bits": 4, "ratio": 0.25, "steps": 3, "limit": None,
              "enabled": False, "layers": " conv1, dense ,", "sizes": "1, 8,16", "kinds": ["MatMul"],
              "fixed": "v1", "tag": "  ", "must": 7}
    assert forms.to_config(specs, values) == {
        "mode": "fast", "maybe_mode": None, "bits": 4, "ratio": 0.25, "steps": 3, "limit": None,
        "enabled": False, "layers": ["conv1", "dense"], "sizes": [1, 8, 16], "kinds": ["MatMul"],
        "fixed": "v1", "must": 7}


def test_data_requirement_is_what_each_pass_declares():
    by_name = {p["name"]: p for p in api.list_passes()}
    assert forms.data_requirement(by_name["ort-quantize-static"]) == "required"
    assert forms.data_requirement(by_name["prune"]) == "required"
    assert forms.data_requirement(by_name["tflite"]) == "optional"  # only int8 calibrates on data
    assert forms.data_requirement(by_name["ort-quantize-dynamic"]) == "no"


def _render_hand_form():
    import streamlit as st

    from app import forms
    from tests.app.test_forms import HAND_SCHEMA

    values = forms.render_fields(forms.fields_from_schema(HAND_SCHEMA), key="hand")
    st.session_state["values"] = values


def test_render_fields_draws_widgets_with_bounds_options_and_help():
    at = AppTest.from_function(_render_hand_form, default_timeout=30).run()
    assert not at.exception
    bits = at.number_input(key="hand:bits")
    assert (bits.value, bits.min, bits.max, bits.help) == (8, 2, 8, "Bits.")
    mode = at.selectbox(key="hand:mode")
    assert mode.options == ["fast", "exact"] and mode.value == "exact" and mode.help == "How hard to try."
    assert at.selectbox(key="hand:maybe_mode").value == "(none)"
    assert at.checkbox(key="hand:enabled").value is True
    assert at.text_input(key="hand:sizes").value == "1, 8"
    assert at.multiselect(key="hand:kinds").value == ["Conv"]
    assert at.number_input(key="hand:limit").value is None
    at.number_input(key="hand:bits").set_value(4)
    at.text_input(key="hand:layers").set_value("a,b").run()
    assert at.session_state["values"]["bits"] == 4
    assert forms.to_config(forms.fields_from_schema(HAND_SCHEMA), at.session_state["values"])["layers"] == ["a", "b"]


def test_labels_are_in_sentence_case_unless_a_schema_titles_a_field_itself():
    schema = next(p["config_schema"] for p in api.list_passes() if p["name"] == "tf2onnx")
    specs = {f.name: f.label for f in forms.fields_from_schema(schema)}
    assert specs["dynamic_batch"] == "Dynamic batch" and specs["opset"] == "Opset"
    titled = forms.fields_from_schema({"properties": {"io_types": {"type": "boolean", "title": "IO types"}}})
    assert [f.label for f in titled] == ["IO types"]

