"""GET /v1/models: the model this gateway serves."""

from __future__ import annotations

from litestar import Controller, get

from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.openai import ModelCard, ModelList
from voxtral_gateway.services.models import served_model_ids


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
                for model in served_model_ids(runtime.backend)
            ]
        )
