from pathlib import Path

import pytest

from voxtral_gateway.settings import SettingsError, load_settings


def test_defaults_are_the_seeds():
    settings = load_settings({})
    assert (settings.server.host, settings.server.port, settings.observability.debug) == (
        "0.0.0.0",
        8080,
        False,
    )
    assert (settings.vllm.host, settings.vllm.port) == (None, 8000)
    assert settings.rate_limits.requests == 100
    assert settings.limits.max_file_size_mb == 100
    assert settings.limits.max_audio_duration_seconds == 1800
    assert settings.resolved_backend == "embedded"


def test_voxtral_host_selects_vllm_unless_backend_is_explicit():
    assert load_settings({"VOXTRAL_HOST": "gpu-box"}).resolved_backend == "vllm"
    assert load_settings({"VOXTRAL_HOST": "gpu-box", "BACKEND": "embedded"}).resolved_backend == "embedded"
    settings = load_settings({"VOXTRAL_HOST": "gpu-box", "VOXTRAL_PORT": "9000"})
    assert settings.vllm.base_url == "http://gpu-box:9000"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DEBUG", "maybe"),
        ("BACKEND", "gpu"),
        ("MAX_FILE_SIZE_MB", "-1"),
    ],
)
def test_bad_values_name_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_toml_file_is_read_and_environment_wins(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text('port = 9001\nvoxtral_model = "my-model"\n')
    settings = load_settings({"VOXTRAL_GATEWAY_CONFIG": str(config), "PORT": "9002"})
    assert settings.server.port == 9002
    assert settings.vllm.model == "my-model"


def test_unknown_toml_keys_are_refused(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings({"VOXTRAL_GATEWAY_CONFIG": str(config)})
