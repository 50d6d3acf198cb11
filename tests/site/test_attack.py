"""Issue 10's attack, rebuilt as a test: can arithmetic on the published site undo its suppression?

`tests/site/attacker.py` reads a built site as an outsider would and bounds every suppressed
cell with an integer program. The first tests pin the attacker itself on tiny handmade sites
whose answers are known. The slow ones build the issue's three 2,000-case programmes (seeds 1,
2 and 3) end to end, attack each site, check every range against the warehouse's true counts
(the attacker must be sound to mean anything) and then assert the promise of the methodology
page: no count from 1 to 10 can be recovered, from the downloads or across pages.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import built_once, shared_root
from tests.site.attacker import Attack, Key, Range, attack

# `make test` attacks seed 1 (the one CI once saw published differently); `make attack` attacks
# the three programmes, and SECONDLOOK_ATTACK_SEEDS="1,2,3,4,5" any others.
SEEDS = tuple(int(s) for s in os.environ.get("SECONDLOOK_ATTACK_SEEDS", "1").split(","))
# Relations every site of a programme holds; the attacker must find the tables that carry them.
CORE_RELATIONS = {
    "outcome rows",
    "outcome columns",
    "month rows",
    "month columns",
    "all-specialty months",
    "turnaround months",
    "turnaround bins",
    "flows",
    "reviewers",
    "cost cases",
    "cost verified",
    "money",
    "rates",
    "targeting",
    "data quality",
}
N_CASES = 2000
HEADER = "specialty,outcome,n,total,rate,ci_low,ci_high\n"


def _site(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def _mk(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _range(result: Attack, *key: str) -> tuple[int, int]:
    found = {r.key: r for r in result.ranges}
    return found[key].low, found[key].high


METHOD_ZERO_SHOWN = "<html><body><p>Counts from 1 to 10 read “<11”. Zero is shown.</p></body></html>"


# ---------------------------------------------------------------------------------------------
# The attacker on sites small enough to solve by hand


def test_a_single_hidden_cell_is_given_away_by_its_row_total(tmp_path: Path) -> None:
    site = _site(
        tmp_path,
        {"overview-outcome-rates.csv": HEADER + "spine,confirmed,20,27,,,\nspine,deferred,<11,27,,,\n"},
    )
    result = attack(site)
    assert _range(result, "n", "spine", "deferred") == (7, 7)
    assert [r.key for r in result.recovered()] == [("n", "spine", "deferred")]


def test_two_hidden_cells_of_a_row_share_the_remainder_and_zero_shown_lifts_the_floor(tmp_path: Path) -> None:
    rows = HEADER + "spine,confirmed,20,27,,,\nspine,deferred,<11,27,,,\nspine,non_surgical,<11,27,,,\n"
    plain = attack(_site(_mk(tmp_path / "plain"), {"overview-outcome-rates.csv": rows}))
    assert _range(plain, "n", "spine", "deferred") == (0, 7)
    shown = _site(
        _mk(tmp_path / "shown"), {"overview-outcome-rates.csv": rows, "methodology.html": METHOD_ZERO_SHOWN}
    )
    result = attack(shown)
    assert _range(result, "n", "spine", "deferred") == (1, 6)
    assert _range(result, "n", "spine", "non_surgical") == (1, 6)
    assert result.recovered() == []


def test_a_star_is_zero_or_at_least_eleven_and_at_least_eleven_once_zero_is_shown(tmp_path: Path) -> None:
    rows = HEADER + "spine,confirmed,20,35,,,\nspine,deferred,*,35,,,\nspine,non_surgical,<11,35,,,\n"
    plain = attack(_site(_mk(tmp_path / "plain"), {"overview-outcome-rates.csv": rows}))
    assert _range(plain, "n", "spine", "deferred") == (11, 15)  # 0 would leave 15 for a "<11"
    assert _range(plain, "n", "spine", "non_surgical") == (0, 4)
    shown = attack(
        _site(
            _mk(tmp_path / "shown"),
            {"overview-outcome-rates.csv": rows, "methodology.html": METHOD_ZERO_SHOWN},
        )
    )
    assert _range(shown, "n", "spine", "deferred") == (11, 14)
    assert _range(shown, "n", "spine", "non_surgical") == (1, 4)


def test_a_published_rate_gives_the_hidden_count_back(tmp_path: Path) -> None:
    rows = HEADER + (
        "spine,confirmed,20,27,0.7407407407407407,,\n"
        "spine,deferred,<11,27,0.14814814814814814,,\n"
        "spine,non_surgical,<11,27,,,\n"
    )
    result = attack(_site(tmp_path, {"overview-outcome-rates.csv": rows}))
    assert _range(result, "n", "spine", "deferred") == (4, 4)
    assert _range(result, "n", "spine", "non_surgical") == (3, 3)


def test_money_that_is_cases_times_the_fee_gives_the_cases_back(tmp_path: Path) -> None:
    cost = (
        "specialty,n_cases,gross_avoided,program_cost,net_avoided,n_verified,realized_avoided,realized_net\n"
        "urology,<11,12000.0,5250.0,6750.0,<11,,\n"
    )
    result = attack(
        _site(
            tmp_path,
            {"cost-by-specialty.csv": cost, "assumptions.csv": "setting,value\nprogram_fee_usd,750.0\n"},
        )
    )
    assert _range(result, "cost_cases", "specialty", "urology") == (7, 7)
    assert _range(result, "cost_verified", "specialty", "urology") == (0, 7)  # at most the cases
    assert "money" in result.relations


def test_a_count_hidden_in_a_download_but_printed_in_a_chart_is_recovered(tmp_path: Path) -> None:
    rows = HEADER + "spine,confirmed,20,27,,,\nspine,deferred,<11,27,,,\nspine,non_surgical,<11,27,,,\n"
    figure = {
        "data": [
            {"name": "Deferred", "x": ["Spine"], "customdata": ["14.8%<br>n = 4 of 27"], "type": "bar"},
        ],
        "layout": {"title": {"text": "Outcome mix by specialty"}},
    }
    page = f"<html><body><script>var f={json.dumps(figure)};</script></body></html>"
    files = {"overview-outcome-rates.csv": rows, "index.html": page}
    with_pages = attack(_site(tmp_path, files))
    csv_only = attack(tmp_path, pages=False)
    assert _range(with_pages, "n", "spine", "deferred") == (4, 4)
    assert _range(with_pages, "n", "spine", "non_surgical") == (3, 3)
    assert _range(csv_only, "n", "spine", "non_surgical") == (0, 7)


def test_a_page_table_is_matched_to_its_download_by_labels_not_by_row_order(tmp_path: Path) -> None:
    flows = "specialty,source,target,outcome,n\nspine,fusion,confirmed,confirmed,<11\nspine,injection,confirmed,confirmed,<11\n"
    page = (
        "<html><body><h3>Flows — Spine</h3><a href='spine-flows.csv'>Download CSV</a><table><thead><tr>"
        "<th>First recommendation</th><th>Second opinion</th><th>Outcome</th><th>Cases</th></tr></thead><tbody>"
        "<tr><td>injection</td><td>confirmed</td><td>Confirmed</td><td>3</td></tr>"
        "<tr><td>fusion</td><td>confirmed</td><td>Confirmed</td><td>&lt;11</td></tr>"
        "</tbody></table></body></html>"
    )
    result = attack(_site(tmp_path, {"spine-flows.csv": flows, "specialty-spine.html": page}))
    found = {r.key: r for r in result.ranges}
    leaked = found[("flow", "spine", "injection", "confirmed", "confirmed")]
    assert (leaked.low, leaked.high) == (3, 3)
    assert leaked.shown == ["specialty-spine.html:table 'Flows — Spine' row 1 cases"]
    assert _range(result, "flow", "spine", "fusion", "confirmed", "confirmed") == (1, 10)


def test_a_relation_the_published_cells_contradict_is_dropped_not_trusted(tmp_path: Path) -> None:
    # 20 + 9 is not 27: whatever the table means, its rows do not add up, so they prove nothing.
    rows = (
        HEADER
        + "spine,confirmed,20,27,,,\nspine,deferred,9,27,,,\nurology,confirmed,20,27,,,\nurology,deferred,<11,27,,,\n"
    )
    result = attack(_site(tmp_path, {"overview-outcome-rates.csv": rows}))
    assert result.dropped == {"outcome rows": "contradicted by cells published in full"}
    assert _range(result, "n", "urology", "deferred") == (0, 10)


# ---------------------------------------------------------------------------------------------
# The three programmes


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _truth(warehouse: Path, site: Path) -> dict[Key, int]:
    """The true count behind every key the attacker names, from the warehouse's marts."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        q = lambda sql: con.sql(sql).fetchall()  # noqa: E731
        t: dict[Key, int] = {}
        for s, o, n, total in q("select specialty, outcome, n, total from marts.outcome_rates"):
            t[("n", s, o)], t[("total", s)] = n, total
        for s, m, o, n, total in q(
            "select specialty, strftime(month, '%Y-%m'), outcome, n, total from marts.outcome_rates_monthly"
        ):
            t[("n_month", s, m, o)], t[("total_month", s, m)] = n, total
        for s, m, n in q("select specialty, strftime(month, '%Y-%m'), n from marts.turnaround"):
            t[("turn_month", s, m)] = n
        # the site merges rare bins into their neighbour (a bin is named by its upper edge)
        edges = sorted({int(r["days"]) for f in site.glob("*-turnaround-distribution.csv") for r in _rows(f)})
        for s, d, n in q("select specialty, days, n from marts.turnaround_distribution"):
            edge = next((e for e in edges if e >= d), d)
            t[("turn_bin", s, str(edge))] = t.get(("turn_bin", s, str(edge)), 0) + n
        for s, a, b, o, n in q("select specialty, source, target, outcome, n from marts.procedure_flows"):
            t[("flow", s, a, b, o)] = n
        for s, n, gap in q("select specialty, n, n_no_tier from marts.concordance"):
            t[("agreement_n", s)], t[("agreement_no_tier", s)] = n, gap
        for d, n in q("select decile, n from marts.targeting"):
            t[("decile_n", str(d))] = n
        for s, n, v, cc, cu in q(
            "select specialty, n_cases, n_verified, n_closed_cohort, unpriced_changes from marts.cost_impact"
        ):
            t[("cost_cases", "specialty", s)], t[("cost_verified", "specialty", s)] = n, v
            t[("n_closed_cohort", "specialty", s)], t[("unpriced_changes", "specialty", s)] = cc, cu
        # Segments as the site publishes them: plans under their labels (core.publication_keys), and
        # every segment of fewer than 11 cases (with any true "other") folded into "other".
        for d, g, n, v, cc, cu in q(
            """select s.dimension, case when n_cases < 11 or segment = 'other' then 'other'
                                     else coalesce(k.label, segment) end, sum(n_cases), sum(n_verified),
                      sum(n_closed_cohort), sum(unpriced_changes)
               from marts.cost_impact_segments s
               left join core.publication_keys k on s.dimension = 'plan_id' and k.dimension = 'plan'
                                                 and k.value = s.segment
               group by all"""
        ):
            t[("cost_cases", d, g)], t[("cost_verified", d, g)] = n, v
            t[("n_closed_cohort", d, g)], t[("unpriced_changes", d, g)] = cc, cu
        columns = ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate")
        for rt, st, *values in q(
            f"select record_type, status, {', '.join(columns)} from marts.data_quality_files"
        ):
            for col, v in zip(columns, values, strict=True):
                t[("dq", rt, st, col)] = v
        for (pending,) in q("select value from marts.run_summary where metric = 'pending'"):
            t[("pending",)] = int(pending)
        return t
    finally:
        con.close()


