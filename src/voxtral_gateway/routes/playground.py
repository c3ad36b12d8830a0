"""GET /playground: a page to try the gateway in a browser (a file, the microphone, questions).

The page is static (HTML, CSS and JavaScript in the `voxtral_gateway.playground` package, no build step,
no CDN) and talks to the gateway's own public API, as any client would."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar import Controller, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File

PLAYGROUND_PATH = "/playground"
_PAGE = "index.html"
_PACKAGE = files("voxtral_gateway.playground")
# Litestar adds `; charset=utf-8` to text types.
_MEDIA_TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript"}

# The only files served: the package's pages, styles and scripts, by exact name (never a path).
PLAYGROUND_FILES: dict[str, str] = {
    entry.name: _MEDIA_TYPES[Path(entry.name).suffix]
    for entry in _PACKAGE.iterdir()
    if Path(entry.name).suffix in _MEDIA_TYPES
}

# The page handles an API key: it runs only its own scripts and styles, and talks only to this origin
# (`'self'` covers the same host's ws:// and wss://).
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; media-src 'self' blob:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# Revalidated on every load, so an upgraded gateway never runs last version's script.
_CACHE_CONTROL = CacheControlHeader(no_cache=True)


def _file(name: str) -> File:
    return File(
        path=Path(str(_PACKAGE / name)),
        media_type=PLAYGROUND_FILES[name],
        content_disposition_type="inline",
        filename=name,
        headers=_SECURITY_HEADERS,
    )


class PlaygroundController(Controller):
    path = PLAYGROUND_PATH
    include_in_schema = False

    @get("/", sync_to_thread=False, cache_control=_CACHE_CONTROL)
    def page(self) -> File:
        """The playground page (linked from /docs)."""
        return _file(_PAGE)

    @get("/{name:str}", sync_to_thread=False, cache_control=_CACHE_CONTROL)
    def asset(self, name: FromPath[str]) -> File:
        """One of the page's files, or 404 for any other name."""
        if name not in PLAYGROUND_FILES:
            raise NotFoundException(f"no such playground file: {name}")
        return _file(name)
