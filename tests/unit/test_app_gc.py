"""A worker's start-up objects are out of the cyclic collector's full passes while it serves (app.py's
lifespan): a full pass then scans only what requests made, not every module and route, while every
stream on the event loop waits."""

from __future__ import annotations

import gc

from litestar.testing import TestClient

from voxtral_gateway.app import create_app
from voxtral_gateway.settings import load_settings


def test_start_up_objects_are_frozen_while_serving_and_released_after():
    gc.unfreeze()
    app = create_app(load_settings({"RATE_LIMIT_ENABLED": "false", "BACKEND": "vllm"}))
    with TestClient(app) as client:
        assert client.get("/health/live").status_code < 500
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
