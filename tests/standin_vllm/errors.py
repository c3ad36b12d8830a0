"""vLLM's error bodies and the validation errors FastAPI and pydantic raise inside vLLM
(``entrypoints/serve/exception_handling/``, ``serve/engine/protocol.py``)."""

from __future__ import annotations

from typing import Any


class VLLMError(Exception):
    """An error vLLM answers as ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self, message: str, status: int = 400, err_type: str = "BadRequestError", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.err_type = err_type
        self.param = param

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.err_type,
                "param": self.param,
                "code": self.status,
            }
        }


def validation_error(message: str, parameter: str | None = None, value: Any = None) -> VLLMError:
    """vLLM's VLLMValidationError: its text gains "(parameter=..., value=...)"; 400."""
    extras = [
        f"{name}={val}" for name, val in (("parameter", parameter), ("value", value)) if val is not None
    ]
    text = f"{message} ({', '.join(extras)})" if extras else message
    return VLLMError(text, param=parameter)


def request_validation_error(errors: list[dict[str, Any] | str]) -> VLLMError:
    """FastAPI's RequestValidationError as vLLM's handler renders it (type "Bad Request")."""
    label = "error" if len(errors) == 1 else "errors"
    lines = "".join(f"  {err}\n" for err in errors[:10])
    first = errors[0]
    param = first.get("loc") if isinstance(first, dict) else None
    return VLLMError(
        f"{len(errors)} validation {label}:\n{lines}".rstrip(), err_type="Bad Request", param=param
    )


def _summarize(value: Any) -> Any:
    """How vLLM's validation handler echoes an offending input."""
    if isinstance(value, (list, dict)):
        return f"<{type(value).__name__} of {len(value)} items>"
    return value if isinstance(value, str) else str(value)


def field_error(kind: str, loc: str, msg: str, value: Any, **ctx: str) -> dict[str, Any]:
    error = {"type": kind, "loc": f"body.{loc}" if loc else "body", "msg": msg, "input": _summarize(value)}
    if ctx:
        error["ctx"] = ctx
    return error
