"""VOXTRAL_BACKENDS parsing and the per-route-kind upstream timeouts."""

from __future__ import annotations

import pytest

from voxtral_gateway.settings import SettingsError, load_settings
from voxtral_gateway.settings._backends import parse_backend_urls


def test_backends_are_normalised_and_select_vllm():
    settings = load_settings({"VOXTRAL_BACKENDS": " http://gpu-a:8000 ,https://gpu-b/, http://[::1]:9000"})
    assert settings.vllm.urls == ("http://gpu-a:8000", "https://gpu-b:443", "http://[::1]:9000")
    assert settings.resolved_backend == "vllm"


def test_host_and_port_remain_the_single_backend_shorthand():
    settings = load_settings({"VOXTRAL_HOST": "10.0.0.5", "VOXTRAL_PORT": "8001"})
    assert settings.vllm.urls == ("http://10.0.0.5:8001",)
    assert load_settings({}).resolved_backend == "embedded"


def test_a_toml_list_works_too():
    assert parse_backend_urls(["http://a:1", "http://b:2"]) == ["http://a:1", "http://b:2"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ftp://a:1", "not an http(s)"),
        ("http://a:1/v1", "has a path"),
        ("http://a:1,http://a:1", "listed twice"),
        ("a:8000", "not an http(s)"),
        ("http://a:99999", "invalid port"),
    ],
)
def test_bad_backends_stop_start_up_naming_the_variable(value: str, reason: str):
    with pytest.raises(SettingsError) as error:
        load_settings({"VOXTRAL_BACKENDS": value})
    assert "VOXTRAL_BACKENDS" in str(error.value) and reason in str(error.value)


def test_timeouts_fall_back_to_the_upstream_settings():
    settings = load_settings({"UPSTREAM_CONNECT_TIMEOUT_SECONDS": "3", "UPSTREAM_TIMEOUT_SECONDS": "100"})
    timeouts = settings.timeouts.transcription
    assert (timeouts.connect, timeouts.first_byte, timeouts.total) == (3, 100, 100)


def test_each_route_kind_has_its_own_timeouts():
    settings = load_settings(
        {
            "TRANSCRIPTION_CONNECT_TIMEOUT_SECONDS": "1",
            "TRANSCRIPTION_FIRST_BYTE_TIMEOUT_SECONDS": "20",
            "TRANSCRIPTION_TIMEOUT_SECONDS": "60",
            "UNDERSTANDING_FIRST_BYTE_TIMEOUT_SECONDS": "500",
            "UNDERSTANDING_TIMEOUT_SECONDS": "120",
        }
    )
    transcription = settings.timeouts.transcription
    understanding = settings.timeouts.understanding
    assert (transcription.connect, transcription.first_byte, transcription.total) == (1, 20, 60)
    # First byte never exceeds total; connect falls back.
    assert (understanding.connect, understanding.first_byte, understanding.total) == (5, 120, 120)
