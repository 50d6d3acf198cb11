"""The static site as files: every page, every link, no external source, suppressed downloads."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

from dashboards.site import PLOTLY_JS, build_site
from tests.mart_fixtures import make_marts, make_run_info

EXPECTED_PAGES = [
    "index.html",  # then the specialties in the contract's order (data_contracts/cases.yaml)
    "specialty-cardiology.html",
    "specialty-spine.html",
    "specialty-orthopedics.html",
    "specialty-gynecology.html",
    "specialty-urology.html",
    "cost.html",
    "data-quality.html",
    "methodology.html",
]
# Columns of the downloads that hold counts of cases or case records (not deciles, tiers, days or files).
COUNT_COLUMNS = {
    "n",
    "total",
    "n_cases",
    "n_verified",
    "n_rows",
    "rows_read",
    "rows_loaded",
    "rows_quarantined",
    "rows_duplicate",
}


class _Refs(HTMLParser):
    """Collects every src/href of a page and the ids of its plot containers."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.plots: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attr in ("src", "href"):
            if values.get(attr):
                self.refs.append((tag, attr, values[attr] or ""))
        if "plot" in (values.get("class") or "").split():
            self.plots.append(values.get("id") or "")


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="session")
def built(fixture_site: tuple[Path, list[Path]]) -> tuple[Path, list[Path]]:
    return fixture_site


def test_every_page_is_written_and_returned_overview_first(built) -> None:
    out, pages = built
    assert [p.name for p in pages] == EXPECTED_PAGES
    assert all(p.parent == out and p.stat().st_size > 1000 for p in pages)


def test_every_link_and_source_is_relative_and_resolves_to_a_file(built) -> None:
    out, pages = built
    for page in pages:
        for tag, attr, ref in _parse(page).refs:
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.I), (
                f"{page.name}: {tag} {attr}={ref} is not relative"
            )
            assert not ref.startswith("/"), f"{page.name}: absolute path {ref}"
            target = ref.split("#")[0]
            if target:
                assert (out / target).is_file(), f"{page.name}: {ref} does not resolve"


def test_no_page_loads_anything_from_the_network(built) -> None:
    _, pages = built
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I), page.name
        assert "cdn.plot.ly" not in html and "@import" not in html


def test_plotly_js_is_shipped_once_and_referenced_by_every_page(built) -> None:
    out, pages = built
    assert (out / PLOTLY_JS).stat().st_size > 1_000_000
    # plotly.js once, and the site's own few lines (show-all, open before printing)
    assert sorted(p.name for p in out.glob("*.js")) == [PLOTLY_JS, "site.js"]
    assert (out / "site.js").stat().st_size < 4_000
    for page in pages:
        scripts = [ref for tag, attr, ref in _parse(page).refs if tag == "script"]
        assert scripts == [PLOTLY_JS, "site.js"], page.name
        assert page.stat().st_size < 1_000_000  # the library is not inlined


def test_a_specialty_whose_count_is_suppressed_gets_a_page_that_says_so(built) -> None:
    out, _ = built
    for name in ("specialty-urology.html", "specialty-gynecology.html"):  # 8 cases; its complement
        html = (out / name).read_text(encoding="utf-8")
        assert "the number of reviewed cases is suppressed" in html
        assert 'class="plot' not in html and ".csv" not in html


def test_every_page_has_the_navigation_and_says_that_it_suppresses(built) -> None:
    _, pages = built
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "Small cells are suppressed" in html and "&lt;11" in html
        nav = re.findall(r'<nav aria-label="Pages">(.*?)</nav>', html, re.S)[0]
        assert re.findall(r'href="([^"]+)"', nav) == EXPECTED_PAGES
        assert f'href="{page.name}" aria-current="page"' in nav


def read_download(path: Path) -> pl.DataFrame:
    """A download as text, each count column read as the page shows it: its marker ("<11", "*")
    where the `<column>_marker` beside it is set, else its number; without the run id and period."""
    frame = pl.read_csv(path, infer_schema=False)
    markers = [
        c for c in frame.columns if c.endswith("_marker") and c.removesuffix("_marker") in frame.columns
    ]
    return frame.with_columns(
        pl.when(pl.col(m).fill_null("") != "")
        .then(pl.col(m))
        .otherwise(pl.col(m.removesuffix("_marker")))
        .alias(m.removesuffix("_marker"))
        for m in markers
    ).drop(*markers, *({"run_id", "period"} & set(frame.columns)))


