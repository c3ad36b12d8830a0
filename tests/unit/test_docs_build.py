"""The documentation builds without a warning, and the README's links point at files that exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# [text](target) and ![alt](target), the target without an optional "title".
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_ID = re.compile(r"""\bid=["']([^"']+)["']""")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/ built by mkdocs with --strict: a broken link, anchor or nav entry fails the build."""
    site_dir = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "mkdocs", "build", "--strict"),
            *("--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(site_dir)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return site_dir


def test_mkdocs_builds_every_page(site: Path):
    for page in sorted((ROOT / "docs").glob("*.md")):
        built = site / "index.html" if page.stem == "index" else site / page.stem / "index.html"
        assert built.is_file(), f"{page.name} was not built"


def _relative_links(markdown: str) -> list[str]:
    without_code = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    targets = _LINK.findall(without_code)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_readme_links_point_at_existing_files_and_anchors(site: Path):
    links = _relative_links(README.read_text(encoding="utf-8"))
    assert links, "the README links into docs/"
    for link in links:
        path, _, anchor = link.partition("#")
        target = (ROOT / path).resolve()
        assert target.exists(), f"README.md links to {link}, which does not exist"
        if anchor:
            assert target.suffix == ".md" and target.parent == ROOT / "docs", link
            built = site / "index.html" if target.stem == "index" else site / target.stem / "index.html"
            ids = set(_ID.findall(built.read_text(encoding="utf-8")))
            assert anchor in ids, f"README.md links to {link}: {target.name} has no such heading"


def test_readme_is_the_front_door():
    text = README.read_text(encoding="utf-8")
    assert len(text.encode()) <= 10_000
    # The test command CI runs must be the README's, verbatim.
    ci_command = next(
        line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "scripts/bootstrap.sh" in line
    )
    assert ci_command.strip() in text
    assert "bash scripts/bootstrap.sh && .venv/bin/python run_server.py" in text
