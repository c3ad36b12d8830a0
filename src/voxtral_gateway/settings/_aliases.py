"""MODEL_ALIASES: other names for the served model, parsed when the settings are read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

DEFAULT_MODEL_ALIASES = "voxtral-mini-latest,voxtral-mini-2507,whisper-1"


def parse_model_aliases(value: str | Sequence[str] | Mapping[str, str]) -> dict[str, str | None]:
    """Alias → the model it names (None: the served model, whatever it is).

    From the environment's comma-separated `name` / `name=model` entries, a TOML list of them, or a TOML
    table (`{name = "model"}`, `""` meaning the served model). Raises ValueError naming a bad entry."""
    if isinstance(value, Mapping):
        entries = [f"{name}={target}" if target else str(name) for name, target in value.items()]
    else:
        entries = value.split(",") if isinstance(value, str) else list(value)
    table: dict[str, str | None] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        name, sep, target = (part.strip() for part in entry.partition("="))
        if not name or (sep and not target):
            raise ValueError(f"entry {entry!r} is not `name` or `name=model`")
        if name in table:
            raise ValueError(f"{name!r} is named twice")
        table[name] = target or None
    return table


class ModelAliases:
    """The parsed MODEL_ALIASES."""

    __slots__ = ("table",)

    def __init__(self, table: Mapping[str, str | None]):
        self.table: dict[str, str | None] = dict(table)
        """Alias → the model it names (None: the served model, whatever it is)."""

    @classmethod
    def parse(cls, value: str | Sequence[str] | Mapping[str, str]) -> ModelAliases:
        return cls(parse_model_aliases(value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelAliases) and other.table == self.table

    def __hash__(self) -> int:
        return hash(tuple(self.table.items()))

    def __repr__(self) -> str:
        return f"ModelAliases({self.table})"