def test_downloads_carry_numbers_with_a_marker_column_the_run_id_and_the_period(built) -> None:
    out, _ = built
    raw = pl.read_csv(out / "overview-outcome-rates.csv")
    assert raw.columns[:2] == ["run_id", "period"]
    assert raw["run_id"].unique().to_list() == [make_run_info(make_marts())["run_id"]]
    assert raw["period"].unique().to_list() == ["all time"]
    # the count is a number a spreadsheet can add up; what is hidden is empty, and says why beside it
    assert raw.schema["n"] == pl.Int64 and "n_marker" in raw.columns
    hidden = raw.filter(pl.col("n").is_null())
    assert hidden.height > 0 and set(hidden["n_marker"].to_list()) <= {"<11", "*"}
    assert raw.filter(pl.col("n").is_not_null())["n_marker"].fill_null("").eq("").all()
    assert {"<11", "*"} <= set(raw["n_marker"].drop_nulls().to_list())


def test_every_table_links_its_csv_and_each_csv_holds_no_count_from_1_to_10(built) -> None:
    out, pages = built
    csvs = sorted({ref for p in pages for tag, attr, ref in _parse(p).refs if ref.endswith(".csv")})
    assert len(csvs) >= 30
    assert {p.name for p in out.glob("*.csv")} == set(csvs)
    checked = 0
    for name in csvs:
        frame = read_download(out / name)
        for col in COUNT_COLUMNS & set(frame.columns):
            values = frame[col].drop_nulls()
            numeric = values.filter(values.str.contains(r"^\d+$")).cast(pl.Int64)
            small = numeric.filter((numeric >= 1) & (numeric <= 10))
            assert small.is_empty(), f"{name}.{col} shows {small.to_list()}"
            assert values.filter(~values.str.contains(r"^(\d+|<11|\*)$")).is_empty(), f"{name}.{col}"
            checked += 1
    assert checked >= 40


def test_downloads_mark_suppressed_cells_and_hide_their_rates(built) -> None:
    out, _ = built
    rates = read_download(out / "overview-outcome-rates.csv")
    primary = rates.filter(pl.col("n") == "<11")
    assert primary.height > 0 and primary["rate"].is_null().all() and primary["ci_low"].is_null().all()
    # every specialty row with a primary cell hides a second one: the row total cannot give it back
    hidden = rates.filter(pl.col("n").is_in(["<11", "*"])).group_by("specialty").len()
    assert hidden.filter(pl.col("len") == 1).is_empty()
    # urology has 8 cases: a breakdown of a count below 11 could only print "<11" and would bound the
    # total from below, so its outcome rows are not published at all; the page names it instead
    assert rates.filter(pl.col("specialty") == "urology").is_empty()
    assert "Urology" in (out / "index.html").read_text(encoding="utf-8")


def test_no_case_level_row_is_published(tmp_path: Path) -> None:
    marts = make_marts()
    # a case-level mart handed over by mistake must not reach any page or download
    marts["review_queue"] = pl.DataFrame(
        {
            "case_id": ["CASE-SECRET-1"],
            "specialty": ["spine"],
            "opinion_id": ["OP-SECRET-1"],
            "predicted_outcome": ["confirmed"],
            "confidence": [0.4],
            "reason": ["low_confidence"],
        }
    )
    build_site(marts, tmp_path, make_run_info(marts))
    for path in [*tmp_path.glob("*.csv"), *tmp_path.glob("*.html")]:
        text = path.read_text(encoding="utf-8")
        assert "SECRET" not in text, path.name
    for path in tmp_path.glob("*.csv"):
        assert not {"case_id", "patient_key", "opinion_id", "n_changed"} & set(
            pl.read_csv(path, n_rows=0).columns
        )


