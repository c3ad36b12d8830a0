"""A copy of a request Struct with some field types changed (e.g. a file field left as `msgspec.Raw`),
for decoding a body in a cheaper shape than the route's own: the same fields, defaults, names on the
wire and options otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec


def struct_variant(
    schema: type[msgspec.Struct], name: str, field_type: Callable[[msgspec.structs.FieldInfo], Any]
) -> type[msgspec.Struct]:
    """`schema` with each field's type replaced by `field_type(field)`."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(schema):
        kind = field_type(info)
        if info.default is not msgspec.NODEFAULT:
            fields.append((info.name, kind, info.default))
        elif info.default_factory is not msgspec.NODEFAULT:
            fields.append((info.name, kind, msgspec.field(default_factory=info.default_factory)))
        else:
            fields.append((info.name, kind))
    config = schema.__struct_config__
    return msgspec.defstruct(
        name,
        fields,
        kw_only=True,
        forbid_unknown_fields=config.forbid_unknown_fields,
        rename={f.name: f.encode_name for f in msgspec.structs.fields(schema) if f.encode_name != f.name}
        or None,
        tag=config.tag,
        tag_field=config.tag_field,
    )
