"""An attacker on the published site: how much can arithmetic prove about each suppressed count?

Independent of the publication layer on purpose: it reads nothing of `dashboards/` and shares no
model with the defender. Its only inputs are the files of a built site folder — every CSV
download, the pages' HTML tables, the Plotly figures embedded in the pages, their cards and
notes — and what the methodology page says the markers mean. It poses the attacker's problem as an integer
program (scipy's HiGHS `milp`) and returns, for every suppressed cell it can find, the range
[low, high] that every integer solution consistent with the published numbers agrees on. A
range of width 0 is a recovered count.

What a suppressed cell may hold ("marker domains")
    "<11"  1..10 (0..10 if the methodology does not say that zero is shown); the bound comes
           from the marker itself, "<T".
    "*"    a complementary suppression: never 1..T-1 (those read "<T"), so 0 or at least T; at
           least T when the methodology says that zero is shown.
    ""     a count left empty (beside a published rate or money figure): 0..U.
    other  any other text in a count column: 0..U.
    U is ten times the largest count published in any download, plus 1,000 (no count on the
    site exceeds the rows read, which are published): finite, for the solver.

Relations exploited (family names as in `Attack.relations`; each is a hypothesis about what the
site means, tested first on the cells that are published in full: a family contradicted by
published numbers is dropped, and so is one that makes the whole system infeasible)
    outcome rows        a specialty's outcome counts add up to its cases reviewed
    outcome columns     each outcome's count, and the cases reviewed, of "all" are the sums of
                        the specialties'
    month rows          a month's outcome counts add up to the month's cases
    month columns       a specialty's monthly counts add up, per outcome and in total, to its
                        outcome table
    all-specialty months  the overview's monthly trend p-chart (chart only: "n = 25 of 52") holds the
                        sums over specialties of each month's cases and outcome counts
    turnaround months   the turnaround table's monthly cases are the outcome table's monthly
                        cases (the same referral month)
    turnaround bins     the turnaround histogram's bins add up to the specialty's cases
    flows               the flows of one outcome add up to that outcome's count; a listed flow
                        has at least one case
    reviewers           the reviewers' cases add up to the specialty's classified cases (cases
                        reviewed minus unclassified), their changes to classified minus
                        confirmed; the page says how many reviewers are not shown (each has at
                        least one case; their changes are at most their cases)
    funnel centre       a funnel centred on the whole specialty (not on the reviewers shown)
                        publishes changed / classified
    targeting           the score deciles add up to all classified cases, their changes to all
                        classified minus confirmed
    agreement           the agreement table's cases are at most the specialty's cases
    cost cases          the cost table's cases are the specialty's cases reviewed; payer types
                        and plans each partition all cases; verified cases are at most cases
    cost verified       verified cases of specialties, payer types and plans each add up to the
                        programme's verified cases (also on the cost page's card)
    money               programme cost = cases x fee (fee from the published settings);
                        gross - net = programme cost; net / per-case net = cases;
                        net / ROI = programme cost; verified gross - verified net = verified
                        cases x fee
    fee swing           the sensitivity table's programme-fee scenario moves the net by
                        (multiplier - 1) x fee x cases
    rates               a published rate r = n / total: with r = p/q in lowest terms (exact in
                        the CSV's full precision), n = k p and total = k q for an integer k;
                        a rounded rate (a percentage on a page) bounds n / total to its last
                        printed digit. Used for outcome rates, monthly rates, the p-charts'
                        centre lines (the specialty's rate), reviewers' change rates, deciles'
                        change rates, raw agreement, and the shares in the pages' pivot tables
    intervals           a published Wilson 95% interval has centre (n + z^2/2) / (total + z^2)
    p-chart limits      a published 3-sigma limit gives the month's cases:
                        total = 9 p (1 - p) / (limit - p)^2
    data quality        rows read = loaded + quarantined + duplicate; cases loaded = cases
                        reviewed + pending (the data-quality page's card)
    page figures        the same count read from a page is the same variable as in the CSV:
                        chart hover text (outcome mix, p-charts), cards ("n = ...", pending,
                        unclassified, verified cases) and every HTML table beside a "Download
                        CSV" link (rows matched to the download by their labels, pivots by
                        their row and column labels). A count hidden in one place and printed
                        in another is recovered outright (`Range.shown`); two different
                        numbers for one count are recorded in `Attack.conflicts`

Not exploited, because here they are not counts: the sensitivity table's leakage and price
swings move the net by a leakage or price factor times a sum of prices (money, not cases);
bootstrap intervals; turnaround medians and percentiles; kappa and its interval.

Cells in CSVs the attacker does not know are still collected (any column named like a count,
"n", "total", "n_*", "rows_*") and reported with their marker domain alone.

Solving: interval propagation over all equations first (sound outer bounds); variables it fixes
are substituted and the rest splits into independent blocks. In each block, integer solutions
pushed in random directions are witnesses (inner bounds) for every cell at once; a bound a
witness does not reach is proven by the LP relaxation (HiGHS, rounded inward) when an integral
vertex or a witness meets it, else by the integer program (HiGHS `milp`). A solve that hits its
time limit keeps HiGHS's proven dual bound, so every range stays sound.
"""

from __future__ import annotations

import csv
import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

Key = tuple[str, ...]
Expr = dict[Key, float]

Z95 = 1.959963984540054
# Header labels of the pages' tables and the CSV column each shows.
HTML_COLUMNS = {
    "cases": ("n", "n_cases"),
    "cases reviewed": ("total",),
    "verified cases": ("n_verified",),
    "rows read": ("rows_read",),
    "loaded": ("rows_loaded",),
    "quarantined": ("rows_quarantined",),
    "duplicate": ("rows_duplicate",),
}
# Columns that hold counts of cases or rows in downloads the attacker has no relations for.
COUNT_COLUMNS = {"n", "total", "n_cases", "n_verified", "rows_read", "rows_loaded", "rows_quarantined"}
COUNT_COLUMNS.add("rows_duplicate")


@dataclass
class Range:
    """What the attacker can prove about one suppressed count, wherever it is published."""

    key: Key
    marker: str
    where: list[str]
    low: int
    high: int
    shown: list[str] = field(default_factory=list)  # where the same count is printed as a number
    derived: list[str] = field(default_factory=list)  # figures it was computed from ("money: cost.csv:3")

    @property
    def exact(self) -> bool:
        return self.low == self.high

    @property
    def width(self) -> int:
        return self.high - self.low


@dataclass
class Attack:
    ranges: list[Range]
    relations: dict[str, int]
    dropped: dict[str, str]
    conflicts: list[str]
    solves: int
    seconds: float

    def recovered(self) -> list[Range]:
        return [r for r in self.ranges if r.exact]


# ---------------------------------------------------------------------------------------------
# Reading the site


def _label_key(label: str) -> str:
    """A published label as a vocabulary key: "General surgery" -> general_surgery."""
    text = label.strip().lower()
    if text in {"all specialties", "all"}:
        return "all"
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _count(text: str) -> int | None:
    """A published integer count ("1,971", "12", "12.0"), else None."""
    t = text.strip().replace(",", "")
    if re.fullmatch(r"-?\d+(\.0+)?", t):
        return int(float(t))
    return None