@dataclass(frozen=True)
class Programme:
    seed: int
    site: Path
    truth: dict[Key, int]
    full: Attack
    csv_only: Attack

    def small(self, result: Attack | None = None) -> list[Range]:
        """Suppressed cells whose true count is 1 to 10, as the attacker bounds them."""
        return [r for r in (result or self.full).ranges if 1 <= self.truth.get(r.key, -1) <= 10]

    def recovered(self, result: Attack | None = None) -> list[Range]:
        return [r for r in self.small(result) if r.exact]

    def figures(self) -> str:
        small = self.small()
        widths = Counter(r.width for r in small)
        narrow = min(small, key=lambda r: r.width) if small else None
        return (
            f"seed {self.seed}: {len(small)} suppressed counts of 1-10; recovered exactly "
            f"{len(self.recovered())} with pages ({len(self.recovered(self.csv_only))} from the CSVs alone); "
            f"narrowest range {narrow.high - narrow.low if narrow else '-'} "
            f"({'/'.join(narrow.key) if narrow else '-'} in [{narrow.low if narrow else ''}, "
            f"{narrow.high if narrow else ''}]); widths 0-3: {[widths.get(w, 0) for w in range(4)]}; "
            f"{self.full.solves} HiGHS solves, {self.full.seconds:.1f} s"
        )


