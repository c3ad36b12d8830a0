"""Build `Settings` from `config/*.toml` and the environment (the environment wins).

Both use the flat names (`VOXTRAL_HOST`, `voxtral_host`); each is routed to its group here, and the
values that need parsing (VOXTRAL_BACKENDS, TRUSTED_PROXIES, MODEL_ALIASES) are parsed once, into their types."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from voxtral_gateway.settings._aliases import ModelAliases
from voxtral_gateway.settings._backends import BackendURLs
from voxtral_gateway.settings._model import SETTING_NAMES, Settings
from voxtral_gateway.settings._networks import TrustedProxies

CONFIG_FILE_VARIABLE = "VOXTRAL_GATEWAY_CONFIG"
DEFAULT_CONFIG_FILE = Path("config/gateway.toml")
_SETTING_IN_PATH = re.compile(r"`\$\.(?:\w+\.)?(\w+)`")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            table = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
    unknown = sorted(set(table) - set(SETTING_NAMES))
    if unknown:
        raise SettingsError(f"unknown settings in {path}: {', '.join(unknown)}")
    return table


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name in SETTING_NAMES:
        raw = environ.get(name.upper())
        if raw is not None and raw.strip() != "":
            values[name] = raw.strip()
    return values


def _grouped(values: Mapping[str, Any]) -> dict[str, Any]:
    """Flat names → `{group: {name: value}}`, the shape `Settings` decodes from."""
    grouped: dict[str, Any] = {}
    for name, value in values.items():
        group = SETTING_NAMES[name]
        if group is None:
            grouped[name] = value
        else:
            grouped.setdefault(group, {})[name] = value
    return grouped


_PARSERS: dict[type, Callable[[Any], Any]] = {
    BackendURLs: BackendURLs.parse,
    TrustedProxies: TrustedProxies.parse,
    ModelAliases: ModelAliases.parse,
}
"""The setting types parsed once from their raw text (environment) or list/table (TOML)."""


def _parsed(kind: type, value: Any) -> Any:
    """msgspec's `dec_hook` for the types in `_PARSERS`."""
    parse = _PARSERS.get(kind)
    if parse is None:
        # msgspec's dec_hook protocol: NotImplementedError says "not a type this hook converts".
        raise NotImplementedError(kind)
    return parse(value)


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
        return msgspec.convert(_grouped(values), Settings, strict=False, dec_hook=_parsed)
    except msgspec.ValidationError as exc:
        match = _SETTING_IN_PATH.search(str(exc))
        variable = match.group(1).upper() if match else "a setting"
        raw = values.get(match.group(1)) if match else None
        reason = str(exc).split(" - at ")[0]
        raise SettingsError(f"invalid value {raw!r} for {variable}: {reason}") from exc