def _cell_count(text: str) -> str:
    """The count a table cell prints: "48.5% (955)" -> "955"; markers and plain counts as they are."""
    hit = re.search(r"\(([\d,]+|<\s*\d+|\*)\)\s*$", text)
    return hit.group(1) if hit else text.strip()


def _norm(text: str) -> str:
    """A label or value as letters and digits only; "2024-11-01" as its month, "All specialties" as all."""
    text = re.sub(r"^(\d{4}-\d{2})-01$", r"\1", text.strip())
    return re.sub(r"[^a-z0-9]", "", _label_key(text))


def _match_rows(table: _Table, csv_rows: list[dict[str, str]]) -> dict[int, int]:
    """HTML row -> CSV row, by labels (never by order: ties sort differently); unique matches only.

    Label columns are the first and every other one that is not a count column and does not
    read as a number, share or money. Each is paired with the CSV column whose set of values is
    most alike (Jaccard at least 0.5); a row matches the one CSV row equal on every pair.
    """
    if not table.rows or not csv_rows:
        return {}
    heads = [h.lower() for h in table.header]
    numeric = re.compile(r"^[-$\d.,%<*–— ()]*$")
    label_cols = [
        k
        for k, head in enumerate(heads)
        if k == 0
        or (head not in HTML_COLUMNS and not all(numeric.match(r[k]) for r in table.rows if k < len(r)))
    ]
    csv_values = {c: {_norm(r.get(c) or "") for r in csv_rows} for c in csv_rows[0]}
    pairs: list[tuple[int, str]] = []
    taken: set[str] = set()
    for k in label_cols:
        html_values = {_norm(r[k]) for r in table.rows if k < len(r)}
        scored = [
            (len(html_values & vals) / len(html_values | vals), c)
            for c, vals in csv_values.items()
            if c not in taken and vals
        ]
        best = max(scored, default=(0.0, ""))
        if best[0] >= 0.5:
            pairs.append((k, best[1]))
            taken.add(best[1])
    if not pairs:
        return {}
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for j, r in enumerate(csv_rows):
        index[tuple(_norm(r.get(c) or "") for _, c in pairs)].append(j)
    matches: dict[int, int] = {}
    for i, row in enumerate(table.rows):
        if len(row) != len(heads):
            continue
        found = index.get(tuple(_norm(row[k]) for k, _ in pairs), [])
        if len(found) == 1:
            matches[i] = found[0]
    return matches


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    t = text.strip().replace(",", "").replace("$", "")
    try:
        return float(t)
    except ValueError:
        return None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for k, v in list(row.items()):
            # Formula-neutralised cells ("'=...") read as what they say.
            if isinstance(v, str) and v.startswith("'") and v[1:2] in {"=", "+", "-", "@"}:
                row[k] = v[1:]
        # A count column is a number with its marker beside it ("n", "n_marker"): read the
        # marker where it is set, as the page shows it; the run id and period say nothing.
        for k in [k for k in row if k.endswith("_marker") and k[: -len("_marker")] in row]:
            marker = row.pop(k)
            if marker:
                row[k[: -len("_marker")]] = marker
        row.pop("run_id", None)
        row.pop("period", None)
    return rows


@dataclass
class _Table:
    """An HTML table with the download it sits beside: header cells and body rows as text."""

    title: str
    download: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class _Page(HTMLParser):
    """A page's visible text, its cards (label, value, sub) and its tables."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.cards: list[dict[str, str]] = []
        self.tables: list[_Table] = []
        self._skip = 0
        self._field: str | None = None
        self._title = ""
        self._download = ""
        self._in_h3 = False
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._head = False
        self._in_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        values = dict(attrs)
        if tag == "h3":
            self._in_h3, self._title, self._download = True, "", ""
        elif tag == "a" and (values.get("href") or "").endswith(".csv"):
            self._download = values.get("href") or ""
        elif tag == "table":
            self.tables.append(_Table(self._title.strip(), self._download))
            self._in_table = True
        elif tag == "thead":
            self._head = True
        elif tag == "tbody":
            self._head = False
        elif tag == "tr" and self._in_table:
            self._row = []
        elif tag in {"td", "th"} and self._row is not None:
            self._cell = []
        classes = (values.get("class") or "").split()
        if tag == "div" and "card" in classes:
            self.cards.append({})
        if tag == "div" and self.cards and {"label", "value", "sub"} & set(classes):
            self._field = next(c for c in classes if c in {"label", "value", "sub"})
        if tag in {"p", "div", "tr", "li", "br", "h1", "h2", "h3", "td", "th"}:
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip -= 1
        if tag == "div":
            self._field = None
        if tag == "h3":
            self._in_h3 = False
        elif tag == "table":
            self._in_table = False
        elif tag in {"td", "th"} and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            table = self.tables[-1]
            if self._head:
                table.header = self._row
            else:
                table.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._in_h3:
            self._title += data
        if self._cell is not None:
            self._cell.append(data)
        if self._field and self.cards:
            card = self.cards[-1]
            card[self._field] = (card.get(self._field, "") + data).strip()


def _figures(html: str) -> Iterator[dict]:
    """Every Plotly figure embedded in a page: JSON objects with a "data" list of traces.

    A chart's title is page text above it (and its container's aria-label), not Plotly's: it is
    put back into the figure's layout, as a reader sees it beside the chart."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r'\{"data":\s*\[', html):
        try:
            obj, end = decoder.raw_decode(html, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("data"), list):
            target = re.compile(r'Plotly\.newPlot\("([^"]+)"').search(html, end)
            label = (
                re.search(rf'id="{re.escape(target.group(1))}"[^>]*aria-label="([^"]*)"', html)
                if target
                else None
            )
            if label and not _title(obj):
                obj.setdefault("layout", {})["title"] = {"text": unescape(label.group(1))}
            yield obj


def _title(fig: dict) -> str:
    title = (fig.get("layout") or {}).get("title")
    text = title.get("text") if isinstance(title, dict) else title
    return re.sub(r"<[^>]+>", "", str(text or ""))


# ---------------------------------------------------------------------------------------------
# The model: variables by meaning, equations by family


@dataclass
class _Eq:
    family: str
    expr: Expr
    low: float
    high: float


@dataclass
class _Model:
    upper: int = 10**6
    small: tuple[int, int] = (1, 10)
    star_low: int = 11
    star_zero: bool = True
    fixed: dict[Key, int] = field(default_factory=dict)
    domain: dict[Key, tuple[int, int]] = field(default_factory=dict)
    star: set[Key] = field(default_factory=set)
    marker: dict[Key, str] = field(default_factory=dict)
    where: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    eqs: list[_Eq] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    derivations: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))  # family: source
    shown: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    cells: dict[str, Key] = field(default_factory=dict)  # "file.csv:row:column" -> variable
    aux: int = 0

    # -- observations -------------------------------------------------------------------------
    def publish(self, key: Key, text: str | None, where: str) -> None:
        """A published cell: a count fixes the variable, a marker restricts it."""
        text = "" if text is None else str(text).strip()
        self.cells.setdefault(where, key)
        value = _count(text)
        if value is not None:
            self.fix(key, value, where)
            return
        self.where[key].append(where)
        self.marker.setdefault(key, text)
        lo, hi = 0, self.upper
        if re.fullmatch(r"<\s*\d+", text):
            self.star_low = int(text.lstrip("< "))  # "*" is never what "<T" would have shown
            lo, hi = self.small[0], self.star_low - 1
        elif text == "*":
            if self.star_zero:
                self.star.add(key)
            else:
                lo = self.star_low
        self.restrict(key, lo, hi)

    def restrict(self, key: Key, lo: int, hi: int) -> None:
        old = self.domain.get(key, (0, self.upper))
        self.domain[key] = (max(old[0], lo), min(old[1], hi))

    def fix(self, key: Key, value: int, where: str) -> None:
        if key in self.fixed and self.fixed[key] != value:
            self.conflicts.append(f"{'/'.join(key)}: {self.fixed[key]} and {value} ({where})")
            return
        self.fixed[key] = value
        self.shown[key].append(where)

    def derived(self, key: Key, value: float | None, family: str, where: str) -> None:
        """A count computed from other published figures: kept only when it is an integer."""
        if value is None or not math.isfinite(value):
            return
        rounded = round(value)
        if abs(value - rounded) > 1e-6 * max(1.0, abs(value)) or rounded < 0:
            return
        self.eqs.append(_Eq(family, {key: 1.0}, rounded, rounded))
        self.derivations[key].append(f"{family}: {where}")

    # -- relations ----------------------------------------------------------------------------
    def equal(self, family: str, a: Expr, b: Expr, const: float = 0.0) -> None:
        """a = b + const."""
        expr: Expr = defaultdict(float)
        for k, c in a.items():
            expr[k] += c
        for k, c in b.items():
            expr[k] -= c
        self.eqs.append(_Eq(family, dict(expr), const, const))

    def at_most(self, family: str, a: Expr, b: Expr) -> None:
        """a <= b."""
        expr: Expr = defaultdict(float)
        for k, c in a.items():
            expr[k] += c
        for k, c in b.items():
            expr[k] -= c
        self.eqs.append(_Eq(family, dict(expr), -math.inf, 0.0))

    def new_aux(self, family: str, lo: int = 0, hi: int | None = None) -> Key:
        self.aux += 1
        key = ("aux", family, str(self.aux))
        self.domain[key] = (lo, self.upper if hi is None else hi)
        return key

    def ratio(self, family: str, num: Expr, den: Expr, text: str | None, exact: bool) -> None:
        """A published rate num / den: exact as p/q with an integer multiplier, else to its digits.

        `exact` says the column is printed in full precision (some value in it has 12 or more
        digits), so a short value such as 0.5 is itself exact; otherwise a value is taken as
        rounded to its last printed digit.
        """
        rate = _number(text)
        if rate is None or rate < 0 or not text:
            return
        digits = len(text.strip().split(".")[1]) if "." in text.strip() else 0
        if exact or digits >= 12:
            frac = Fraction(rate).limit_denominator(self.upper)
            if abs(float(frac) - rate) <= 1e-10:
                k = self.new_aux(family)
                self.equal(family, num, {k: float(frac.numerator)})
                self.equal(family, den, {k: float(frac.denominator)})
                return
        half = 0.5 * 10.0**-digits + 1e-12
        self.at_most(family, {**{k: (rate - half) * c for k, c in den.items()}}, num)
        self.at_most(family, num, {k: (rate + half) * c for k, c in den.items()})

    def variables(self) -> set[Key]:
        out = set(self.domain) | set(self.fixed)
        for eq in self.eqs:
            out |= set(eq.expr)
        return out