@pytest.fixture(scope="session", params=SEEDS, ids=lambda seed: f"seed{seed}")
def programmes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> dict[int, Programme]:
    """One programme per parameter (so the seeds spread over the xdist workers), built once per
    session under a lock whichever worker asks first, then attacked."""
    from pipelines.cli.run import run_pipeline
    from pipelines.generate import generate

    seed = request.param
    root = shared_root(tmp_path_factory, worker_id) / "attack-programmes" / f"seed{seed}"
    landing, warehouse, site = root / "landing", root / "warehouse.duckdb", root / "site"

    def build() -> str:
        generate(N_CASES, seed, landing)
        outcome = run_pipeline(landing, warehouse, site, progress=False)
        assert outcome.failed_steps == [], outcome.summary
        return outcome.run_id

    built_once(root / "built.json", build)
    p = Programme(
        seed, site, _truth(warehouse, site), attack(site), attack(site, pages=False, exact_only=True)
    )
    print(p.figures())
    return {seed: p}


@pytest.mark.slow
def test_the_attacker_reads_every_suppressed_cell_of_the_downloads(programmes: dict[int, Programme]) -> None:
    for p in programmes.values():
        seen = {w for r in p.full.ranges for w in r.where}
        missed = []
        for path in sorted(p.site.glob("*.csv")):
            with path.open(encoding="utf-8-sig", newline="") as handle:
                for i, row in enumerate(csv.DictReader(handle)):
                    for col, value in row.items():
                        # a count's marker is in the column beside it: "n_marker" marks "n"
                        where = f"{path.name}:{i + 2}:{col.removesuffix('_marker')}"
                        if value in {"<11", "*"} and where not in seen:
                            missed.append(where)
        assert missed == [], f"seed {p.seed}: cells the attacker did not read: {missed[:10]}"
        assert (
            sum(1 for r in p.full.ranges if r.marker == "<11") > 100
        )  # hundreds of small cells are published
        # A renamed download must not leave the attack without its relations (and pass for nothing).
        # Breakdowns of a count below 11 (small flows, the months of a small outcome) are not published
        # at all, so the families that sum a breakdown to its total are incomplete: the attacker rightly
        # drops them rather than trust a sum with parts missing.
        collapsed = {"flows", "month columns"}
        missing = sorted(CORE_RELATIONS - collapsed - {f for f, n in p.full.relations.items() if n})
        assert missing == [], f"seed {p.seed}: relation families the attacker could not build: {missing}"


