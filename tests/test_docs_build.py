"""The documentation site builds with warnings as errors, and README's links resolve.

The site is MkDocs (Material theme) over `docs/`; `mkdocs.yml` sets `strict: true` and turns
every link, anchor and nav problem into a warning, so a broken page fails this test and CI.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")

needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs-material is not installed (pip install -e '.[docs]')")


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of one config into `site`, output captured."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent, env=env, capture_output=True, text=True, timeout=240)


@needs_mkdocs
def test_docs_build_strict_without_warnings(tmp_path):
    result = build(ROOT / "mkdocs.yml", tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    for page in sorted(DOCS.glob("*.md")):
        built = "index.html" if page.stem == "index" else f"{page.stem}/index.html"
        assert (tmp_path / "site" / built).is_file(), f"{page.name} was not built"


@needs_mkdocs
def test_a_broken_link_fails_the_strict_build(tmp_path):
    """The strict settings really bite: a missing page or anchor is an error."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    with open(tmp_path / "docs" / "index.md", "a") as page:
        page.write("\nSee [a page that is not there](no-such-page.md) and\n"
                   "[a section that is not there](environment.md#no-such-section).\n")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stdout + result.stderr
    assert "#no-such-section" in result.stdout + result.stderr


def test_every_docs_page_is_in_the_nav():
    nav = set(re.findall(r":\s*([\w./-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages == nav


def test_every_relative_link_in_the_readme_resolves():
    links = LINK.findall(README.read_text())
    relative = [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:|#", link)]
    assert len(relative) >= 10  # the map of the docs
    for link in relative:
        target = (ROOT / link.split("#")[0]).resolve()
        assert target.exists(), f"README.md links to {link}, which does not exist"
        assert ROOT in target.parents, f"README.md links outside the repository: {link}"


def test_the_docs_home_repeats_the_quickstart_commands():
    """docs/index.md shows README's two Quickstart commands; `.ci/run` runs the second."""
    readme = README.read_text()
    quickstart = readme[readme.index("## Quickstart"):readme.index("\n## ", readme.index(
        "## Quickstart") + 1)]
    commands = re.findall(r"```bash\n\s*(.*?)\n\s*```", quickstart)
    assert len(commands) == 2
    index = (DOCS / "index.md").read_text()
    for command in commands:
        assert command in index
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()
