"""Disclosure control over everything the site publishes, as one system of cells and relations.

Every published count is a *cell*; every way published counts add up to each other — within a
table, across tables, and through figures that are exact functions of counts — is a *relation*
Σ coef·cell = 0. Suppression then works on the whole system at once:

1. **Primary**: every cell from 1 to threshold−1 is hidden ("<11").
2. **Complementary**: a relation left with a single hidden cell would give it back by
   subtraction, so a visible cell of that relation is hidden too ("*") — the smallest nonzero one,
   since hiding it loses the least information. Zeros are never complements.
3. **Audit**: the attacker's problem, posed as an integer program over every cell and relation
   (scipy's HiGHS `milp`): visible cells are known, a "<11" cell lies in 1..threshold−1, a "*" cell is
   at least threshold (the attacker knows zeros are never hidden), and unpublished helper cells
   (counts no table shows, such as cases of an outcome without a second tier) are anything ≥ 0.
   For each "<11" cell the audit computes the range of values consistent with everything
   published. The protection interval is the whole small band: a cell is protected only when that
   range is 1..threshold−1, i.e. the published tables together say nothing about it beyond "<11".
   Where a range is narrower, the smallest visible cell sharing a relation with the exposed cell
   is hidden as well, and the audit runs again, until it passes (this is the protection-interval
   method of tau-ARGUS and sdcTable, with the interval set to the band).

The integer program is decomposed into the connected components of the hidden cells (cells that
share no relation cannot inform each other). Within a component most cells are certified in a
few solves: minimising (maximising) the sum of the unresolved small cells yields a solution in
which many sit at 1 (at threshold−1), which proves each of those reaches that end; only the rest
are bounded one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

#: Branch-and-bound nodes HiGHS may explore in one of the attacker's integer programs. A solve
#: stopped there gives its best feasible point as a witness, and a cell with no witnesses far
#: enough apart counts as exposed. Work is bounded by nodes, not seconds, so the same tables give
#: the same decision on any machine and under any load (a time limit made a slow or busy machine
#: hide other cells, and audit longer).
SOLVE_NODES = 500
#: A safety net only: no program is expected to come near it.
SOLVE_SECONDS = 120.0
#: The protection interval (as in tau-ARGUS and sdcTable): the smallest width the attacker's
#: feasible range of a small count may have. 4 means at least five values stay possible.
DEFAULT_PROTECTION = 4
#: Rounds a small cell may stay exposed while cells around it are hidden before it is held only
#: to "not exact" (see protect).
STUCK_ROUNDS = 8
#: Nodes for the program that chooses what to hide around one exposed cell; its best solution
#: so far is used (the audit checks it anyway).
COVER_NODES = 200
#: Steered solves without progress before the audit bounds the remaining cells one by one, and the
#: most steered solves per component and round.
WITNESS_PATIENCE = 3
MAX_WITNESSES = 60


class CellConflict(ValueError):
    """One cell key registered twice with different values: two tables disagree about a count."""


@dataclass
class Cells:
    """The cells and relations of a publication, built table by table.

    A cell is a key (str) with a count. The same count published in two tables takes the same
    key, so hiding it once hides it everywhere. `published=False` marks helper cells: counts the
    audit must reason about (they enter relations) but that no table shows.
    """

    _cells: list[pl.DataFrame] = field(default_factory=list)
    _terms: list[pl.DataFrame] = field(default_factory=list)

    def add(
        self,
        keys: pl.Series | list[str],
        values: pl.Series | list[int],
        *,
        published: bool | pl.Series = True,
    ) -> None:
        """Cells by key; `published` is one flag for all, or one per cell."""
        frame = pl.DataFrame(
            {"key": pl.Series(keys, dtype=pl.String), "value": pl.Series(values, dtype=pl.Int64)}
        ).with_columns(
            published=pl.Series(published, dtype=pl.Boolean)
            if isinstance(published, pl.Series)
            else pl.lit(published)
        )
        self._cells.append(frame.filter(pl.col("key").is_not_null()))

    def relate(
        self, relation: pl.Series | list[str], key: pl.Series | list[str], coef: pl.Series | list[int]
    ) -> None:
        """Terms of relations: for each relation id, Σ coef·cell(key) = 0."""
        self._terms.append(
            pl.DataFrame(
                {
                    "relation": pl.Series(relation, dtype=pl.String),
                    "key": pl.Series(key, dtype=pl.String),
                    "coef": pl.Series(coef, dtype=pl.Int64),
                }
            )
        )

    def sums(self, parts: pl.DataFrame, totals: pl.DataFrame) -> None:
        """Parts add up to their total: `parts` and `totals` are frames of (relation, key)."""
        self.relate(
            pl.concat([parts["relation"], totals["relation"]]),
            pl.concat([parts["key"], totals["key"]]),
            [1] * parts.height + [-1] * totals.height,
        )

    def model(self) -> CellModel:
        cells = (
            pl.concat(self._cells)
            if self._cells
            else pl.DataFrame(schema={"key": pl.String, "value": pl.Int64, "published": pl.Boolean})
        )
        merged = cells.group_by("key", maintain_order=True).agg(
            pl.col("value").n_unique().alias("k"), pl.col("value").first(), pl.col("published").any()
        )
        bad = merged.filter(pl.col("k") > 1)
        if bad.height:
            raise CellConflict(f"cells published with two values: {', '.join(bad['key'].head(5).to_list())}")
        terms = (
            pl.concat(self._terms)
            if self._terms
            else pl.DataFrame(schema={"relation": pl.String, "key": pl.String, "coef": pl.Int64})
        )
        terms = terms.group_by("relation", "key").agg(pl.col("coef").sum()).filter(pl.col("coef") != 0)
        unknown = terms.join(merged, on="key", how="anti")
        if unknown.height:
            raise KeyError(
                f"relations name cells never registered: {', '.join(unknown['key'].head(5).to_list())}"
            )
        # A relation is only as good as the data it describes: one that does not hold exactly
        # (targeting deciles of a model trained on an earlier set of cases, say) is no use to an
        # attacker either, and would make the audit's program infeasible. It is left out, counted.
        residual = (
            terms.join(merged.select("key", "value"), on="key")
            .group_by("relation")
            .agg((pl.col("coef") * pl.col("value")).sum().alias("r"))
        )
        broken = residual.filter(pl.col("r") != 0)["relation"]
        terms = terms.filter(~pl.col("relation").is_in(broken.implode()))
        return CellModel(merged.drop("k"), terms.sort("relation", "key"), broken.sort().to_list())


@dataclass
class CellModel:
    cells: pl.DataFrame  # key, value, published
    terms: pl.DataFrame  # relation, key, coef
    broken: list[str] = field(default_factory=list)  # relations that did not hold, left out


@dataclass
class Decision:
    """Which cells are hidden, why, and what the audit proved."""

    cells: (
        pl.DataFrame
    )  # key, value, published, primary, target, hidden, added_by_audit, range_low, range_high
    threshold: int
    protection: int = 0
    rounds: int = 0
    relations: int = 0
    broken: list[str] = field(default_factory=list)

    @property
    def hidden_keys(self) -> set[str]:
        return set(self.cells.filter(pl.col("hidden") & pl.col("published"))["key"].to_list())

    def summary(self) -> dict[str, int | float | None]:
        c = self.cells.filter(pl.col("published"))
        primary = self.cells.filter(pl.col("target"))
        widths = (primary["range_high"] - primary["range_low"]).drop_nulls()
        return {
            "cells_published": c.height,
            "cells_protected": primary.height,
            "cells_hidden_as_complements": c.filter(pl.col("hidden") & ~pl.col("primary")).height,
            "cells_added_by_audit": c.filter(pl.col("added_by_audit")).height,
            "narrowest_range": int(widths.min()) if widths.len() else None,  # type: ignore[arg-type]
            # small counts around which nothing was left to hide: protected only from being exact
            "cells_below_interval": primary.filter(pl.col("need") < self.protection).height
            if "need" in primary.columns
            else 0,
            "protection_interval": self.protection,
            "audit_rounds": self.rounds,
            "relations": self.relations,
            "relations_not_holding": len(self.broken),
        }


def _complements(cells: pl.DataFrame, terms: pl.DataFrame) -> pl.DataFrame:
    """One round of the arithmetic pass: in every relation with exactly one hidden cell worth
    protecting (a published hidden cell, or a small helper), hide the smallest visible nonzero
    published cell (ties by key). Returns the keys to hide."""
    joined = terms.join(cells.select("key", "value", "published", "hidden", "target"), on="key")
    guarded = pl.col("hidden") & (pl.col("published") | pl.col("target"))
    exposed = joined.group_by("relation").agg(guarded.sum().alias("k")).filter(pl.col("k") == 1)
    candidates = joined.join(exposed.select("relation"), on="relation").filter(
        ~pl.col("hidden") & pl.col("published") & (pl.col("value") > 0)
    )
    return (
        candidates.sort("value", "key")
        .group_by("relation", maintain_order=True)
        .agg(pl.col("key").first())
        .select("key")
        .unique()
    )


def _start_bounds(cells: pl.DataFrame, threshold: int) -> pl.DataFrame:
    """What the attacker knows of each cell before using any relation: key, lo, hi."""
    hidden = pl.col("hidden")
    return cells.select(
        "key",
        lo=pl.when(~hidden)
        .then(pl.col("value").cast(pl.Float64))
        .when(pl.col("primary"))
        .then(pl.lit(1.0))
        .when(pl.col("published"))
        .then(pl.lit(float(threshold)))
        .otherwise(pl.lit(0.0)),
        hi=pl.when(~hidden)
        .then(pl.col("value").cast(pl.Float64))
        .when(pl.col("primary"))
        .then(pl.lit(float(threshold - 1)))
        .otherwise(pl.lit(float("inf"))),
    )


def _implied(terms: pl.DataFrame, bounds: pl.DataFrame) -> pl.DataFrame:
    """For every term: the interval its relation alone implies for its cell (relation, key, ilo, ihi)."""
    t = terms.join(bounds, on="key").with_columns(
        cmin=pl.when(pl.col("coef") > 0)
        .then(pl.col("coef") * pl.col("lo"))
        .otherwise(pl.col("coef") * pl.col("hi")),
        cmax=pl.when(pl.col("coef") > 0)
        .then(pl.col("coef") * pl.col("hi"))
        .otherwise(pl.col("coef") * pl.col("lo")),
    )
    finite_min = pl.when(pl.col("cmin").is_infinite()).then(0.0).otherwise(pl.col("cmin"))
    finite_max = pl.when(pl.col("cmax").is_infinite()).then(0.0).otherwise(pl.col("cmax"))
    t = t.with_columns(
        smin=finite_min.sum().over("relation"),
        nmin=pl.col("cmin").is_infinite().sum().over("relation"),
        smax=finite_max.sum().over("relation"),
        nmax=pl.col("cmax").is_infinite().sum().over("relation"),
    )
    # coef_j x_j = -(sum of the others), so it lies in [-(others' max), -(others' min)]
    others_max_inf = (pl.col("nmax") - pl.col("cmax").is_infinite().cast(pl.UInt32)) > 0
    others_min_inf = (pl.col("nmin") - pl.col("cmin").is_infinite().cast(pl.UInt32)) > 0
    low = pl.when(others_max_inf).then(float("-inf")).otherwise(-(pl.col("smax") - finite_max))
    high = pl.when(others_min_inf).then(float("inf")).otherwise(-(pl.col("smin") - finite_min))
    return t.select(
        "relation",
        "key",
        ilo=pl.when(pl.col("coef") > 0).then(low / pl.col("coef")).otherwise(high / pl.col("coef")).ceil(),
        ihi=pl.when(pl.col("coef") > 0).then(high / pl.col("coef")).otherwise(low / pl.col("coef")).floor(),
    )


def propagate(cells: pl.DataFrame, terms: pl.DataFrame, threshold: int, rounds: int = 30) -> pl.DataFrame:
    """Interval bounds implied by the relations (constraint propagation, as an integer-programming
    presolve does): key, lo, hi. Every feasible value lies inside them, so a small cell whose
    propagated interval is narrower than the protection interval is certainly exposed; no solver
    is needed to know."""
    bounds = _start_bounds(cells, threshold)
    for _ in range(rounds):
        implied = _implied(terms, bounds).group_by("key").agg(pl.col("ilo").max(), pl.col("ihi").min())
        new = bounds.join(implied, on="key", how="left").select(
            "key",
            lo=pl.max_horizontal("lo", pl.col("ilo").fill_null(float("-inf"))),
            hi=pl.min_horizontal("hi", pl.col("ihi").fill_null(float("inf"))),
        )
        if new.equals(bounds):
            break
        bounds = new
    return bounds


def _binding(keys: list[str], cells: pl.DataFrame, terms: pl.DataFrame, bounds: pl.DataFrame) -> pl.DataFrame:
    """For each exposed key, the smallest visible nonzero published cell of the relation that pins it
    hardest (the narrowest interval a single relation implies for it): key."""
    info = cells.select("key", "value", "published", "hidden")
    narrow = (
        _implied(terms, bounds)
        .filter(pl.col("key").is_in(keys))
        .with_columns(width=pl.col("ihi") - pl.col("ilo"))
        .select(pl.col("key").alias("origin"), "relation", "width")
    )
    candidates = (
        narrow.join(terms.select("relation", "key"), on="relation")
        .join(info, on="key")
        .filter(~pl.col("hidden") & pl.col("published") & (pl.col("value") > 0))
        .sort("width", "value", "key")
        .group_by("origin", maintain_order=True)
        .agg(pl.col("key").first())
    )
    return candidates.select("key").unique()


def _components(hidden: list[str], terms: pl.DataFrame) -> list[list[str]]:
    """Connected components of the hidden cells through the relations they share."""
    index = {k: i for i, k in enumerate(hidden)}
    parent = list(range(len(hidden)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    mine = terms.filter(pl.col("key").is_in(hidden)).group_by("relation").agg(pl.col("key"))
    for keys in mine["key"].to_list():
        first = find(index[keys[0]])
        for other in keys[1:]:
            root = find(index[other])
            if root != first:
                parent[root] = first
    groups: dict[int, list[str]] = {}
    for k, i in index.items():
        groups.setdefault(find(i), []).append(k)
    return list(groups.values())


@dataclass
class _Program:
    """The attacker's integer program for one component: hidden cells as variables."""

    keys: list[str]
    lower: np.ndarray
    upper: np.ndarray
    constraint: LinearConstraint | None

    def solve(self, objective: np.ndarray) -> np.ndarray | None:
        kwargs = {"constraints": self.constraint} if self.constraint is not None else {}
        res = milp(
            objective,
            integrality=np.ones(len(self.keys)),
            bounds=Bounds(self.lower, self.upper),
            options={"node_limit": SOLVE_NODES, "time_limit": SOLVE_SECONDS, "presolve": True},
            **kwargs,
        )
        # any feasible point is a value the attacker cannot rule out, so a solve stopped by its
        # node limit still gives a witness (ranges stay inner bounds: never wider than the truth)
        return np.round(res.x) if res.status in (0, 1) and res.x is not None else None


