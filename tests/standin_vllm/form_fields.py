"""Multipart form fields parsed the way pydantic parses them inside vLLM."""

from __future__ import annotations

from typing import Any

from tests.standin_vllm.errors import field_error

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_PARSING_MESSAGES = {
    float: ("float_parsing", "Input should be a valid number, unable to parse string as a number"),
    int: ("int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
}


def form_bool(form: dict[str, str], name: str, errors: list[Any]) -> bool | None:
    """A form field as pydantic parses a bool; a failure is appended to ``errors``."""
    raw = form.get(name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    message = "Input should be a valid boolean, unable to interpret input"
    errors.append(field_error("bool_parsing", name, message, raw))
    return None


def form_number(form: dict[str, str], name: str, kind: type[int] | type[float], errors: list[Any]) -> Any:
    """A form field as pydantic parses an int or float; a failure is appended to ``errors``."""
    raw = form.get(name)
    if raw is None:
        return None
    try:
        return kind(raw)
    except ValueError:
        error_type, message = _PARSING_MESSAGES[kind]
        errors.append(field_error(error_type, name, message, raw))
        return None