def test_every_chart_container_has_its_plot_script(built) -> None:
    _, pages = built
    total = 0
    for page in pages:
        html = page.read_text(encoding="utf-8")
        plots = _parse(page).plots
        total += len(plots)
        for div_id in plots:
            assert f'Plotly.newPlot("{div_id}"' in html, f"{page.name}: {div_id} never drawn"
    assert total >= 28  # overview 3, three published specialties x 6, cost 5, data quality 3


def test_methodology_states_rules_intervals_and_limits_with_sources(built) -> None:
    out, _ = built
    text = (out / "methodology.html").read_text(encoding="utf-8")
    for phrase in (
        "Brown, Cai &amp; DasGupta",
        "Spiegelhalter",
        "Landis &amp; Koch",
        "bootstrap",
        "61.2%",
        "Selection bias",
        "No counterfactual",
        "Deferral is not avoidance",
        "Adherence is unknown",
        "ResDAC",
        "$750 per review",
        "12 months",
        "Reference procedure prices",
        "DerSimonian &amp; Laird",
        "additive widening rather than multiplying",
        "Steiner et al.",
        "in-control average run",
        "linearly weighted κ",
        "Both leave out the same cases",
    ):
        assert phrase in text, phrase
    assert "$cusum" not in text  # every template value substituted
    assert text.count("<li>") >= 6 + 8  # the six outcome rules and the limits


def test_missing_or_empty_marts_give_pages_that_say_so(tmp_path: Path) -> None:
    marts = make_marts()
    partial = {"outcome_rates": marts["outcome_rates"], "cost_impact": marts["cost_impact"].clear()}
    pages = build_site(partial, tmp_path, {"run_id": "r1"})
    assert [p.name for p in pages] == EXPECTED_PAGES  # specialties come from outcome_rates alone
    cost = (tmp_path / "cost.html").read_text(encoding="utf-8")
    assert "Cost impact (marts.cost_impact) is not available in this run" in cost
    quality = (tmp_path / "data-quality.html").read_text(encoding="utf-8")
    assert "marts.data_quality_files" in quality
    nothing = build_site({}, tmp_path / "empty", {})
    assert [p.name for p in nothing] == ["index.html", "cost.html", "data-quality.html", "methodology.html"]
    assert "No specialty has data in this run" in nothing[0].read_text(encoding="utf-8")


def test_threshold_parameter_changes_what_is_suppressed(tmp_path: Path) -> None:
    marts = make_marts()
    build_site(marts, tmp_path, make_run_info(marts), threshold=5)
    rates = read_download(tmp_path / "overview-outcome-rates.csv")
    assert "<5" in rates["n"].to_list() and "<11" not in rates["n"].to_list()
    assert "Counts from 1 to 4 are shown as" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_run_information_is_on_every_page(built) -> None:
    _, pages = built
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "run-20260105-0001" in html and "data up to 2025-12-31" in html


@pytest.mark.slow
def test_site_for_a_million_case_programme_has_small_pages(tmp_path: Path) -> None:
    # how long it takes is `make bench`'s to say (stage "site"), not a test's
    from tests.mart_fixtures import large_marts

    marts = large_marts(1_000_000)  # 5,000 reviewers, 2,000 plans
    assert marts["reviewer_variation"].height > 4000 and marts["cost_impact_segments"].height > 2000
    pages = build_site(marts, tmp_path, make_run_info(marts))
    sizes = {p.name: p.stat().st_size for p in tmp_path.glob("*") if p.name != PLOTLY_JS}
    assert max(sizes.values()) < 5_000_000, sizes
    assert len(pages) == 3 + 7 + 1


# --- a reader's attack on a built site: counts derivable from what is published ----------------


def _figure_specs(html: str) -> list[dict]:
    return [json.loads(spec) for spec in re.findall(r"\(function\(\)\{var f=(.*?);Plotly\.newPlot\(", html)]


def _small(value: float | None, threshold: int = 11) -> bool:
    return value is not None and 1 <= round(value) < threshold


