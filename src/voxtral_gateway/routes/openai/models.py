"""GET /v1/models: the model this gateway serves."""

from __future__ import annotations

from litestar import Controller, get

from voxtral_gateway.errors import ModelNotFound
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.openai import ModelCard, ModelList

WHISPER_ALIAS = "whisper-1"
"""Accepted for transcription so scripts written for OpenAI's Whisper work unchanged."""


def served_model_ids(runtime: Runtime) -> list[str]:
    return [runtime.backend.model_name]


def check_model(runtime: Runtime, model: str, *, allow_whisper_alias: bool) -> None:
    allowed = served_model_ids(runtime) + ([WHISPER_ALIAS] if allow_whisper_alias else [])
    if model not in allowed:
        raise ModelNotFound(
            f"The model `{model}` does not exist or is not served here; use one of: {', '.join(allowed)}",
            field="model",
        )


class ModelsController(Controller):
    path = "/v1/models"
    tags = ["openai"]

    @get(
        "/",
        operation_id="openai_list_models",
        summary="List the served model (OpenAI-compatible)",
        description="The model the configured backend serves, in OpenAI's list shape.",
    )
    async def list_models(self, runtime: Runtime) -> ModelList:
        """The served model (one entry)."""
        created = int(runtime.started_wall_time)
        return ModelList(
            data=[
                ModelCard(id=model, created=created, owned_by="voxtral-gateway")
                for model in served_model_ids(runtime)
            ]
        )
