import pytest

from voxtral_gateway.ratelimit import is_open_path, normalize_path, tier_of


@pytest.mark.parametrize(
    ("path", "tier"),
    [
        ("/transcribe/", "transcription"),
        ("/transcribe", "transcription"),
        ("//transcribe//", "transcription"),
        ("/v1/audio/transcriptions", "transcription"),
        ("/v1/audio/transcriptions/", "transcription"),
        ("/stream/transcribe", "transcription"),
        ("/understand/", "understanding"),
        ("/v1/chat/completions", "understanding"),
        ("/transcribe/batch", "batch"),
        ("/transcribe/batch/", "batch"),
        ("/v1/models", "general"),
        ("/anything/else", "general"),
        ("/", "general"),
        ("/healthz", "general"),
        ("/docsx", "general"),
        ("/health/", None),
        ("/health", None),
        ("/docs", None),
        ("/docs/", None),
        ("/docs/openapi.json", None),
        ("/metrics", None),
    ],
)
def test_each_path_has_its_tier_and_monitors_are_open(path, tier):
    assert tier_of(path) == tier
    assert is_open_path(path) == (tier is None)


@pytest.mark.parametrize(
    ("raw", "normalized"), [("/", "/"), ("/a/", "/a"), ("/a//b///", "/a/b"), ("//", "/"), ("/a", "/a")]
)
def test_paths_are_normalized_like_the_router(raw, normalized):
    assert normalize_path(raw) == normalized
