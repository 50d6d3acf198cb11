"""Every source key the reviewer statistics and the method cite is in docs/sources.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CITING = (
    "pipelines/lib/stats.py",
    "pipelines/lib/marts/case_mix.py",
    "pipelines/lib/marts/reviewers.py",
    "pipelines/lib/marts/cusum.py",
    "docs/method.md",
)


def source_keys() -> set[str]:
    text = (ROOT / "docs" / "sources.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| ([a-z][a-z0-9-]+) \|", text, flags=re.M))


@pytest.mark.parametrize("path", CITING)
def test_every_cited_key_is_in_the_bibliography(path: str) -> None:
    text = re.sub(r"type: ignore\[[^]]*\]", "", (ROOT / path).read_text(encoding="utf-8"))
    cited = {
        k.strip()
        for group in re.findall(r"\[([a-z][a-z0-9-]+(?:; *[a-z][a-z0-9-]+)*)\]", text)
        for k in group.split(";")
    }
    # keys carry a year or a hyphen; an index such as [i] or [g] does not
    cited = {k for k in cited if re.search(r"[0-9-]", k)}
    assert cited, f"{path} cites nothing"
    assert cited <= source_keys(), sorted(cited - source_keys())
