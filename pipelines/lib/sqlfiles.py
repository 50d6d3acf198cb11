"""Static SQL kept in `.sql` files beside the module that runs it, read once and bound by name.

A file holds one query, or several each headed by a `-- name: <query>` line. Queries take DuckDB
named parameters (`$name`); `bind` passes only the ones a query uses, since DuckDB refuses a
parameter the statement does not name.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_HEADER = re.compile(r"^-- name: *(\w+) *$", re.M)


@cache
def queries(path: Path) -> dict[str, str]:
    """Every query of a file by name; a file without headers is one query named after the file."""
    text = path.read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    if len(parts) == 1:
        return {path.stem: text.strip()}
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def bind(sql: str, params: dict[str, object]) -> dict[str, object]:
    """The parameters `sql` names, out of `params`."""
    used = set(re.findall(r"\$(\w+)", re.sub(r"--[^\n]*", "", sql)))
    missing = used - set(params)
    if missing:
        raise KeyError(f"SQL parameter(s) not given: {', '.join(sorted(missing))}")
    return {k: v for k, v in params.items() if k in used}