def _program(component: list[str], cells: pl.DataFrame, terms: pl.DataFrame, threshold: int) -> _Program:
    comp = pl.DataFrame({"key": component, "var": np.arange(len(component))})
    info = comp.join(cells.select("key", "value", "primary", "published"), on="key", how="left").sort("var")
    primary = info["primary"].to_numpy()
    published = info[
        "published"
    ].to_numpy()  # hidden published cells are "<11" (primary) or "*" (>= threshold)
    lower = np.where(primary, 1.0, np.where(published, float(threshold), 0.0))
    upper = np.where(primary, float(threshold - 1), np.inf)
    rel = terms.filter(
        pl.col("relation").is_in(terms.filter(pl.col("key").is_in(component))["relation"].unique())
    )
    rel = rel.join(cells.select("key", "value", "hidden"), on="key")
    ids = rel["relation"].unique().sort()
    row = {r: i for i, r in enumerate(ids.to_list())}
    var_terms = rel.filter(pl.col("hidden")).join(comp, on="key")
    known = (
        rel.filter(~pl.col("hidden"))
        .group_by("relation")
        .agg((pl.col("coef") * pl.col("value")).sum().alias("c"))
    )
    rhs = np.zeros(len(row))
    for r, c in known.iter_rows():
        rhs[row[r]] = -float(c)
    if not row:
        return _Program(component, lower, upper, None)
    matrix = sparse.csr_matrix(
        (
            var_terms["coef"].cast(pl.Float64).to_numpy(),
            (
                var_terms["relation"].replace_strict(row, return_dtype=pl.Int64).to_numpy(),
                var_terms["var"].to_numpy(),
            ),
        ),
        shape=(len(row), len(component)),
    )
    return _Program(component, lower, upper, LinearConstraint(matrix, rhs, rhs))