@pytest.mark.slow
def test_every_range_the_attacker_proves_holds_the_true_count(programmes: dict[int, Programme]) -> None:
    """An attacker that assumed something false would 'recover' wrong values: it must be sound."""
    for p in programmes.values():
        unknown = [
            r.key for r in p.full.ranges + p.csv_only.ranges if r.key not in p.truth and r.key[0] != "cell"
        ]
        assert unknown == [], f"seed {p.seed}: keys with no true count in the warehouse: {unknown[:5]}"
        wrong = [
            f"{'/'.join(r.key)}: [{r.low}, {r.high}] but {p.truth[r.key]} ({r.where[0]})"
            for r in p.full.ranges + p.csv_only.ranges
            if r.key in p.truth and not r.low <= p.truth[r.key] <= r.high
        ]
        assert wrong == [], f"seed {p.seed}: unsound ranges: {wrong[:10]}"


@pytest.mark.slow
def test_no_suppressed_count_from_1_to_10_is_recovered(programmes: dict[int, Programme]) -> None:
    """The methodology's promise: a count read "<11" (or hidden otherwise) cannot be derived."""
    report = "\n".join(p.figures() for p in programmes.values())
    examples = [
        f"seed {p.seed}: {'/'.join(r.key)} = {r.low} ({', '.join(r.where[:2])})"
        for p in programmes.values()
        for r in p.recovered()[:5]
    ]
    recovered = {p.seed: len(p.recovered()) for p in programmes.values()}
    assert recovered == dict.fromkeys(programmes, 0), f"cells recovered exactly:\n{report}\n" + "\n".join(
        examples
    )


@pytest.mark.slow
def test_no_count_hidden_in_one_place_is_shown_or_derivable_in_another(
    programmes: dict[int, Programme],
) -> None:
    """Across pages: a count hidden in a download must not be printed, or made derivable, by a page."""
    for p in programmes.values():
        shown = [
            f"{'/'.join(r.key)} = {r.low}: hidden at {r.where[0]}, shown at {r.shown[0]}"
            for r in p.small()
            if r.shown
        ]
        assert shown == [], f"seed {p.seed}: published in one place, hidden in another: {shown[:10]}"
        csv_only = {r.key for r in p.recovered(p.csv_only)}
        by_pages = [
            f"{'/'.join(r.key)} = {r.low} ({r.where[0]})" for r in p.recovered() if r.key not in csv_only
        ]
        assert by_pages == [], (
            f"seed {p.seed}: {len(by_pages)} counts recovered only with the pages' charts, tables and cards: {by_pages[:5]}"
        )
