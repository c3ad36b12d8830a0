"""Which model names a request may use: the id the backend serves, and the aliases of the alias table
(MODEL_ALIASES: Mistral's `voxtral-mini-latest`, OpenAI's `whisper-1`, ...)."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from voxtral_gateway.backends import SpeechBackend
from voxtral_gateway.errors import ModelNotFound


class ServedModel(msgspec.Struct, kw_only=True, frozen=True):
    """The model this gateway serves, as the models routes describe it."""

    id: str
    aliases: list[str]
    """Other names requests may use for it."""
    chat: bool
    """Whether questions about audio (chat) can be answered: only Voxtral on vLLM."""
    backend: str
    """The backend kind (`vllm`, `embedded`)."""


class ModelCatalog:
    """The served model and the names that lead to it."""

    def __init__(self, backend: SpeechBackend, aliases: Mapping[str, str | None]):
        """`aliases`: alias → the model it names (None: the served model, whatever it is)."""
        self._backend = backend
        self._aliases = dict(aliases)

    @property
    def served(self) -> ServedModel:
        served_id = self._backend.model_name
        return ServedModel(
            id=served_id,
            aliases=[name for name, target in self._aliases.items() if target in (None, served_id)],
            chat=self._backend.supports_chat,
            backend=self._backend.kind,
        )

    def resolve(self, name: str, field: str = "model") -> str:
        """The served model's id for `name` (its id or an alias); 404 naming `field` otherwise."""
        served_id = self._backend.model_name
        if name == served_id:
            return served_id
        if name in self._aliases:
            target = self._aliases[name]
            if target in (None, served_id):
                return served_id
            raise ModelNotFound(
                f"The model `{name}` is an alias of `{target}`, which is not served here (this gateway "
                f"serves `{served_id}`; MODEL_ALIASES)",
                field=field,
            )
        allowed = [served_id, *self.served.aliases]
        raise ModelNotFound(
            f"The model `{name}` does not exist or is not served here; use one of: {', '.join(allowed)}",
            field=field,
        )