def _ranges(program: _Program, targets: list[int], width: np.ndarray) -> dict[int, tuple[float, float]]:
    """Feasible [min, max] of each target variable, as far as protection needs to know it.

    Every solution of the program is a set of values the attacker cannot rule out, so each target
    keeps the lowest and highest value any solution gave it; once they lie `width` apart the target
    is protected. Solutions are steered: the first minimises and the second maximises the sum of
    the targets; later ones push each still-open target towards whichever end it has explored
    least, all at once, until a few solves in a row settle nothing more (WITNESS_PATIENCE). Targets
    still open are then bounded one by one, exactly; NaN where HiGHS gives up counts as exposed."""
    n = len(program.keys)
    t = np.array(targets)
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    rng = np.random.default_rng(len(targets))
    stale, rounds = 0, 0
    while stale < WITNESS_PATIENCE and rounds < MAX_WITNESSES:
        still = ~(hi[t] - lo[t] >= width)
        open_ = t[still]
        if open_.size == 0:
            break
        objective = np.zeros(n)
        if rounds < 2:
            objective[open_] = 1.0 if rounds == 0 else -1.0
        else:
            room_down = lo[open_] - program.lower[open_]
            room_up = np.minimum(program.upper[open_], lo[open_] + 4 * width[still]) - hi[open_]
            objective[open_] = np.where(room_down > room_up, 1.0, -1.0) * rng.uniform(0.5, 1.5, open_.size)
        x = program.solve(objective)
        rounds += 1
        if x is None:
            break
        settled = int((hi[t] - lo[t] >= width).sum())
        lo, hi = np.minimum(lo, x), np.maximum(hi, x)
        stale = stale + 1 if int((hi[t] - lo[t] >= width).sum()) == settled and rounds > 2 else 0
    for i in t[~(hi[t] - lo[t] >= width)]:
        one = np.zeros(n)
        one[i] = 1.0
        x_lo, x_hi = program.solve(one), program.solve(-one)
        lo[i] = x_lo[i] if x_lo is not None else np.nan
        hi[i] = x_hi[i] if x_hi is not None else np.nan
    return {int(i): (float(lo[i]), float(hi[i])) for i in t}