# ---------------------------------------------------------------------------------------------
# What the site publishes, table by table


def _month(text: str) -> str:
    return text.strip()[:7]


class _Reader:
    """Turns a built site folder into the model's observations and relations."""

    def __init__(self, site: Path, pages: bool = True) -> None:
        self.site = site
        self.csvs = {p.name: _read_csv(p) for p in sorted(site.glob("*.csv"))}
        self.every_page: dict[str, tuple[_Page, str]] = {}
        for page in sorted(site.glob("*.html")):
            html = page.read_text(encoding="utf-8")
            parser = _Page()
            parser.feed(html)
            self.every_page[page.name] = (parser, html)
        # Without pages the attacker reads the CSVs alone (the methodology's marker meanings aside).
        self.pages = self.every_page if pages else {}
        self.used: set[str] = set()
        self.model = self._new_model()
        m = self.model
        self.fee = self._fee()
        self.specialties: set[str] = set()
        self.months: set[str] = set()
        self.outcomes: set[str] = set()
        self._outcomes()
        self._monthly()
        self._index_trend()
        self._turnaround()
        self._flows()
        self._reviewers()
        self._agreement()
        self._targeting()
        self._cost()
        self._sensitivity()
        self._data_quality()
        self._page_figures()
        self._page_tables()
        self._unknown_csvs()
        for key in list(m.where):  # downloads first, then pages
            m.where[key] = sorted(set(m.where[key]), key=lambda w: (".csv:" not in w, w))

    # -- settings -----------------------------------------------------------------------------
    def _page_text(self, name: str) -> str:
        page = self.pages.get(name)
        return "".join(page[0].text) if page else ""

    def _new_model(self) -> _Model:
        biggest = 0
        for rows in self.csvs.values():
            for row in rows:
                for col, value in row.items():
                    if col in COUNT_COLUMNS or (col or "").startswith(("n_", "rows_")):
                        biggest = max(biggest, _count(value or "") or 0)
        method = " ".join("".join(p.text) for p, _ in self.every_page.values()).lower()
        zero_shown = "zero is shown" in method or "zeros are shown" in method
        return _Model(
            upper=10 * biggest + 1000,
            small=(1 if zero_shown else 0, 10),
            star_zero=not zero_shown,
        )

    def _exact(self, name: str, column: str) -> bool:
        """Whether a CSV column is printed in full precision (some value has 12 or more digits)."""
        rows = self.csvs.get(name.split(":")[0], [])
        return any(len((r.get(column) or "").partition(".")[2]) >= 12 for r in rows)

    def _fee(self) -> float | None:
        for name in ("assumptions.csv", "method-settings.csv"):
            for row in self.csvs.get(name, []):
                if row.get("setting") == "program_fee_usd":
                    return _number(row.get("value"))
        return None

    # -- outcome table ------------------------------------------------------------------------
    def _outcomes(self) -> None:
        m = self.model
        rows: list[tuple[str, dict[str, str]]] = []
        for name, table in self.csvs.items():
            if name == "overview-outcome-rates.csv" or name.endswith("-outcomes.csv"):
                self.used.add(name)
                rows += [(f"{name}:{i + 2}", r) for i, r in enumerate(table)]
        for where, r in rows:
            s, o = r["specialty"], r["outcome"]
            self.specialties.add(s)
            self.outcomes.add(o)
            m.publish(("n", s, o), r.get("n"), f"{where}:n")
            m.publish(("total", s), r.get("total"), f"{where}:total")
            m.ratio("rates", {("n", s, o): 1}, {("total", s): 1}, r.get("rate"), self._exact(where, "rate"))
            self._wilson(("n", s, o), ("total", s), r.get("ci_low"), r.get("ci_high"), where)
        specs = sorted(self.specialties - {"all"})
        for s in self.specialties:
            m.equal("outcome rows", {("n", s, o): 1 for o in self.outcomes}, {("total", s): 1})
        if "all" in self.specialties:
            for o in self.outcomes:
                m.equal("outcome columns", {("n", "all", o): 1}, {("n", s, o): 1 for s in specs})
            m.equal("outcome columns", {("total", "all"): 1}, {("total", s): 1 for s in specs})

    def _wilson(self, n: Key, total: Key, low: str | None, high: str | None, where: str) -> None:
        lo, hi = _number(low), _number(high)
        t = self.model.fixed.get(total)
        if lo is None or hi is None or t is None:
            return
        z2 = Z95 * Z95
        self.model.derived(n, (lo + hi) / 2 * (t + z2) - z2 / 2, "intervals", where)

    # -- monthly p-charts ---------------------------------------------------------------------
    def _monthly(self) -> None:
        m = self.model
        per: dict[str, set[str]] = defaultdict(set)
        centres: set[tuple[str, str, str | None]] = set()
        for name, table in self.csvs.items():
            if not name.endswith("-monthly.csv") or name.endswith("turnaround-monthly.csv"):
                continue
            self.used.add(name)
            for i, r in enumerate(table):
                where = f"{name}:{i + 2}"
                s, mo, o = r["specialty"], _month(r["month"]), r["outcome"]
                per[s].add(mo)
                self.months.add(mo)
                n, tot = ("n_month", s, mo, o), ("total_month", s, mo)
                m.publish(n, r.get("n"), f"{where}:n")
                m.publish(tot, r.get("total"), f"{where}:total")
                m.ratio("rates", {n: 1}, {tot: 1}, r.get("rate"), self._exact(name, "rate"))
                # The centre line is the specialty's rate over the whole period (once per value).
                if (s, o, r.get("center_line")) not in centres:
                    centres.add((s, o, r.get("center_line")))
                    exact = self._exact(name, "center_line")
                    m.ratio("rates", {("n", s, o): 1}, {("total", s): 1}, r.get("center_line"), exact)
                self._pchart(tot, r.get("center_line"), r.get("lcl"), r.get("ucl"), where)
        for s, months in per.items():
            for mo in months:
                m.equal(
                    "month rows",
                    {("n_month", s, mo, o): 1 for o in self.outcomes},
                    {("total_month", s, mo): 1},
                )
            for o in self.outcomes:
                m.equal("month columns", {("n_month", s, mo, o): 1 for mo in months}, {("n", s, o): 1})
            m.equal("month columns", {("total_month", s, mo): 1 for mo in months}, {("total", s): 1})

    def _pchart(self, total: Key, centre: str | None, lcl: str | None, ucl: str | None, where: str) -> None:
        p = _number(centre)
        if p is None or not 0 < p < 1:
            return
        for limit in (_number(ucl), _number(lcl)):
            if limit is not None and 0 < limit < 1 and abs(limit - p) > 1e-12:
                self.model.derived(total, 9 * p * (1 - p) / (limit - p) ** 2, "p-chart limits", where)

    def _index_trend(self) -> None:
        """The overview's all-specialty monthly trend exists only as a chart."""
        m = self.model
        page = self.pages.get("index.html")
        if not page:
            return
        seen: set[str] = set()
        for fig in _figures(page[1]):
            # the trend, drawn as a p-chart: its "<outcome> share" traces carry the hover counts
            if not _title(fig).lower().startswith(("monthly trend", "monthly p-chart")):
                continue
            for trace in fig["data"]:
                if not trace.get("customdata"):
                    continue
                o = _label_key(str(trace.get("name", "")).removesuffix(" share"))
                for x, text in zip(trace.get("x") or [], trace.get("customdata") or [], strict=False):
                    mo = _month(str(x))
                    seen.add(mo)
                    where = f"index.html:chart '{_title(fig)}' {trace.get('name')} {mo}"
                    self._hover(("n_month", "all", mo, o), ("total_month", "all", mo), str(text), where)
        specs = sorted(self.specialties - {"all"})
        for mo in sorted(seen):
            m.equal(
                "all-specialty months",
                {("total_month", "all", mo): 1},
                {("total_month", s, mo): 1 for s in specs},
            )
            for o in self.outcomes:
                if ("n_month", "all", mo, o) in m.fixed or ("n_month", "all", mo, o) in m.domain:
                    m.equal(
                        "all-specialty months",
                        {("n_month", "all", mo, o): 1},
                        {("n_month", s, mo, o): 1 for s in specs},
                    )

    def _hover(self, n: Key, total: Key, text: str, where: str) -> None:
        """Hover text such as "48.1%<br>n = 25 of 52" or "suppressed (small cell) · n <11 of 227"."""
        m = self.model
        hit = re.search(r"n\s*=\s*([\d,]+)\s+of\s+([\d,]+)", text)
        if hit:
            m.publish(n, hit.group(1), where)
            m.publish(total, hit.group(2), where)
            return
        hit = re.search(r"n\s*(<\s*\d+|\*)\s+of\s+([\d,]+)", text)
        if hit:
            m.publish(n, hit.group(1).replace(" ", ""), where)
            m.publish(total, hit.group(2), where)
            return
        if "suppressed" in text.lower():
            m.where[n].append(where)
            m.marker.setdefault(n, "suppressed")
            m.restrict(n, 0, m.upper)

    # -- turnaround ---------------------------------------------------------------------------
    def _turnaround(self) -> None:
        m = self.model
        for name, table in self.csvs.items():
            if name.endswith("-turnaround-monthly.csv"):
                self.used.add(name)
                for i, r in enumerate(table):
                    s, mo = r["specialty"], _month(r["month"])
                    key = ("turn_month", s, mo)
                    m.publish(key, r.get("n"), f"{name}:{i + 2}:n")
                    m.equal("turnaround months", {key: 1}, {("total_month", s, mo): 1})
            elif name.endswith("-turnaround-distribution.csv"):
                self.used.add(name)
                bins: dict[str, list[Key]] = defaultdict(list)
                for i, r in enumerate(table):
                    key = ("turn_bin", r["specialty"], r["days"])
                    m.publish(key, r.get("n"), f"{name}:{i + 2}:n")
                    bins[r["specialty"]].append(key)
                for s, keys in bins.items():
                    m.equal("turnaround bins", dict.fromkeys(keys, 1.0), {("total", s): 1})

    # -- flows --------------------------------------------------------------------------------
    def _flows(self) -> None:
        m = self.model
        for name, table in self.csvs.items():
            if not name.endswith("-flows.csv"):
                continue
            self.used.add(name)
            by_outcome: dict[tuple[str, str], list[Key]] = defaultdict(list)
            for i, r in enumerate(table):
                s = r["specialty"]
                key = ("flow", s, r["source"], r["target"], r["outcome"])
                m.publish(key, r.get("n"), f"{name}:{i + 2}:n")
                m.restrict(key, 1, m.upper)
                by_outcome[(s, r["outcome"])].append(key)
            specs = {s for s, _ in by_outcome}
            for s in specs:
                for o in self.outcomes:
                    m.equal("flows", dict.fromkeys(by_outcome.get((s, o), []), 1.0), {("n", s, o): 1})

    # -- reviewers ----------------------------------------------------------------------------
    def _reviewers(self) -> None:
        m = self.model
        for name, table in self.csvs.items():
            if not name.endswith("-reviewers.csv"):
                continue
            self.used.add(name)
            spec = name.removesuffix("-reviewers.csv").replace("-", "_")
            n_keys: list[Key] = []
            c_keys: list[Key] = []
            centres: set[str] = set()
            for i, r in enumerate(table):
                spec = r.get("specialty") or spec
                n, ch = ("reviewer_n", spec, r["reviewer_id"]), ("reviewer_changed", spec, r["reviewer_id"])
                m.publish(n, r.get("n"), f"{name}:{i + 2}:n")
                m.ratio("rates", {ch: 1}, {n: 1}, r.get("change_rate"), self._exact(name, "change_rate"))
                m.at_most("reviewers", {ch: 1}, {n: 1})
                n_keys.append(n)
                c_keys.append(ch)
                if r.get("specialty_rate"):
                    centres.add(r["specialty_rate"])
            page = self._page_text(f"specialty-{spec.replace('_', '-')}.html")
            hit = re.search(r"(\d+)\s+reviewer\(?s?\)?\s+not shown", page)
            hidden = int(hit.group(1)) if hit else 0
            hn = m.new_aux("reviewers", lo=hidden)
            hc = m.new_aux("reviewers")
            m.at_most("reviewers", {hc: 1}, {hn: 1})
            classified = {("total", spec): 1.0, ("n", spec, "unclassified"): -1.0}
            changed = {**classified, ("n", spec, "confirmed"): -1.0}
            m.equal("reviewers", {**dict.fromkeys(n_keys, 1.0), hn: 1}, classified)
            m.equal("reviewers", {**dict.fromkeys(c_keys, 1.0), hc: 1}, changed)
            if len(centres) == 1 and not self._centred_on_shown(table, centres):
                m.ratio(
                    "funnel centre", changed, classified, centres.pop(), self._exact(name, "specialty_rate")
                )

    @staticmethod
    def _centred_on_shown(table: list[dict[str, str]], centres: set[str]) -> bool:
        """Whether the funnel's centre is the rate of the reviewers shown (it then says nothing)."""
        try:
            n = sum(int(r["n"]) for r in table)
            ch = sum(round(int(r["n"]) * float(r["change_rate"])) for r in table)
        except (KeyError, ValueError):
            return True
        return n > 0 and abs(ch / n - float(next(iter(centres)))) < 1e-9

    # -- agreement ----------------------------------------------------------------------------
    def _agreement(self) -> None:
        m = self.model
        for name, table in self.csvs.items():
            if not name.endswith("-agreement.csv"):
                continue
            self.used.add(name)
            for i, r in enumerate(table):
                s = r["specialty"]
                key = ("agreement_n", s)
                m.publish(key, r.get("n"), f"{name}:{i + 2}:n")
                m.at_most("agreement", {key: 1}, {("total", s): 1})
                agree = m.new_aux("agreement")
                m.ratio(
                    "rates", {agree: 1}, {key: 1}, r.get("raw_agreement"), self._exact(name, "raw_agreement")
                )
                if "n_no_tier" in r:  # the agreement's cases plus those with no tier are the tiered outcomes
                    gap = ("agreement_no_tier", s)
                    m.publish(gap, r.get("n_no_tier"), f"{name}:{i + 2}:n_no_tier")
                    tiered = [o for o in self.outcomes if o not in ("deferred", "unclassified")]
                    if tiered:
                        m.equal("agreement", {key: 1, gap: 1}, {("n", s, o): 1 for o in tiered})

    # -- targeting ----------------------------------------------------------------------------
    def _targeting(self) -> None:
        m = self.model
        table = self.csvs.get("targeting.csv")
        if not table:
            return
        self.used.add("targeting.csv")
        ns, cs = [], []
        for i, r in enumerate(table):
            n, ch = ("decile_n", r["decile"]), ("decile_changed", r["decile"])
            m.publish(n, r.get("n"), f"targeting.csv:{i + 2}:n")
            m.ratio(
                "rates",
                {ch: 1},
                {n: 1},
                r.get("observed_change_rate"),
                self._exact("targeting.csv", "observed_change_rate"),
            )
            ns.append(n)
            cs.append(ch)
        classified = {("total", "all"): 1.0, ("n", "all", "unclassified"): -1.0}
        m.equal("targeting", dict.fromkeys(ns, 1.0), classified)
        m.equal("targeting", dict.fromkeys(cs, 1.0), {**classified, ("n", "all", "confirmed"): -1.0})

    # -- cost ---------------------------------------------------------------------------------
    def _cost_rows(self) -> Iterator[tuple[str, str, str, dict[str, str]]]:
        for name, table in self.csvs.items():
            if name == "cost-by-specialty.csv" or (
                name.endswith("-cost.csv") and not name.startswith("cost-")
            ):
                self.used.add(name)
                for i, r in enumerate(table):
                    yield f"{name}:{i + 2}", "specialty", r["specialty"], r
            elif name.startswith("cost-by-") and "dimension" in (table[0] if table else {}):
                self.used.add(name)
                for i, r in enumerate(table):
                    yield f"{name}:{i + 2}", r["dimension"], r["segment"], r

    def _cost(self) -> None:
        m = self.model
        segments: dict[str, set[str]] = defaultdict(set)
        cost_parts: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        fee = self.fee
        for where, dim, seg, r in self._cost_rows():
            cases, verified = ("cost_cases", dim, seg), ("cost_verified", dim, seg)
            segments[dim].add(seg)
            m.publish(cases, r.get("n_cases"), f"{where}:n_cases")
            m.publish(verified, r.get("n_verified"), f"{where}:n_verified")
            m.at_most("cost cases", {verified: 1}, {cases: 1})
            for col in ("n_closed_cohort", "unpriced_changes"):  # counts of the same cases
                if col in r:
                    part = (col, dim, seg)
                    m.publish(part, r.get(col), f"{where}:{col}")
                    m.at_most("cost cases", {part: 1}, {cases: 1})
                    cost_parts[col][dim].add(seg)
            money = {k: _number(r.get(k)) for k in r}
            gross, net, cost = money.get("gross_avoided"), money.get("net_avoided"), money.get("program_cost")
            per_case, roi = money.get("per_case_net"), money.get("roi")
            real, real_net = money.get("realized_avoided"), money.get("realized_net")
            if fee:
                if cost is not None:
                    m.derived(cases, cost / fee, "money", where)
                if gross is not None and net is not None:
                    m.derived(cases, (gross - net) / fee, "money", where)
                if net is not None and roi:
                    m.derived(cases, net / roi / fee, "money", where)
                if real is not None and real_net is not None:
                    m.derived(verified, (real - real_net) / fee, "money", where)
            if net is not None and per_case:
                m.derived(cases, net / per_case, "money", where)
        specs = sorted(segments.get("specialty", set()) - {"all"})
        for s in segments.get("specialty", set()):
            m.equal("cost cases", {("cost_cases", "specialty", s): 1}, {("total", s): 1})
        if "all" in segments.get("specialty", set()):
            every = ("cost_verified", "specialty", "all")
            m.equal(
                "cost verified",
                {every: 1},
                {("cost_verified", "specialty", s): 1 for s in specs},
            )
            for dim, segs in segments.items():
                if dim == "specialty":
                    continue
                m.equal(
                    "cost cases",
                    {("cost_cases", dim, g): 1 for g in segs},
                    {("cost_cases", "specialty", "all"): 1},
                )
                m.equal("cost verified", {("cost_verified", dim, g): 1 for g in segs}, {every: 1})
        for col, dims in cost_parts.items():  # the specialties' parts add up to the 'all' row
            whole = (col, "specialty", "all")
            specs = {g for g in dims.get("specialty", set()) if g != "all"}
            if "all" in dims.get("specialty", set()) and specs:
                m.equal("cost cases", {(col, "specialty", g): 1.0 for g in specs}, {whole: 1})
        page = self._page_text("cost.html")
        hit = re.search(r"on\s+([\d,]+|<\s*\d+|\*)\s+cases with closed follow-up", page)
        if hit:
            m.publish(("cost_verified", "specialty", "all"), hit.group(1), "cost.html:card Verified gross")

    def _sensitivity(self) -> None:
        m = self.model
        table = self.csvs.get("cost-sensitivity.csv")
        if not table or not self.fee:
            return
        self.used.add("cost-sensitivity.csv")
        for i, r in enumerate(table):
            if r.get("assumption") != "program_fee":
                continue
            delta, setting = _number(r.get("delta")), r.get("setting") or ""
            mult = re.search(r"\(x\s*([\d.]+)\)", setting)
            amount = re.search(r"\$([\d,]+(?:\.\d+)?)\s+per review", setting)
            factor = (
                float(mult.group(1))
                if mult
                else (_number(amount.group(1)) or 0) / self.fee
                if amount
                else None
            )
            if delta is None or factor is None or abs(factor - 1) < 1e-9:
                continue
            key = ("cost_cases", "specialty", r["specialty"])
            m.derived(key, -delta / ((factor - 1) * self.fee), "fee swing", f"cost-sensitivity.csv:{i + 2}")

    # -- data quality -------------------------------------------------------------------------
    def _data_quality(self) -> None:
        m = self.model
        table = self.csvs.get("dq-files.csv")
        loaded_cases: list[Key] = []
        if table:
            self.used.add("dq-files.csv")
            for i, r in enumerate(table):
                base = ("dq", r.get("record_type", ""), r.get("status", ""))
                keys = {}
                for col in ("rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"):
                    if col in r:
                        keys[col] = (*base, col)
                        m.publish(keys[col], r[col], f"dq-files.csv:{i + 2}:{col}")
                if len(keys) == 4:
                    m.equal(
                        "data quality",
                        {keys["rows_read"]: 1},
                        {keys[c]: 1 for c in ("rows_loaded", "rows_quarantined", "rows_duplicate")},
                    )
                if r.get("record_type") == "cases" and "rows_loaded" in keys:
                    loaded_cases.append(keys["rows_loaded"])
        cards = self._cards("data-quality.html")
        if "pending cases" in cards:
            m.publish(("pending",), cards["pending cases"][0], "data-quality.html:card Pending cases")
            if loaded_cases:
                m.equal(
                    "data quality",
                    dict.fromkeys(loaded_cases, 1.0),
                    {("total", "all"): 1, ("pending",): 1},
                )
        if "unclassified cases" in cards:
            m.publish(
                ("n", "all", "unclassified"),
                cards["unclassified cases"][0],
                "data-quality.html:card Unclassified cases",
            )

    def _cards(self, name: str) -> dict[str, tuple[str, str]]:
        page = self.pages.get(name)
        if not page:
            return {}
        return {c.get("label", "").lower(): (c.get("value", ""), c.get("sub", "")) for c in page[0].cards}

    # -- the same counts in charts and cards ----------------------------------------------------
    def _page_figures(self) -> None:
        m = self.model
        for name, (_, html) in self.pages.items():
            spec = None
            if name.startswith("specialty-"):
                spec = name.removeprefix("specialty-").removesuffix(".html").replace("-", "_")
            elif name == "index.html":
                spec = "all"
            if spec:
                for label, (value, sub) in self._cards(name).items():
                    o = _label_key(label)
                    hit = re.search(r"n\s*=\s*([\d,]+|<\s*\d+|\*)", sub)
                    if o in self.outcomes and hit:
                        m.publish(("n", spec, o), hit.group(1), f"{name}:card {label}")
                    if label == "cases reviewed" and spec == "all":
                        m.publish(("total", "all"), value, f"{name}:card {label}")
            for fig in _figures(html):
                title = _title(fig)
                low = title.lower()
                for trace in fig["data"]:
                    tname = str(trace.get("name", ""))
                    xs, texts = trace.get("x") or [], trace.get("customdata") or []
                    for x, text in zip(xs, texts, strict=False):
                        where = f"{name}:chart '{title}' {tname} {x}"
                        if low.startswith("outcome mix by specialty"):
                            s, o = _label_key(str(x)), _label_key(tname)
                            self._hover(("n", s, o), ("total", s), str(text), where)
                        elif low.startswith("outcome mix") and spec:
                            self._hover(("n", spec, _label_key(str(x))), ("total", spec), str(text), where)
                        elif low.startswith("monthly p-chart") and spec and tname.endswith(" share"):
                            o, mo = _label_key(tname.removesuffix(" share")), _month(str(x))
                            self._hover(("n_month", spec, mo, o), ("total_month", spec, mo), str(text), where)

    # -- the same tables as HTML ------------------------------------------------------------------

    def _page_tables(self) -> None:
        """Each table beside a "Download CSV" link shows the download again; read it cell by cell.

        Tables in the download's row order are matched row by row; the overview (specialty by
        outcome) and the monthly tables (month by outcome) are pivots, read by their labels.
        Cells print counts ("955", "48.5% (955)"), markers, or a share of the row's cases
        ("57.9%"), which bounds the count to the printed digit.
        """
        m = self.model
        for name, (page, _) in self.pages.items():
            for table in page.tables:
                csv_rows = self.csvs.get(table.download)
                if csv_rows is None or not table.header:
                    continue
                where = f"{name}:table '{table.title}'"
                heads = [h.lower() for h in table.header]
                if table.download == "overview-outcome-rates.csv":
                    self._pivot(
                        table,
                        where,
                        lambda row: ("n", _label_key(row[0])),
                        lambda row: ("total", _label_key(row[0])),
                    )
                elif table.download.endswith("-monthly.csv") and not table.download.endswith(
                    "turnaround-monthly.csv"
                ):
                    spec = csv_rows[0]["specialty"] if csv_rows else ""

                    def n_key(row: list[str], spec: str = spec) -> Key:
                        return ("n_month", spec, _month(row[0]))

                    def total_key(row: list[str], spec: str = spec) -> Key:
                        return ("total_month", spec, _month(row[0]))

                    self._pivot(table, where, n_key, total_key)
                else:
                    for i, j in _match_rows(table, csv_rows).items():
                        for col, head in zip(table.rows[i], heads, strict=False):
                            for csv_col in HTML_COLUMNS.get(head, ()):
                                key = m.cells.get(f"{table.download}:{j + 2}:{csv_col}")
                                if key is not None:
                                    m.publish(key, _cell_count(col), f"{where} row {i + 1} {head}")
                                    break

    def _pivot(
        self,
        table: _Table,
        where: str,
        n_key: Callable[[list[str]], Key],
        total_key: Callable[[list[str]], Key],
    ) -> None:
        m = self.model
        heads = table.header
        for row in table.rows:
            if len(row) != len(heads):
                continue
            total = total_key(row)
            m.publish(total, _cell_count(row[1]), f"{where} {row[0]} {heads[1]}")
            for head, cell in zip(heads[2:], row[2:], strict=True):
                key = (*n_key(row), _label_key(head))
                here = f"{where} {row[0]} {head}"
                pct = re.fullmatch(r"(-?[\d.]+)%", cell.strip())
                if pct and not re.search(r"\(", cell):
                    # A share alone: n / total to the printed digit (one decimal of a percent).
                    digits = len(pct.group(1).partition(".")[2]) + 2
                    m.ratio("rates", {key: 1}, {total: 1}, f"{float(pct.group(1)) / 100:.{digits}f}", False)
                    continue
                m.publish(key, _cell_count(cell), here)

    # -- everything else --------------------------------------------------------------------------
    def _unknown_csvs(self) -> None:
        """Suppressed cells of downloads this attacker has no relations for, by marker alone."""
        m = self.model
        for name, table in self.csvs.items():
            if name in self.used:
                continue
            for i, r in enumerate(table):
                for col, value in r.items():
                    if not col or not (col in COUNT_COLUMNS or col.startswith(("n_", "rows_"))):
                        continue
                    if _count(value or "") is None:
                        m.publish(("cell", name, str(i + 2), col), value, f"{name}:{i + 2}:{col}")


