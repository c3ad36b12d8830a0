import pytest

from voxtral_gateway.ratelimit import AccessControl
from voxtral_gateway.settings import SettingsError, load_settings


def access_control(environment: dict[str, str]) -> AccessControl:
    settings = load_settings(environment)
    return AccessControl.from_settings(settings.rate_limits, settings.auth)


def test_tier_defaults_are_the_seeds():
    settings = load_settings({})
    limits = AccessControl.from_settings(settings.rate_limits, settings.auth).limits
    assert (limits.general, limits.transcription, limits.understanding, limits.batch) == (100, 50, 20, 10)
    assert settings.rate_limits.window_seconds == 60
    assert settings.rate_limits.fail_open and settings.rate_limits.enabled
    assert settings.rate_limits.redis_url is None


@pytest.mark.parametrize(
    ("environment", "general"),
    [
        ({"RATE_LIMIT_REQUESTS": "7"}, 7),  # the seed's name still works
        ({"RATE_LIMIT_GENERAL": "9"}, 9),
        ({"RATE_LIMIT_REQUESTS": "7", "RATE_LIMIT_GENERAL": "9"}, 9),  # the tier's own name wins
    ],
)
def test_general_tier_alias(environment, general):
    assert load_settings(environment).rate_limits.general_limit == general


def test_limits_off_and_no_keys_leave_the_middleware_out():
    assert not access_control({"RATE_LIMIT_ENABLED": "false"}).active
    assert access_control({}).limiter is not None


def test_trusted_proxies_from_the_environment_and_bad_ones_named():
    settings = load_settings({"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1,::1"})
    assert (
        AccessControl.from_settings(settings.rate_limits, settings.auth).addresses.resolve(
            "10.1.1.1", ["198.51.100.1"]
        )
        == "198.51.100.1"
    )
    with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
        load_settings({"TRUSTED_PROXIES": "10.0.0.0/8,gateway.local"})


@pytest.mark.parametrize(
    "variable", ["RATE_LIMIT_TRANSCRIPTION", "RATE_LIMIT_WINDOW_SECONDS", "MAX_STREAMS_PER_IDENTITY"]
)
def test_bad_limits_name_the_variable(variable):
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: "0"})


def test_an_explicit_keys_file_must_exist(tmp_path):
    from voxtral_gateway.auth import KeysFileError

    with pytest.raises(KeysFileError, match="missing"):
        access_control({"API_KEYS_FILE": str(tmp_path / "missing.json")})
