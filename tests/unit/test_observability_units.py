"""Request ids, log redaction, and the multiprocess metrics directory."""

from __future__ import annotations

import os

import pytest

from voxtral_gateway.observability.multiprocess_dir import MULTIPROC_DIR_VARIABLE, metrics_directory
from voxtral_gateway.observability.redaction import REDACTED, redact_event, scrub_text
from voxtral_gateway.observability.request_id import request_id_from


def scope_with(value: bytes | None) -> dict:
    headers = [(b"host", b"x")] + ([(b"x-request-id", value)] if value is not None else [])
    return {"type": "http", "headers": headers}


@pytest.mark.parametrize(
    "sent",
    [b"abc-123", b"0f8fad5b-d9cb-469f-a165-70867728950e", b"01ARZ3NDEKTSV4RRFFQ69G5FAV", b"req:42/a+b=c@d.e"],
)
def test_a_sane_request_id_is_kept(sent: bytes):
    assert request_id_from(scope_with(sent)) == sent.decode()


@pytest.mark.parametrize(
    "sent", [None, b"", b"has spaces", b"x" * 129, b"new\nline", b"<script>", b"-leading-dash"]
)
def test_anything_else_gets_a_fresh_id(sent: bytes | None):
    generated = request_id_from(scope_with(sent))
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert request_id_from(scope_with(sent)) != generated


def test_scrub_removes_tokens_keys_and_base64():
    audio = "UklGRiQAAABXQVZF" * 40  # base64 of a WAV, 640 characters
    text = (
        f"Authorization: Bearer sk-upstream-secret-123 key vxg_AbCdEfGhIjKlMnOpQrStUv "
        f"url /stream/transcribe?api_key=vxg_x1y2z3w4v5u6 body {audio}"
    )
    scrubbed = scrub_text(text)
    for secret in ("sk-upstream-secret-123", "vxg_AbCdEfGhIjKlMnOpQrStUv", "x1y2z3w4v5u6", audio[:100]):
        assert secret not in scrubbed
    assert "Bearer [redacted]" in scrubbed
    assert "640 base64 characters removed" in scrubbed


def test_scrub_cuts_very_long_text():
    assert len(scrub_text("word " * 5000)) < 4100


def test_redact_event_drops_sensitive_fields_and_bytes():
    event = {"event": "x", "authorization": "Bearer abc", "API-Key": "k", "audio": b"\x00" * 10, "n": 3}
    out = redact_event(None, "info", event)
    assert out["authorization"] == REDACTED and out["API-Key"] == REDACTED
    assert out["audio"] == "<10 bytes>" and out["n"] == 3


def test_metrics_directory_is_created_set_and_removed(monkeypatch):
    monkeypatch.delenv(MULTIPROC_DIR_VARIABLE, raising=False)
    with metrics_directory() as path:
        assert os.environ[MULTIPROC_DIR_VARIABLE] == str(path) and path.is_dir()
        (path / "counter_1.db").write_bytes(b"x")
    assert not path.exists()
    assert MULTIPROC_DIR_VARIABLE not in os.environ


def test_an_operators_metrics_directory_is_emptied_and_kept(monkeypatch, tmp_path):
    (tmp_path / "counter_99.db").write_bytes(b"stale")
    (tmp_path / "notes.txt").write_text("kept")
    monkeypatch.setenv(MULTIPROC_DIR_VARIABLE, str(tmp_path))
    with metrics_directory() as path:
        assert path == tmp_path and not list(path.glob("*.db"))
    assert (tmp_path / "notes.txt").exists()
