"""Swagger UI served from the installed package, so `/docs` works without internet access.

Litestar's `SwaggerRenderPlugin` loads Swagger UI's JavaScript, CSS and favicon from a CDN by default;
an air-gapped deployment then shows a blank page. The files come from the `swagger-ui-bundle-v2`
package (Swagger UI's own dist files) and are served under `<docs path>/assets/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from swagger_ui_bundle import swagger_ui_path

ASSETS_SUBPATH = "/assets"

# The only files the page needs; nothing else in the package directory is served.
SWAGGER_UI_ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}

# The files change only when the package does; a day keeps upgrades visible soon enough.
_CACHE_CONTROL = CacheControlHeader(public=True, max_age=86400)


@get(
    f"{ASSETS_SUBPATH}/{{name:str}}",
    include_in_schema=False,
    cache_control=_CACHE_CONTROL,
    sync_to_thread=False,
)
def swagger_ui_asset(name: FromPath[str]) -> File:
    """One of Swagger UI's files, or 404 for any other name."""
    media_type = SWAGGER_UI_ASSETS.get(name)
    if media_type is None:
        raise NotFoundException(f"no such documentation asset: {name}")
    return File(
        path=Path(str(swagger_ui_path)) / name,
        media_type=media_type,
        content_disposition_type="inline",
        filename=name,
    )


class OfflineSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Swagger UI whose page points at the assets served beside it, and registers their route."""

    def __init__(self, *, docs_path: str, path: str = "/", **kwargs: Any) -> None:
        """`docs_path` is `OpenAPIConfig.path` (e.g. `/docs`); the page is served at `path` under it."""
        assets = f"{docs_path.rstrip('/')}{ASSETS_SUBPATH}"
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
            path=path,
            **kwargs,
        )

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(swagger_ui_asset)