def derivable_small_counts(site: Path) -> list[str]:
    """What a reader could work out from the pages and downloads alone, as a list of leaks.

    Checks the ways around the "<11" cells that tables alone do not show: n times a rate
    (funnel points), the denominator of a full-precision rate whose n is hidden (specialty rate,
    raw agreement), and counts drawn in figures (hover text, Sankey links, histogram bars).
    """
    leaks: list[str] = []
    hidden_outcomes: set[str] = set()
    for path in site.glob("*-outcomes.csv"):
        rates = read_download(path)
        hidden_outcomes |= set(rates.filter(pl.col("n").is_in(["<11", "*"]))["specialty"].to_list())
    for path in site.glob("*-reviewers.csv"):
        rv = read_download(path).with_columns(
            pl.col("n").cast(pl.Int64), pl.col("change_rate", "specialty_rate").cast(pl.Float64)
        )
        changed = (rv["n"] * rv["change_rate"]).round(0)
        for rid, n, c in zip(rv["reviewer_id"], rv["n"], changed, strict=True):
            if _small(c) or _small(n - c):
                leaks.append(f"{path.name}: {rid} n={n} implies {c:.0f} changed / {n - c:.0f} confirmed")
        if {"o_e", "expected"} <= set(rv.columns):  # O = O/E x E, the case-mix view of the same count
            observed = (rv["o_e"].cast(pl.Float64) * rv["expected"].cast(pl.Float64)).round(0)
            for rid, n, o in zip(rv["reviewer_id"], rv["n"], observed, strict=True):
                if o is None:  # the pooled "other" row shows no E
                    continue
                if _small(o) or _small(n - o):
                    leaks.append(f"{path.name}: {rid} O/E x E implies {o:.0f} changed")
        units = rv.filter(pl.col("specialty_rate").is_not_null() & (pl.col("reviewer_id") != "other"))
        if units.height and units["specialty"][0] in hidden_outcomes:
            # the funnel's units: the reviewers shown, never the pooled "other" row
            shown = float((units["n"] * units["change_rate"]).sum()) / int(units["n"].sum())
            if abs(float(units["specialty_rate"][0]) - shown) > 1e-9:
                leaks.append(f"{path.name}: specialty_rate is not the rate of the reviewers shown")
    for path in site.glob("*-agreement.csv"):
        conc = read_download(path)
        exposed = conc.filter(pl.col("n").is_in(["<11", "*"]) & pl.col("raw_agreement").is_not_null())
        leaks += [f"{path.name}: raw agreement beside a hidden n ({s})" for s in exposed["specialty"]]
    for page in site.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        for spec in _figure_specs(html):
            for trace in spec.get("data", []):
                texts = [
                    str(t)
                    for t in (trace.get("customdata") or []) + (trace.get("text") or [])
                    if isinstance(t, str)
                ]
                for text in texts:
                    for n in re.findall(r"\bn = (\d[\d,]*)", text):
                        if _small(int(n.replace(",", ""))):
                            leaks.append(f"{page.name}: hover shows n = {n}")
                values = (trace.get("link") or {}).get("value", []) if trace.get("type") == "sankey" else []
                if trace.get("type") == "bar" and trace.get("name") == "Cases":
                    values = trace.get("y") or []
                leaks += [f"{page.name}: {trace.get('type')} draws {v}" for v in values if _small(v)]
    return leaks


def test_a_reader_cannot_derive_a_count_from_1_to_10_from_the_built_site(built) -> None:
    out, _ = built
    assert (out / "specialty-cardiology.html").exists() and list(out.glob("*-reviewers.csv"))
    assert derivable_small_counts(out) == []


