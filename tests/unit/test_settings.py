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


def test_toml_lists_are_parsed_once_into_their_groups(tmp_path: Path):
    config = tmp_path / "gateway.toml"
    config.write_text(
        'voxtral_backends = ["http://a:1", "https://b"]\ntrusted_proxies = ["10.0.0.0/8", "::1"]\n'
        "stream_silence_seconds = 0.8\nrate_limit_batch = 3\n"
    )
    settings = load_settings({"VOXTRAL_GATEWAY_CONFIG": str(config)})
    assert settings.vllm.urls == ("http://a:1", "https://b:443")
    assert [str(n) for n in settings.rate_limits.trusted_proxies.networks] == ["10.0.0.0/8", "::1/128"]
    assert (settings.streaming.silence_seconds, settings.rate_limits.batch) == (0.8, 3)
    bad = tmp_path / "bad.toml"
    bad.write_text('trusted_proxies = ["10.0.0.0/8", "proxy.local"]\n')
    with pytest.raises(SettingsError, match=r"TRUSTED_PROXIES.*proxy\.local"):
        load_settings({"VOXTRAL_GATEWAY_CONFIG": str(bad)})


def test_every_flat_name_belongs_to_one_group():
    from voxtral_gateway.settings import SETTING_NAMES, Settings

    groups = {field: getattr(Settings(), field) for field in Settings.__struct_fields__}
    for name, group in SETTING_NAMES.items():
        if group is None:
            assert name in groups
        else:
            assert name in type(groups[group]).__struct_encode_fields__
    assert {"voxtral_host", "health_cache_seconds", "trusted_proxies", "stream_reorder_window"} <= set(
        SETTING_NAMES
    )
