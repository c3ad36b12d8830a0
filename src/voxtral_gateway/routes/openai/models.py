"""GET /v1/models and /v1/models/{model_id}: the model this gateway serves, as one card both OpenAI's and
Mistral's SDKs accept."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from voxtral_gateway.routes.docs import openai_error_responses
from voxtral_gateway.routes.mistral.models import capabilities, transcription_capabilities
from voxtral_gateway.runtime import Runtime
from voxtral_gateway.schemas.openai import ModelCard, ModelList
from voxtral_gateway.services.models import ServedModel


def _card(model: ServedModel, created: int) -> ModelCard:
    return ModelCard(
        id=model.id,
        created=created,
        owned_by="voxtral-gateway",
        capabilities=capabilities(model),
        aliases=model.aliases,
        audio_transcription_capabilities=transcription_capabilities(),
    )


class ModelsController(Controller):
    path = "/v1/models"
    tags = ["openai"]

    @get(
        "/",
        operation_id="openai_list_models",
        summary="List the served model (OpenAI- and Mistral-compatible)",
        description=(
            "The model the configured backend serves, in OpenAI's list shape; each card also has "
            "Mistral's `type`, `capabilities` and `aliases` (the names of MODEL_ALIASES that lead to it)."
        ),
    )
    async def list_models(self, runtime: NamedDependency[Runtime]) -> ModelList:
        """The served model (one entry)."""
        return ModelList(data=[_card(runtime.models.served, int(runtime.started_wall_time))])

    @get(
        "/{model_id:path}",
        operation_id="openai_retrieve_model",
        summary="Describe a model (OpenAI- and Mistral-compatible)",
        description=(
            "The served model's card, by its id (which may contain `/`, unescaped as Mistral's SDK sends "
            "it) or any of its aliases; 404 for any other name."
        ),
        responses=openai_error_responses(404),
    )
    async def retrieve_model(self, model_id: FromPath[str], runtime: NamedDependency[Runtime]) -> ModelCard:
        """The served model's card; the id may be an alias."""
        runtime.models.resolve(model_id.lstrip("/"), field="model_id")
        return _card(runtime.models.served, int(runtime.started_wall_time))