#: Ranges of a component already audited, by its hidden cells and their needs.
AuditCache = dict[tuple[frozenset[str], tuple[tuple[str, float], ...]], list[tuple[str, float, float]]]


def audit(
    cells: pl.DataFrame, terms: pl.DataFrame, threshold: int, cache: AuditCache | None = None
) -> pl.DataFrame:
    """For every hidden small cell: key, range_low, range_high — points of the attacker's feasible
    range at least the cell's `need` apart where they exist, else its exact ends.

    A component's program depends only on its own hidden cells (the visible cells of its
    relations are constants until one of them is hidden, and then it joins the component), so a
    `cache` carried across rounds re-solves only the components that changed."""
    hidden = cells.filter(pl.col("hidden"))["key"].to_list()
    need = dict(cells.filter(pl.col("hidden") & pl.col("target")).select("key", "need").iter_rows())
    rows: list[tuple[str, float, float]] = []
    for component in _components(hidden, terms):
        targets = [i for i, k in enumerate(component) if k in need]
        if not targets:
            continue
        signature = (frozenset(component), tuple(sorted((component[i], need[component[i]]) for i in targets)))
        if cache is not None and signature in cache:
            rows += cache[signature]
            continue
        program = _program(component, cells, terms, threshold)
        widths = np.array([need[component[i]] for i in targets])
        found = [(component[i], lo, hi) for i, (lo, hi) in _ranges(program, targets, widths).items()]
        if cache is not None:
            cache[signature] = found
        rows += found
    return pl.DataFrame(
        rows, schema={"key": pl.String, "range_low": pl.Float64, "range_high": pl.Float64}, orient="row"
    )


