"""Pass config forms generated from a pydantic JSON schema.

``fields_from_schema`` is pure (schema in, field specs out) so tests can run it over every registered
pass; ``render_fields`` draws the specs as Streamlit widgets; ``to_config`` turns widget values into
the raw config ``engine.api.submit_optimize`` validates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import streamlit as st

Widget = Literal["number", "select", "multiselect", "checkbox", "list", "text"]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: Widget
    default: Any = None
    help: str | None = None
    required: bool = False
    nullable: bool = False
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: tuple[Any, ...] = ()


def fields_from_schema(schema: dict[str, Any]) -> list[FieldSpec]:
    """One field spec per property, in the schema's order. Unknown shapes fall back to a text box."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    required = set(schema.get("required") or [])
    return [_field(name, prop, defs, name in required) for name, prop in (schema.get("properties") or {}).items()]


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref")
    if not ref:
        return prop
    target = defs.get(ref.rsplit("/", 1)[-1], {})
    return {**target, **{k: v for k, v in prop.items() if k != "$ref"}}


def _field(name: str, prop: dict[str, Any], defs: dict[str, Any], required: bool) -> FieldSpec:
    prop = _resolve(prop, defs)
    nullable = False
    variants = prop.get("anyOf") or prop.get("oneOf")
    if variants:
        real = [_resolve(v, defs) for v in variants if v.get("type") != "null"]
        nullable = len(real) < len(variants)
        merged = _merge_variants(real)
        outer = {k: v for k, v in prop.items() if k not in ("anyOf", "oneOf")}
        prop = {**merged, **outer}
    base = {"name": name, "label": _label(name, prop.get("title")),
            "default": prop.get("default"), "help": prop.get("description"),
            "required": required and "default" not in prop, "nullable": nullable}
    kind = prop.get("type")
    if "enum" in prop or "const" in prop:
        options = tuple(prop.get("enum") or [prop["const"]])
        return FieldSpec(widget="select", options=options, **base)
    if kind == "boolean":
        return FieldSpec(widget="checkbox", **base)
    if kind in ("integer", "number"):
        return FieldSpec(widget="number", integer=kind == "integer", step=prop.get("multipleOf"),
                         minimum=_bound(prop, "minimum", "exclusiveMinimum", kind, +1),
                         maximum=_bound(prop, "maximum", "exclusiveMaximum", kind, -1), **base)
    if kind == "array":
        items = _resolve(prop.get("items") or {}, defs)
        if "enum" in items:
            return FieldSpec(widget="multiselect", options=tuple(items["enum"]), **base)
        return FieldSpec(widget="list", integer=items.get("type") == "integer", **base)
    return FieldSpec(widget="text", **base)


def _label(name: str, title: str | None) -> str:
    """A field's label in sentence case like every other label (“Dynamic batch”, “Keep IO types” stays as a
    schema wrote it); pydantic titles each field from its name in title case (“Dynamic Batch”)."""
    plain = name.replace("_", " ")
    return plain.capitalize() if not title or title == plain.title() else title


def _merge_variants(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """``Literal[...] | None`` and ``int | None`` come as anyOf; several enums merge into one list."""
    if not variants:
        return {"type": "string"}
    if len(variants) > 1 and all("enum" in v or "const" in v for v in variants):
        values = [x for v in variants for x in (v.get("enum") or [v["const"]])]
        return {"enum": list(dict.fromkeys(values))}
    return variants[0]


def _bound(prop: dict[str, Any], inclusive: str, exclusive: str, kind: str, nudge: int) -> float | None:
    if inclusive in prop:
        return prop[inclusive]
    if exclusive in prop:  # an integer's exclusive bound is the next integer; a float's is left to pydantic
        return prop[exclusive] + nudge if kind == "integer" else prop[exclusive]
    return None


def to_config(specs: list[FieldSpec], values: dict[str, Any]) -> dict[str, Any]:
    """Raw config from widget values: lists split on commas, empty optional fields left out."""
    config: dict[str, Any] = {}
    for spec in specs:
        value = values.get(spec.name)
        if spec.widget == "list":
            value = _split(value, spec.integer)
        elif spec.widget == "select" and value == _NONE:
            value = None
        elif spec.widget == "text" and isinstance(value, str):
            value = value.strip()
            if value == "" and not spec.required:
                continue
        if value is None and not spec.nullable:
            continue
        config[spec.name] = value
    return config


def _split(value: Any, integer: bool) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return list(value)
    parts = [p.strip() for p in str(value or "").split(",") if p.strip()]
    if integer:
        return [int(p) if p.lstrip("-").isdigit() else p for p in parts]  # bad items are pydantic's to refuse
    return parts


_NONE = "(none)"


def render_fields(specs: list[FieldSpec], key: str) -> dict[str, Any]:
    """Draw one widget per spec (inside the caller's form) and return their current values by name."""
    return {spec.name: _render(spec, f"{key}:{spec.name}") for spec in specs}


def _render(spec: FieldSpec, key: str) -> Any:
    if spec.widget == "checkbox":
        return st.checkbox(spec.label, value=bool(spec.default), help=spec.help, key=key)
    if spec.widget == "select":
        options = ([_NONE] if spec.nullable else []) + list(spec.options)
        default = _NONE if spec.default is None and spec.nullable else spec.default
        index = options.index(default) if default in options else 0
        return st.selectbox(spec.label, options, index=index, help=spec.help, key=key)
    if spec.widget == "multiselect":
        return st.multiselect(spec.label, list(spec.options), default=list(spec.default or []),
                              help=spec.help, key=key)
    if spec.widget == "number":
        return _number(spec, key)
    if spec.widget == "list":
        text = ", ".join(str(v) for v in spec.default or [])
        return st.text_input(spec.label, value=text, help=_with(spec.help, "Comma-separated."),
                             placeholder="comma-separated values", key=key)
    default = "" if spec.default is None else str(spec.default)
    return st.text_input(spec.label, value=default, help=spec.help, key=key)


def _number(spec: FieldSpec, key: str) -> Any:
    cast = int if spec.integer else float
    kwargs: dict[str, Any] = {"help": spec.help, "key": key}
    if spec.minimum is not None:
        kwargs["min_value"] = cast(spec.minimum)
    if spec.maximum is not None:
        kwargs["max_value"] = cast(spec.maximum)
    if spec.step is not None:
        kwargs["step"] = cast(spec.step)
    elif spec.integer:
        kwargs["step"] = 1
    value = None if spec.default is None else cast(spec.default)
    if value is None and not spec.nullable:
        value = kwargs.get("min_value", cast(0))
    if not spec.integer and value and abs(value) < 0.01:  # 1e-3 would show as 0.00 and step by 0.01
        kwargs["format"] = "%.1e"
        kwargs.setdefault("step", abs(value))
    return st.number_input(spec.label, value=value, **kwargs)


def _with(text: str | None, extra: str) -> str:
    return f"{text} {extra}" if text else extra


def data_requirement(pass_info: dict[str, Any]) -> Literal["required", "optional", "no"]:
    """Whether the Optimize form shows a data set picker for a pass (``api.list_passes()`` entry): the pass
    declares it (``data``: required, optional when only some settings need one, or none)."""
    return {"required": "required", "optional": "optional"}.get(pass_info.get("data"), "no")
