"""`/docs` (Swagger UI) needs no internet: the page references only files the gateway serves itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from voxtral_gateway.app import create_app
from voxtral_gateway.auth import ApiKeyFile, new_key, write_keys_file
from voxtral_gateway.auth._keys import new_record
from voxtral_gateway.settings import load_settings

_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
# Media type and a lower bound on the size of each kind of asset (Swagger UI's bundle is ~1.5 MB).
_EXPECTED = {".js": ("text/javascript", 100_000), ".css": ("text/css", 50_000), ".png": ("image/png", 200)}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # No lifespan: serving the docs needs neither the backend nor the pools.
    yield TestClient(create_app(load_settings({"RATE_LIMIT_ENABLED": "false"})))


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
def test_docs_page_references_no_external_url(client: TestClient, path: str):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "SwaggerUIBundle" in html
    assert not re.search(r"https?://", html.split("spec:", 1)[0]), "the page head loads something remote"
    references = _REFERENCE.findall(html)
    assert len(references) >= 4  # css, two scripts, favicon
    for url in references:
        assert url.startswith("/docs/assets/"), url


def test_every_referenced_asset_is_served_with_its_type(client: TestClient):
    references = _REFERENCE.findall(client.get("/docs").text)
    for url in references:
        response = client.get(url)
        assert response.status_code == 200, url
        media_type, least_bytes = _EXPECTED[url[url.rindex(".") :]]
        assert response.headers["content-type"].startswith(media_type), url
        assert response.headers["content-type"].count("charset") <= 1, url
        assert "attachment" not in response.headers.get("content-disposition", "")
        assert len(response.content) > least_bytes, url
        if media_type == "image/png":
            assert response.content.startswith(b"\x89PNG"), url
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in bundle


def test_swagger_ui_renders_openapi_3_1(client: TestClient):
    # Litestar writes OpenAPI 3.1; Swagger UI before 5.0 refuses it ("does not specify a valid version").
    assert client.get("/docs/openapi.json").json()["openapi"].startswith("3.1")
    bundle = client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "OpenAPI31" in bundle or "openapi31" in bundle.lower()


@pytest.mark.parametrize("name", ["index.html", "swagger-initializer.js", "..%2F__init__.py", "nope.js"])
def test_other_files_are_not_served(client: TestClient, name: str):
    assert client.get(f"/docs/assets/{name}").status_code == 404


def test_assets_are_not_in_the_openapi_document(client: TestClient):
    paths = client.get("/docs/openapi.json").json()["paths"]
    assert not any(path.startswith("/docs") for path in paths)


def test_docs_and_their_assets_need_no_api_key(tmp_path: Path):
    keys_file = tmp_path / "api_keys.json"
    write_keys_file(keys_file, ApiKeyFile(keys=[new_record("alice", new_key())]))
    app = create_app(load_settings({"API_KEYS_FILE": str(keys_file), "RATE_LIMIT_ENABLED": "false"}))
    keyed = TestClient(app)  # no lifespan: as for `client`
    assert keyed.post("/transcribe/", json={}).status_code == 401  # keys are enforced
    page = keyed.get("/docs")
    assert page.status_code == 200
    references = _REFERENCE.findall(page.text)
    assert references
    for url in references:
        assert keyed.get(url).status_code == 200, url
