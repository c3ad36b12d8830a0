"""Build `Settings` from `config/*.toml` and the environment (the environment wins)."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from voxtral_gateway.settings._model import Settings

CONFIG_FILE_VARIABLE = "VOXTRAL_GATEWAY_CONFIG"
DEFAULT_CONFIG_FILE = Path("config/gateway.toml")
_FIELD_IN_PATH = re.compile(r"`\$\.(\w+)`")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
    known = set(Settings.__struct_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        raise SettingsError(f"unknown settings in {path}: {', '.join(unknown)}")
    return table


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for field in Settings.__struct_fields__:
        raw = environ.get(field.upper())
        if raw is not None and raw.strip() != "":
            values[field] = raw.strip()
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings once: TOML file (optional) overlaid by environment variables."""
    environ = os.environ if environ is None else environ
    config_path = environ.get(CONFIG_FILE_VARIABLE)
    values: dict[str, Any] = {}
    if config_path:
        values.update(_from_toml(Path(config_path)))
    elif DEFAULT_CONFIG_FILE.is_file():
        values.update(_from_toml(DEFAULT_CONFIG_FILE))
    values.update(_from_environment(environ))
    try:
        return msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        match = _FIELD_IN_PATH.search(str(exc))
        variable = match.group(1).upper() if match else "a setting"
        raw = values.get(match.group(1)) if match else None
        reason = str(exc).split(" - at ")[0]
        raise SettingsError(f"invalid value {raw!r} for {variable}: {reason}") from exc