def test_the_scan_catches_each_way_a_count_could_be_derived(tmp_path: Path) -> None:
    pl.DataFrame(
        {"specialty": ["s", "s"], "outcome": ["confirmed", "unclassified"], "n": ["40", "<11"]}
    ).write_csv(tmp_path / "s-outcomes.csv")
    pl.DataFrame(
        {
            "reviewer_id": ["a", "b"],
            "specialty": ["s", "s"],
            "n": ["40", "30"],
            "change_rate": [3 / 40, 0.5],
            "specialty_rate": [18 / 73, 18 / 73],
            "expected": [4.0, 12.0],
            "o_e": [0.75, 1.25],  # b: 1.25 x 12 = 15 changed, 15 confirmed; a: 3 again
        }
    ).write_csv(tmp_path / "s-reviewers.csv")
    pl.DataFrame({"specialty": ["s"], "n": ["*"], "raw_agreement": [103 / 126]}).write_csv(
        tmp_path / "s-agreement.csv"
    )
    fig = {
        "data": [
            {"type": "sankey", "link": {"value": [40, 7]}},
            {"type": "bar", "name": "Cases", "y": [3, 50]},
            {"type": "bar", "customdata": ["12.0%<br>n = 9 of 75"]},
        ]
    }
    (tmp_path / "p.html").write_text(
        f'<script>(function(){{var f={json.dumps(fig)};Plotly.newPlot("x",f.data,f.layout,{{}});}})();</script>'
    )
    leaks = derivable_small_counts(tmp_path)
    assert len(leaks) == 7, leaks
    assert any("implies 3 changed" in leak for leak in leaks)
    assert any("O/E x E implies 3 changed" in leak for leak in leaks)
    assert any("specialty_rate" in leak for leak in leaks) and any("raw agreement" in leak for leak in leaks)
    assert any("sankey draws 7" in leak for leak in leaks) and any("bar draws 3" in leak for leak in leaks)
    assert any("n = 9" in leak for leak in leaks)


def test_a_csv_cell_that_a_spreadsheet_would_run_as_a_formula_is_written_as_text(tmp_path: Path) -> None:
    from dashboards.tables import Table, write_csv

    values = ['=HYPERLINK("https://evil.example","x")', "@SUM(A1)", "+1+2", "-1,234", "+0.5", "-12.5%", "a=b"]
    frame = pl.DataFrame({"label": values, "n": list(range(11, 18))})
    path = write_csv(Table("t", "T", frame, frame), tmp_path)
    text = pl.read_csv(path, infer_schema=False)
    assert text["label"].to_list() == [
        '\'=HYPERLINK("https://evil.example","x")',
        "'@SUM(A1)",
        "'+1+2",
        "-1,234",
        "+0.5",
        "-12.5%",
        "a=b",
    ]
    assert text["n"].to_list() == [str(v) for v in range(11, 18)]


def test_data_quality_page_shows_the_waiting_opinions_and_the_disclosure_audit(built) -> None:
    out, _ = built
    html = (out / "data-quality.html").read_text(encoding="utf-8")
    assert "Opinions waiting" in html and ">37<" in html  # 37 waiting; its 4 orphans are "<11"
    assert "waiting more than 30 days" in html and "&lt;11" in html
    audit = dict(pl.read_csv(out / "dq-disclosure.csv").drop("run_id", "period").iter_rows())
    decided = json.loads((out / "disclosure.json").read_text(encoding="utf-8"))
    assert audit["cells_protected"] == decided["summary"]["cells_protected"] > 0
    assert audit["narrowest_range"] >= 1 and decided["threshold"] == 11
    assert "Disclosure audit of this run" in html


def test_the_cost_page_says_what_its_money_rests_on_in_a_payers_words(built) -> None:
    out, _ = built
    html = (out / "cost.html").read_text(encoding="utf-8")
    facts = re.search(r'<ul class="facts">(.*?)</ul>', html, re.S)
    assert facts is not None
    text = re.sub(r"<[^>]+>", "", facts[1])
    assert "Period: all time, opinions from" in text
    assert "Prices: the projected gross rests on prices observed in the follow-up claims 96.0%, " in text
    assert "reference catalogue prices 4.0%" in text
    assert "3.1% of the projected gross rests on at least one estimated catalogue price" in text
    assert "Payer prices: none supplied" in text
    # the verified headline beside the projected one, per case on the same basis
    assert "Net per case (projected)" in html and "Net per case (verified)" in html
    # configuration keys are the methodology page's, not the payer's
    assert "Run settings" not in html and "program_fee_usd" not in html


def test_data_quality_shows_the_latest_runs_files(built) -> None:
    out, _ = built
    html = (out / "data-quality.html").read_text(encoding="utf-8")
    assert "Landing files of the latest run" in html and "run <code>run-2</code>" in html
    files = read_download(out / "dq-files.csv")
    assert files["ingest_run_id"].unique().to_list() == ["run-2"]