def _cover(key: str, cells: pl.DataFrame, terms: pl.DataFrame, threshold: int, protection: int) -> list[str]:
    """A cover from the local program, else from the whole system (where protecting the cell
    needs changes two relations away, e.g. a month under a count next to the small one)."""
    return _cover_program(key, cells, terms, threshold, protection, local=True) or _cover_program(
        key, cells, terms, threshold, protection, local=False
    )


def _cover_program(
    key: str, cells: pl.DataFrame, terms: pl.DataFrame, threshold: int, protection: int, *, local: bool
) -> list[str]:
    """The cheapest set of visible cells whose hiding protects `key` (Fischetti and Salazar's
    model, one cell at a time): two copies of the table, each a solution the attacker could not
    rule out, put the cell at values `protection` apart; a visible cell may take a value other
    than its own in either copy only if it is hidden, and hiding costs 1 + log(1 + value), so the
    program hides few and small cells. Zeros are never hidden; a hidden cell is at least the
    threshold, as a "*" says. Returns [] when no hiding can protect the cell.

    The program is local: the hidden cells connected to `key`, the visible cells of their
    relations (the candidates), and every relation those touch. Cells further out keep their true
    values in both copies, which only narrows the witnesses, so a cover found here is a cover of
    the whole system; it keeps most programs small. With `local` false, the whole system."""
    fixed = pl.Series([], dtype=pl.String)
    if local:
        within, fixed, touching = _locality(key, cells, terms)
        cells = cells.filter(pl.col("key").is_in(within.implode()))
        terms = terms.filter(pl.col("relation").is_in(touching.implode()))
    info = cells.select("key", "value", "published", "hidden", "primary").with_row_index("var")
    n = info.height
    var = dict(zip(info["key"].to_list(), info["var"].to_list(), strict=True))
    value = info["value"].cast(pl.Float64).to_numpy()
    is_fixed = info["key"].is_in(fixed.implode()).to_numpy()
    hidden = info["hidden"].to_numpy() & ~is_fixed
    primary = info["primary"].to_numpy()
    published = info["published"].to_numpy()
    free = ~hidden & ~is_fixed & published & (value > 0)  # may be hidden: the decision variables z
    # how far a hidden cell may move in a witness: its own size, or a few protection widths for
    # a small one (tight bounds keep the program well conditioned; the audit checks the result)
    reach = np.maximum(value, 10.0 * protection)
    big = float(reach.max()) * 2 + threshold
    # (a fixed cell is not hidden here: it keeps its value in both copies)
    lower = np.where(hidden, np.where(primary, 1.0, np.where(published, float(threshold), 0.0)), value)
    upper = np.where(hidden, np.where(primary, float(threshold - 1), big), value)
    lower = np.where(free, float(threshold), lower)
    upper = np.where(free, value + reach, upper)
    x = var[key]
    low_target = float(min(max(1, int(value[x]) - protection // 2), threshold - 1 - protection))
    lower_a, upper_a = lower.copy(), upper.copy()
    lower_b, upper_b = lower.copy(), upper.copy()
    upper_a[x] = min(upper_a[x], low_target)
    lower_b[x] = max(lower_b[x], low_target + protection)
    if lower_b[x] > upper_b[x] or lower_a[x] > upper_a[x]:
        return []
    rows = (
        terms["relation"]
        .replace_strict(
            {r: i for i, r in enumerate(terms["relation"].unique().sort().to_list())}, return_dtype=pl.Int64
        )
        .to_numpy()
    )
    cols = terms["key"].replace_strict(var, return_dtype=pl.Int64).to_numpy()
    coef = terms["coef"].cast(pl.Float64).to_numpy()
    m = int(rows.max()) + 1 if rows.size else 0
    z_index = np.flatnonzero(free)
    k = z_index.size
    # variables: copy a (n), copy b (n), z (k)
    relation = sparse.csr_matrix((coef, (rows, cols)), shape=(m, n))
    zeros_mn, zeros_mk = sparse.csr_matrix((m, n)), sparse.csr_matrix((m, k))
    blocks = [
        sparse.hstack([relation, zeros_mn, zeros_mk]),
        sparse.hstack([zeros_mn, relation, zeros_mk]),
    ]
    # |y - value| <= big * z for each free cell, in each copy
    pick = sparse.csr_matrix((np.ones(k), (np.arange(k), z_index)), shape=(k, n))
    zero_kn = sparse.csr_matrix((k, n))
    big_z = sparse.diags(reach[z_index], format="csr")
    for copy in (0, 1):
        y = sparse.hstack([pick, zero_kn] if copy == 0 else [zero_kn, pick])
        blocks.append(sparse.hstack([y, -big_z]))  # y - big z <= value
        blocks.append(sparse.hstack([y, big_z]))  # y + big z >= value
    matrix = sparse.vstack(blocks).tocsr()
    v = value[z_index]
    lo = np.concatenate([np.zeros(2 * m), np.full(k, -np.inf), v, np.full(k, -np.inf), v])
    hi = np.concatenate([np.zeros(2 * m), v, np.full(k, np.inf), v, np.full(k, np.inf)])
    objective = np.concatenate([np.zeros(2 * n), 1.0 + np.log1p(v)])
    res = milp(
        objective,
        integrality=np.ones(2 * n + k),
        bounds=Bounds(
            np.concatenate([lower_a, lower_b, np.zeros(k)]), np.concatenate([upper_a, upper_b, np.ones(k)])
        ),
        constraints=LinearConstraint(matrix, lo, hi),
        options={"node_limit": COVER_NODES, "time_limit": SOLVE_SECONDS, "presolve": True},
    )
    if res.x is None:  # infeasible, or no solution within its nodes: the caller widens by neighbours
        return []
    chosen = z_index[np.round(res.x[2 * n :]) > 0.5]
    return info["key"].gather(chosen).to_list()


def _locality(key: str, cells: pl.DataFrame, terms: pl.DataFrame) -> tuple[pl.Series, pl.Series, pl.Series]:
    """The cells of `key`'s cover program, those of them held at their true value, and its
    relations: the hidden component of `key` (H), the visible cells sharing a relation with it
    (the candidates, F), and the other cells of every relation touching H or F, held fixed (a
    relation touching neither holds among true values whatever the program does)."""
    hidden = cells.filter(pl.col("hidden"))["key"].to_list()
    component = next((c for c in _components(hidden, terms) if key in c), [key])
    inner = terms.filter(pl.col("key").is_in(component))["relation"].unique()
    candidates = (
        terms.filter(pl.col("relation").is_in(inner.implode()))
        .join(cells.select("key", "hidden"), on="key")
        .filter(~pl.col("hidden"))["key"]
        .unique()
    )
    core = pl.concat([pl.Series(component, dtype=pl.String), candidates]).unique()
    touching = terms.filter(pl.col("key").is_in(core.implode()))["relation"].unique()
    local = terms.filter(pl.col("relation").is_in(touching.implode()))["key"].unique()
    local = pl.concat([local, core]).unique()
    return local, local.filter(~local.is_in(core.implode())), touching


def _neighbours(keys: Iterable[str], cells: pl.DataFrame, terms: pl.DataFrame) -> pl.DataFrame:
    """The smallest visible nonzero published cell sharing a relation with each key, widening to
    the relations of hidden neighbours where a key's own relations have nothing left to hide."""
    keys = list(keys)
    info = cells.select("key", "value", "published", "hidden")
    frontier = pl.DataFrame({"origin": keys, "key": keys})
    seen = frontier
    picks: list[pl.DataFrame] = []
    while True:  # rings of relations outwards, through hidden cells, until something can be hidden
        rels = frontier.join(terms.select("relation", "key"), on="key").select("origin", "relation").unique()
        around = rels.join(terms.select("relation", "key"), on="relation").select("origin", "key").unique()
        around = around.join(info, on="key")
        found = (
            around.filter(~pl.col("hidden") & pl.col("published") & (pl.col("value") > 0))
            .sort("value", "key")
            .group_by("origin", maintain_order=True)
            .agg(pl.col("key").first())
        )
        picks.append(found)
        remaining = set(frontier["origin"].to_list()) - set(found["origin"].to_list())
        if not remaining:
            break
        frontier = around.filter(pl.col("origin").is_in(list(remaining)) & pl.col("hidden")).select(
            "origin", "key"
        )
        frontier = frontier.join(seen, on=["origin", "key"], how="anti")
        if frontier.is_empty():
            break
        seen = pl.concat([seen, frontier])
    return pl.concat(picks).select("key").unique() if picks else pl.DataFrame(schema={"key": pl.String})


def collapse(cells: pl.DataFrame, terms: pl.DataFrame, threshold: int) -> pl.Series:
    """Keys of the published cells that break down a small published count: they are not shown.

    A relation in which one term has the opposite sign to all the others says that term (the
    total) is the sum of the others (its parts). The parts of a total from 1 to threshold-1 are
    themselves small, so a breakdown could only print "<11" — while the parts' own labels would
    give the total lower bounds (seven months of a specialty, each "<11", make it at least 7).
    Such parts are collapsed: kept in the audit as helper cells, never published. Collapsing can
    cascade (a collapsed month total takes its outcome cells with it only through its own small
    totals), so it repeats until nothing changes (CMS: "collapse categories")."""
    signs = terms.with_columns(
        pos=(pl.col("coef") > 0).sum().over("relation"), neg=(pl.col("coef") < 0).sum().over("relation")
    )
    total_sign = pl.when(pl.col("neg") == 1).then(-1).when(pl.col("pos") == 1).then(1).otherwise(0)
    sums = signs.with_columns(total_sign=total_sign).filter(pl.col("total_sign") != 0)
    sums = sums.with_columns(is_total=(pl.col("coef").sign() == pl.col("total_sign")))
    published = cells.select("key", "value", "published")
    collapsed: set[str] = set()
    while True:
        state = published.with_columns(
            pl.col("published") & ~pl.col("key").is_in(pl.Series(list(collapsed), dtype=pl.String).implode())
        )
        small_totals = (
            sums.filter("is_total")
            .join(state, on="key")
            .filter(pl.col("published") & (pl.col("value") >= 1) & (pl.col("value") < threshold))
            .select("relation")
        )
        parts = sums.filter(~pl.col("is_total")).join(small_totals, on="relation").join(state, on="key")
        new = set(parts.filter("published")["key"].to_list()) - collapsed
        if not new:
            return pl.Series("key", sorted(collapsed), dtype=pl.String)
        collapsed |= new


def protect(
    model: CellModel, threshold: int, *, protection: int = DEFAULT_PROTECTION, max_rounds: int = 200
) -> Decision:
    """Primary suppression, the arithmetic complements, then audit rounds until every small cell
    is protected: the values an attacker cannot rule out span at least `protection` (five or more
    possible values at the default of 4), within what a "<11" already says."""
    # at most half the small band (a count from 1 to threshold-1 spans threshold-2 at the widest)
    protection = max(1, min(protection, (threshold - 1) // 2))
    small = (pl.col("value") >= 1) & (pl.col("value") < threshold)
    folded = collapse(model.cells, model.terms, threshold)
    cells = (
        model.cells.with_columns(collapsed=pl.col("key").is_in(folded.implode()))
        .with_columns(published=pl.col("published") & ~pl.col("collapsed"))
        .with_columns(
            primary=pl.col("published") & small,
            # what the audit protects: every small published cell, and every small helper count (a
            # count no table shows can still be worked out from those that are)
            target=small,
        )
        .with_columns(
            hidden=pl.col("primary") | ~pl.col("published"),
            added_by_audit=pl.lit(False),
            # the range each small cell needs: the protection interval, relaxed to "not exact" (1)
            # only for a cell around which nothing is left to hide (reported, see Decision.summary)
            need=pl.lit(float(protection)),
        )
    )
    terms = model.terms
    rounds = 0
    ranges = pl.DataFrame(schema={"key": pl.String, "range_low": pl.Float64, "range_high": pl.Float64})
    streak: dict[str, int] = {}  # rounds in a row each cell has stayed exposed
    cache: AuditCache = {}
    for rounds in range(1, max_rounds + 1):  # noqa: B007 - rounds is reported
        while True:
            extra = _complements(cells, terms)
            if extra.is_empty():
                break
            cells = cells.with_columns(hidden=pl.col("hidden") | pl.col("key").is_in(extra["key"].implode()))
        bounds = propagate(cells, terms, threshold)
        certain = (
            cells.filter(pl.col("hidden") & pl.col("target"))
            .join(bounds, on="key")
            .filter(pl.col("hi") - pl.col("lo") < pl.col("need"))
        )
        if certain.height:  # exposed for sure: no need to ask the solver this round
            exposed = certain.select("key").sort("key")
        else:
            ranges = audit(cells, terms, threshold, cache)
            # in the audit's order (components, then cells), the same on every run: covers are
            # chosen one exposed cell after another, so the order decides what is hidden
            exposed = ranges.join(cells.select("key", "need"), on="key", maintain_order="left").filter(
                ~(pl.col("range_high") - pl.col("range_low") >= pl.col("need")).fill_null(False)
            )
            if exposed.is_empty():
                break
        streak = {k: streak.get(k, 0) + 1 for k in exposed["key"].to_list()}
        # a cell still exposed after STUCK_ROUNDS of hiding around it cannot reach the interval in
        # these tables: it is protected from being exact only (need 1), and reported as such
        stuck = [k for k, n in streak.items() if n >= STUCK_ROUNDS]
        if stuck:
            exact = cells.filter(pl.col("key").is_in(stuck) & (pl.col("need") <= 1))["key"].to_list()
            if exact:
                raise RuntimeError(
                    f"disclosure audit: small counts stay exact whatever is hidden: {exact[:3]}"
                )
            cells = cells.with_columns(
                need=pl.when(pl.col("key").is_in(stuck)).then(1.0).otherwise(pl.col("need"))
            )
            streak = {k: 0 for k in stuck}
            continue
        if certain.height:
            add = _binding(exposed["key"].to_list(), cells, terms, bounds)
            rest = set(exposed["key"].to_list()) - set(add["key"].to_list())
            if add.is_empty() or rest:
                add = pl.concat([add, _neighbours(exposed["key"].to_list(), cells, terms)]).unique()
        else:  # the solver found them: hide what protects one of each component, at least cost
            chosen: list[str] = []
            need = dict(cells.select("key", "need").iter_rows())
            hidden_now = cells.filter(pl.col("hidden"))["key"].to_list()
            component_of = {k: i for i, c in enumerate(_components(hidden_now, terms)) for k in c}
            covered: set[int] = set()
            for key in exposed["key"].to_list():
                if component_of.get(key, -1) in covered:
                    continue
                trial = cells.with_columns(hidden=pl.col("hidden") | pl.col("key").is_in(chosen))
                found = _cover(key, trial, terms, threshold, int(need[key]))
                if found:
                    chosen += found
                    covered.add(component_of.get(key, -1))
            add = pl.DataFrame({"key": sorted(set(chosen))}, schema={"key": pl.String})
            if add.is_empty():
                add = _neighbours(exposed["key"].to_list(), cells, terms)
        if add.is_empty():  # nothing left to hide around them: let the streak decide next round
            streak = {k: STUCK_ROUNDS - 1 for k in streak}
            continue
        cells = cells.with_columns(
            added_by_audit=pl.col("added_by_audit") | pl.col("key").is_in(add["key"].implode()),
            hidden=pl.col("hidden") | pl.col("key").is_in(add["key"].implode()),
        )
    else:
        raise RuntimeError(f"disclosure audit did not converge in {max_rounds} rounds")
    cells = cells.join(ranges, on="key", how="left")
    return Decision(cells, threshold, protection, rounds, terms["relation"].n_unique(), model.broken)
