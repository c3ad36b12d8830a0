"""Typed settings, read once from the environment and an optional TOML file, one group per component."""

from voxtral_gateway.settings._backends import BackendURLs
from voxtral_gateway.settings._loader import SettingsError, load_settings
from voxtral_gateway.settings._model import (
    MIB,
    SETTING_NAMES,
    AdmissionLimits,
    AuthSettings,
    BackendKind,
    EmbeddedSettings,
    JobSettings,
    LimitSettings,
    ModelSettings,
    ObservabilitySettings,
    RateLimitSettings,
    ServerSettings,
    Settings,
    StreamSettings,
    UrlFetchSettings,
    VLLMSettings,
    WorkSettings,
)
from voxtral_gateway.settings._networks import IPNetwork, TrustedProxies
from voxtral_gateway.settings._timeouts import RouteKind, TimeoutSettings, UpstreamTimeouts

__all__ = [
    "MIB",
    "SETTING_NAMES",
    "AdmissionLimits",
    "AuthSettings",
    "BackendKind",
    "BackendURLs",
    "EmbeddedSettings",
    "IPNetwork",
    "JobSettings",
    "LimitSettings",
    "ModelSettings",
    "ObservabilitySettings",
    "RateLimitSettings",
    "RouteKind",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "StreamSettings",
    "TimeoutSettings",
    "TrustedProxies",
    "UpstreamTimeouts",
    "UrlFetchSettings",
    "VLLMSettings",
    "WorkSettings",
    "load_settings",
]