# ---------------------------------------------------------------------------------------------
# Solving


@dataclass
class _System:
    """Unknowns by index with their bounds, and the equations as lo <= A x <= hi."""

    index: dict[Key, int]
    lb: np.ndarray
    ub: np.ndarray
    a: csr_matrix
    lo: np.ndarray
    hi: np.ndarray


def _system(model: _Model, families: set[str]) -> _System | str:
    """The chosen families' equations over the unknowns (published values substituted).

    Returns the name of a family instead when one of its equations, all of whose terms are
    published, does not hold.
    """
    unknown = sorted(k for k in model.variables() if k not in model.fixed)
    index = {k: i for i, k in enumerate(unknown)}
    stars = sorted(k for k in model.star if k in index)
    for k in stars:
        index[("bin", *k)] = len(index)
    lb = np.zeros(len(index))
    ub = np.full(len(index), float(model.upper))
    for k, (lo, hi) in model.domain.items():
        if k in index:
            lb[index[k]], ub[index[k]] = lo, hi
    rows: list[tuple[dict[int, float], float, float]] = []
    for k in stars:  # "*": 0 or at least T, with a binary b: x >= T b and x <= U b
        x, b = index[k], index[("bin", *k)]
        lb[b], ub[b] = 0, 1
        rows.append(({x: 1.0, b: -float(model.star_low)}, 0.0, math.inf))
        rows.append(({x: 1.0, b: -float(model.upper)}, -math.inf, 0.0))
    for eq in model.eqs:
        if eq.family not in families:
            continue
        const = 0.0
        coefs: dict[int, float] = defaultdict(float)
        for k, a in eq.expr.items():
            if k in model.fixed:
                const += a * model.fixed[k]
            elif a:
                coefs[index[k]] += a
        low, high = eq.low - const, eq.high - const
        coefs = {j: a for j, a in coefs.items() if abs(a) > 1e-12}
        if not coefs:
            tol = 1e-6 * max(1.0, abs(const))
            if low > tol or high < -tol:
                return eq.family
            continue
        rows.append((coefs, low, high))
    r = [i for i, (coefs, _, _) in enumerate(rows) for _ in coefs]
    c = [j for coefs, _, _ in rows for j in coefs]
    v = [a for coefs, _, _ in rows for a in coefs.values()]
    a = coo_matrix((v, (r, c)), shape=(len(rows), len(index))).tocsr()
    row_lo = np.array([row[1] for row in rows], dtype=float)
    row_hi = np.array([row[2] for row in rows], dtype=float)
    return _System(index, lb, ub, a, row_lo, row_hi)


