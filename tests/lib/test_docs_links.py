"""The README and docs/ stand alone in a clone: every link resolves to a file (and heading) of the
repository, and nothing points outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.M)}


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    broken = []
    for target in links(doc):
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        missing = not path.is_relative_to(ROOT) or not path.exists()
        if missing or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_nothing_refers_outside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert re.findall(r"\.\./shared|literature\.md|DESIGN\.md", text) == []


SHIPPED = ("pipelines", "models", "dashboards", "notebooks", "docs", "data_contracts")


def test_no_shipped_file_cites_notes_a_clone_does_not_have() -> None:
    # the code, the catalogue, the site's templates and the notebooks cite docs/sources.md keys
    cited = [
        path.relative_to(ROOT).as_posix()
        for folder in SHIPPED
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".html", ".csv", ".md", ".yaml", ".toml", ".sql"}
        and re.search(r"\.\./shared|literature\.md", path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert cited == []
