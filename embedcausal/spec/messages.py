"""Pydantic's validation errors as one-line :class:`~embedcausal.errors.SpecError` messages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from embedcausal.errors import SpecError, expected, shown
from embedcausal.spec.schema import FileModel

_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _fields_at(loc: tuple) -> list[str] | None:
    """The allowed keys of the table at ``loc`` in the file model, for unknown-key errors."""
    model: Any = FileModel
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if f.alias == part), None
        )
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = next(
            (a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return None


def _cap(part: object, limit: int = 40) -> str:
    text = str(part)
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} characters)"


def spec_error(source: str, exc: ValidationError) -> SpecError:
    """The first (most telling) error of ``exc`` as a one-line ``SpecError``."""
    errors = exc.errors(include_url=False)
    # a typo shows up as an unknown key *and* a missing one: report the unknown key first
    # ... and, in a union (``str | float``), the value's own problem before "not a string"
    err = next(
        (e for e in errors if e["type"] == "extra_forbidden"),
        next((e for e in errors if e["type"] not in _TYPE_WORDS), errors[0]),
    )
    loc = tuple(err["loc"])
    # pydantic appends the union member's type name to the location; drop it
    loc = tuple(p for p in loc if not (isinstance(p, str) and p in ("str", "float", "int")))
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{_cap(p)}" for p in loc).lstrip(".")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1]) or []
        return SpecError(
            source, key, f"unknown key {shown(loc[-1])}; {expected(str(loc[-1]), allowed)}"
        )
    if kind == "missing":
        return SpecError(source, key, "required key is missing")
    if kind == "finite_number":
        return SpecError(source, key, f"{shown(value)} is not a finite number; expected a number")
    if kind == "too_short" and isinstance(value, list | dict) and not value:
        return SpecError(source, key, "is empty; expected at least one value")
    if kind in _TYPE_WORDS:
        return SpecError(
            source,
            key,
            f"expected {_TYPE_WORDS[kind]}, got {shown(value)} ({type(value).__name__})",
        )
    msg = err["msg"].removeprefix("Value error, ")
    return SpecError(source, key, f"{msg} (got {shown(value)})")