def _propagate(a: csr_matrix, lo: np.ndarray, hi: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> bool:
    """Interval propagation to a fixpoint (bounds narrowed in place); False when infeasible."""
    if a.shape[0] == 0:
        return bool(np.all(lb <= ub))
    coo = a.tocoo()
    ri, ci, v = coo.row, coo.col, coo.data
    pos = v > 0
    for _ in range(500):
        low_term = np.where(pos, v * lb[ci], v * ub[ci])
        high_term = np.where(pos, v * ub[ci], v * lb[ci])
        min_act = np.bincount(ri, low_term, minlength=len(lo))
        max_act = np.bincount(ri, high_term, minlength=len(lo))
        rest_min = min_act[ri] - low_term
        rest_max = max_act[ri] - high_term
        up = np.where(pos, (hi[ri] - rest_min) / v, (lo[ri] - rest_max) / v)
        down = np.where(pos, (lo[ri] - rest_max) / v, (hi[ri] - rest_min) / v)
        new_ub, new_lb = ub.copy(), lb.copy()
        np.minimum.at(new_ub, ci, up)
        np.maximum.at(new_lb, ci, down)
        new_ub = np.floor(new_ub + 1e-7)
        new_lb = np.ceil(new_lb - 1e-7)
        if np.any(new_lb > new_ub):
            return False
        if np.array_equal(new_lb, lb) and np.array_equal(new_ub, ub):
            return True
        lb[:], ub[:] = new_lb, new_ub
    return True


@dataclass
class _Solver:
    """HiGHS through scipy, counting its calls; LPs are the same call without integrality."""

    time_limit: float
    solves: int = 0

    def __call__(
        self,
        a: csr_matrix,
        lo: np.ndarray,
        hi: np.ndarray,
        c: np.ndarray,
        lb: np.ndarray,
        ub: np.ndarray,
        integral: bool = True,
    ) -> tuple[int, float, np.ndarray | None]:
        """(status, proven bound on min c x, solution): status 0 optimal, 1 limit, 2 infeasible."""
        self.solves += 1
        res = milp(
            c,
            integrality=np.ones(len(c)) if integral else np.zeros(len(c)),
            bounds=Bounds(lb, ub),
            constraints=[LinearConstraint(a, lo, hi)] if a.shape[0] else [],
            options={"time_limit": self.time_limit, "presolve": True, "mip_rel_gap": 0.0},
        )
        if res.status == 2:
            return 2, math.nan, None
        x = None if res.x is None else np.round(res.x)
        if x is not None and not integral and np.abs(res.x - x).max(initial=0.0) > 1e-7:
            x = None  # a fractional LP vertex is no witness; an integral one is an integer solution
        if res.status == 0:
            return 0, float(res.fun), x
        bound = getattr(res, "mip_dual_bound", None)
        return 1, float(bound) if bound is not None and integral else -math.inf, x


def _feasible(model: _Model, families: set[str], solver: _Solver) -> bool:
    system = _system(model, families)
    if isinstance(system, str):
        return False
    lb, ub = system.lb.copy(), system.ub.copy()
    if not _propagate(system.a, system.lo, system.hi, lb, ub):
        return False
    return solver(system.a, system.lo, system.hi, np.zeros(len(lb)), lb, ub)[0] != 2


def _choose_families(model: _Model, solver: _Solver) -> tuple[set[str], dict[str, str]]:
    """Drop a family that published numbers contradict, then any whose removal makes it feasible."""
    families = {eq.family for eq in model.eqs}
    dropped: dict[str, str] = {}
    for fam in sorted(families):
        if isinstance(_system(model, {fam}), str):
            dropped[fam] = "contradicted by cells published in full"
    families -= set(dropped)
    if _feasible(model, families, solver):
        return families, dropped
    for fam in sorted(families):
        if not _feasible(model, {fam}, solver):
            dropped[fam] = "infeasible on its own"
    families -= set(dropped)
    while families and not _feasible(model, families, solver):
        for fam in sorted(families):
            if _feasible(model, families - {fam}, solver):
                dropped[fam] = "infeasible together with the others"
                families.discard(fam)
                break
        else:
            dropped.update(dict.fromkeys(families, "system infeasible"))
            families = set()
    return families, dropped


def _tighten(
    system: _System, lb: np.ndarray, ub: np.ndarray, cells: np.ndarray, solver: _Solver, exact_only: bool
) -> None:
    """Narrow the cells' bounds to the integer program's true min and max, component by component.

    Published values are already substituted; variables the propagation fixed are substituted
    too, and the rest splits into independent blocks. In a block, a few solutions pushed in
    different directions are witnesses (inner bounds) for every cell; a bound is then proven by
    the LP relaxation when it meets a witness, and by the integer program otherwise.
    """
    free = lb < ub
    if not free.any():
        return
    a = system.a
    const = a[:, ~free] @ lb[~free]
    af = a[:, free].tocsr()
    active = np.diff(af.indptr) > 0
    cols = np.flatnonzero(free)
    n_blocks, label = connected_components(abs(af[active]).T @ abs(af[active]), directed=False)
    is_cell = np.zeros(len(lb), dtype=bool)
    is_cell[cells] = True
    rng = np.random.default_rng(0)
    af_active = af[active]
    lo, hi = system.lo[active] - const[active], system.hi[active] - const[active]
    for block in range(n_blocks):
        local = np.flatnonzero(label == block)
        glob = cols[local]
        if not is_cell[glob].any():
            continue
        sub = af_active[:, local]
        rows = np.diff(sub.tocsr().indptr) > 0
        sub = sub[rows].tocsr()
        blo, bhi = lo[rows], hi[rows]
        blb, bub = lb[glob].copy(), ub[glob].copy()
        mine = np.flatnonzero(is_cell[glob])
        inner_lo = np.full(len(mine), np.inf)
        inner_hi = np.full(len(mine), -np.inf)

        def witness(x: np.ndarray | None, mine: np.ndarray = mine, il=inner_lo, ih=inner_hi) -> None:
            if x is not None:
                np.minimum(il, x[mine], out=il)
                np.maximum(ih, x[mine], out=ih)

        c = np.zeros(len(glob))
        for weights in rng.choice([-1.0, 1.0], (2, len(mine))):
            c[:] = 0
            c[mine] = weights
            witness(solver(sub, blo, bhi, c, blb, bub)[2])
        # Push the cells still short of their bound, with random weights so that pushes differ,
        # until three pushes in a row gain (almost) nothing.
        for sign in (1.0, -1.0):
            idle = 0
            while idle < 3:
                short = (inner_lo > blb[mine]) if sign > 0 else (inner_hi < bub[mine])
                if not short.any():
                    break
                before = short.sum()
                c[:] = 0
                c[mine[short]] = sign * (0.5 + rng.random(before))
                witness(solver(sub, blo, bhi, c, blb, bub)[2])
                still = (inner_lo > blb[mine]) if sign > 0 else (inner_hi < bub[mine])
                idle = idle + 1 if before - still.sum() < max(1, before // 50) else 0
        for pos in np.argsort(bub[mine] - blb[mine], kind="stable"):
            j = mine[pos]
            if exact_only and inner_lo[pos] < inner_hi[pos]:
                continue  # two witnesses differ: not recoverable; its outer bounds stay as they are
            for sign in (1.0, -1.0):
                c[:] = 0
                c[j] = sign
                for integral in (False, True):
                    if (inner_lo[pos] if sign > 0 else inner_hi[pos]) == (blb[j] if sign > 0 else bub[j]):
                        break
                    status, bound, x = solver(sub, blo, bhi, c, blb, bub, integral)
                    witness(x)
                    if status == 2 or not math.isfinite(bound):
                        continue
                    before = (blb[j], bub[j])
                    if sign > 0:
                        blb[j] = max(blb[j], math.ceil(bound - 1e-6))
                    else:
                        bub[j] = min(bub[j], math.floor(-bound + 1e-6))
                    if (blb[j], bub[j]) != before:
                        _propagate(sub, blo, bhi, blb, bub)  # a proven bound narrows its neighbours
        lb[glob], ub[glob] = blb, bub


def attack(
    site: Path,
    *,
    pages: bool = True,
    without: Iterable[str] = (),
    exact_only: bool = False,
    time_limit: float = 5.0,
) -> Attack:
    """Every suppressed cell of a built site with the range the published numbers allow.

    `pages=False` reads the CSV downloads alone (no chart, card, table or note of the HTML
    pages); `without` leaves out relation families by name, to see which ones a recovery needs.
    `exact_only=True` only decides which cells are recovered: a cell two solutions disagree on
    keeps its propagated bounds (sound, wider than its true range), which saves most solves.
    """
    started = time.perf_counter()
    model = _Reader(Path(site), pages=pages).model
    model.eqs = [eq for eq in model.eqs if eq.family not in set(without)]
    solver = _Solver(time_limit)
    families, dropped = _choose_families(model, solver)
    system = _system(model, families)
    if isinstance(system, str):
        raise RuntimeError(f"relations of {system} contradict published cells")
    lb, ub = system.lb.copy(), system.ub.copy()
    if not _propagate(system.a, system.lo, system.hi, lb, ub):
        raise RuntimeError("the chosen relations are infeasible")
    cells = np.array(sorted(system.index[k] for k in model.where if k in system.index), dtype=int)
    _tighten(system, lb, ub, cells, solver, exact_only)
    ranges = []
    for k in sorted(model.where):
        # A cell suppressed in one place but published in another is recovered without solving.
        if k in model.fixed:
            low = high = model.fixed[k]
        elif k in system.index:
            low, high = int(lb[system.index[k]]), int(ub[system.index[k]])
        else:
            continue
        ranges.append(
            Range(
                k,
                model.marker.get(k, ""),
                list(model.where[k]),
                low,
                high,
                model.shown.get(k, []),
                model.derivations.get(k, []),
            )
        )
    counts: dict[str, int] = defaultdict(int)
    for eq in model.eqs:
        if eq.family in families:
            counts[eq.family] += 1
    return Attack(
        ranges=ranges,
        relations=dict(sorted(counts.items())),
        dropped=dropped,
        conflicts=list(model.conflicts),
        solves=solver.solves,
        seconds=time.perf_counter() - started,
    )


def describe(result: Attack) -> Iterable[str]:
    """Lines for a person: the figures of one attack."""
    small = [r for r in result.ranges if r.marker.startswith("<")]
    exact = result.recovered()
    yield (
        f"{len(result.ranges)} suppressed cells ({len(small)} '<11'), {len(exact)} recovered exactly, "
        f"{result.solves} integer programs in {result.seconds:.1f} s"
    )
    if result.ranges:
        narrow = min(result.ranges, key=lambda r: r.width)
        yield f"narrowest range: {'/'.join(narrow.key)} in [{narrow.low}, {narrow.high}] ({narrow.where[:1]})"
    if result.dropped:
        yield f"relations dropped: {result.dropped}"
    if result.conflicts:
        yield f"conflicting publications: {result.conflicts[:5]}"
