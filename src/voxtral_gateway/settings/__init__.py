"""Typed settings, read once from the environment and an optional TOML file."""

from voxtral_gateway.settings._loader import SettingsError, load_settings
from voxtral_gateway.settings._model import BackendKind, Settings

__all__ = ["BackendKind", "Settings", "SettingsError", "load_settings"]
