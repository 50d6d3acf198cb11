"""The disclosure engine (dashboards/disclosure.py) on tables whose every feasible value is known.

Each test builds cells and relations by hand, lets `protect` decide, then asks an independent
attacker (a plain integer program over the same published numbers, written here) for the range
of values each small count can still take.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from dashboards.disclosure import DEFAULT_PROTECTION, CellConflict, Cells, Decision, protect

THRESHOLD = 11


def _table(rows: list[list[int]], *, margins: bool = True) -> Cells:
    """A two-way table r x c with its row totals, column totals and grand total, all published."""
    c = Cells()
    keys = [[f"x|{i}|{j}" for j in range(len(rows[0]))] for i in range(len(rows))]
    c.add([k for row in keys for k in row], [v for row in rows for v in row])
    if not margins:
        return c
    row_tot = [f"r|{i}" for i in range(len(rows))]
    col_tot = [f"c|{j}" for j in range(len(rows[0]))]
    c.add(row_tot, [sum(r) for r in rows])
    c.add(col_tot, [sum(col) for col in zip(*rows, strict=True)])
    c.add(["g"], [sum(map(sum, rows))])
    for i, row in enumerate(keys):
        c.relate([f"row{i}"] * (len(row) + 1), [*row, row_tot[i]], [1] * len(row) + [-1])
    for j in range(len(rows[0])):
        col = [keys[i][j] for i in range(len(rows))]
        c.relate([f"col{j}"] * (len(col) + 1), [*col, col_tot[j]], [1] * len(col) + [-1])
    c.relate(["rows"] * (len(rows) + 1), [*row_tot, "g"], [1] * len(rows) + [-1])
    c.relate(["cols"] * (len(rows[0]) + 1), [*col_tot, "g"], [1] * len(rows[0]) + [-1])
    return c


def _attack(cells: Cells, decision: Decision) -> dict[str, tuple[int, int]]:
    """The feasible [min, max] of every hidden published small cell, from what is published:
    visible cells exactly, "<11" in 1..10, "*" at least 11 (zeros are never hidden), helpers >= 0."""
    model = cells.model()
    table = decision.cells
    keys = table["key"].to_list()
    index = {k: i for i, k in enumerate(keys)}
    value = dict(zip(keys, table["value"].to_list(), strict=True))
    hidden = dict(zip(keys, table["hidden"].to_list(), strict=True))
    primary = dict(zip(keys, table["primary"].to_list(), strict=True))
    published = dict(zip(keys, table["published"].to_list(), strict=True))
    lo = np.array(
        [
            value[k] if not hidden[k] else (1 if primary[k] else THRESHOLD if published[k] else 0)
            for k in keys
        ],
        float,
    )
    hi = np.array(
        [value[k] if not hidden[k] else (THRESHOLD - 1 if primary[k] else np.inf) for k in keys], float
    )
    rels = sorted(set(model.terms["relation"].to_list()))
    a = np.zeros((len(rels), len(keys)))
    for r, k, coef in model.terms.iter_rows():
        a[rels.index(r), index[k]] = coef
    out: dict[str, tuple[int, int]] = {}
    for k in keys:
        if not (hidden[k] and 1 <= value[k] < THRESHOLD):
            continue
        ends = []
        for sign in (1.0, -1.0):
            obj = np.zeros(len(keys))
            obj[index[k]] = sign
            res = milp(
                obj,
                integrality=np.ones(len(keys)),
                bounds=Bounds(lo, hi),
                constraints=LinearConstraint(a, 0, 0) if rels else (),
            )
            assert res.status == 0, res.message
            ends.append(round(res.x[index[k]]))
        out[k] = (ends[0], ends[1])
    return out


def test_a_lone_small_cell_in_a_row_takes_the_smallest_other_cell_with_it() -> None:
    c = Cells()
    c.add(["a", "b", "c", "d", "t"], [3, 20, 15, 40, 78])
    c.relate(["row"] * 5, ["a", "b", "c", "d", "t"], [1, 1, 1, 1, -1])
    d = protect(c.model(), THRESHOLD)
    assert d.hidden_keys == {"a", "c"}  # 15, not 20 or 40
    assert d.cells.filter(d.cells["key"] == "a")["primary"].item()
    ranges = _attack(c, d)
    assert ranges["a"][1] - ranges["a"][0] >= DEFAULT_PROTECTION


def test_zeros_are_never_complements() -> None:
    c = Cells()
    c.add(["a", "b", "z", "big", "t"], [4, 25, 0, 60, 89])
    c.relate(["row"] * 5, ["a", "b", "z", "big", "t"], [1, 1, 1, 1, -1])
    d = protect(c.model(), THRESHOLD)
    assert "z" not in d.hidden_keys and {"a", "b"} <= d.hidden_keys


def test_small_cells_whose_sum_pins_them_down_are_widened_until_protected() -> None:
    # 1 + 1 hidden of a total: both could only be 1; the audit hides more until each spans 1..5 or more
    c = Cells()
    c.add(["a", "b", "c", "d", "t"], [1, 1, 30, 40, 72])
    c.relate(["row"] * 5, ["a", "b", "c", "d", "t"], [1, 1, 1, 1, -1])
    d = protect(c.model(), THRESHOLD)
    ranges = _attack(c, d)
    assert set(ranges) == {"a", "b"}
    assert all(high - low >= DEFAULT_PROTECTION for low, high in ranges.values())
    assert d.summary()["narrowest_range"] >= DEFAULT_PROTECTION


def test_a_small_total_is_shown_but_its_breakdown_is_not_published() -> None:
    # a total of 8 split 5 + 3: the parts could only print "<11", and would give the total lower bounds
    c = Cells()
    c.add(["p1", "p2", "t"], [5, 3, 8])
    c.relate(["row"] * 3, ["p1", "p2", "t"], [1, 1, -1])
    d = protect(c.model(), THRESHOLD)
    collapsed = dict(zip(d.cells["key"], d.cells["collapsed"], strict=True))
    assert collapsed == {"p1": True, "p2": True, "t": False}
    assert d.hidden_keys == {"t"}


def test_a_relation_that_does_not_hold_is_left_out_and_counted() -> None:
    c = Cells()
    c.add(["a", "b", "t"], [30, 40, 71])  # 30 + 40 != 71: a stale total
    c.relate(["row"] * 3, ["a", "b", "t"], [1, 1, -1])
    model = c.model()
    assert model.broken == ["row"] and model.terms.is_empty()


def test_one_count_published_twice_with_two_values_is_refused() -> None:
    c = Cells()
    c.add(["t|spine"], [120])
    c.add(["t|spine"], [121])
    with pytest.raises(CellConflict, match="t\\|spine"):
        c.model()


def test_an_exposure_only_the_solver_sees_is_closed_at_least_cost() -> None:
    # Rows: each row's cells sum to its visible total. Row 0's two small cells (2, 3) share a column
    # with row 1's small cells; interval propagation alone sees nothing wrong, the integer program
    # pins the small cells to within 3 of each other, and the audit hides what widens them.
    rows = [[2, 3, 40, 55], [3, 2, 60, 45], [30, 35, 70, 80]]
    c = _table(rows)
    d = protect(c.model(), THRESHOLD)
    ranges = _attack(c, d)
    assert len(ranges) == 4
    assert all(high - low >= DEFAULT_PROTECTION for low, high in ranges.values()), ranges
    assert d.summary()["cells_added_by_audit"] + d.summary()["cells_hidden_as_complements"] >= 2


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=45), min_size=3, max_size=4), min_size=2, max_size=4
    ).filter(lambda rows: len({len(r) for r in rows}) == 1)
)
def test_no_small_count_of_a_random_table_with_margins_can_be_narrowed_below_the_interval(
    rows: list[list[int]],
) -> None:
    c = _table(rows)
    d = protect(c.model(), THRESHOLD)
    shown = d.cells.filter(~d.cells["hidden"] & d.cells["published"])
    assert not ((shown["value"] >= 1) & (shown["value"] < THRESHOLD)).any()  # nothing small is shown
    assert not (
        d.cells.filter(d.cells["hidden"] & ~d.cells["primary"] & d.cells["published"])["value"] == 0
    ).any()
    for key, (low, high) in _attack(c, d).items():
        need = d.cells.filter(d.cells["key"] == key)["need"].item()
        assert high - low >= need, (key, low, high, rows)
        assert need in (1.0, float(DEFAULT_PROTECTION))
    # the decision's own audit agrees with the independent attacker on every range it reports
    reported = d.cells.filter(d.cells["range_low"].is_not_null())
    for key, low, high in reported.select("key", "range_low", "range_high").iter_rows():
        if key in (found := _attack(c, d)):
            assert found[key][0] <= low and high <= found[key][1]


def test_protection_is_capped_at_half_the_small_band_for_a_low_threshold() -> None:
    c = Cells()
    c.add(["a", "b", "c", "t"], [2, 3, 30, 35])
    c.relate(["row"] * 4, ["a", "b", "c", "t"], [1, 1, 1, -1])
    d = protect(c.model(), 5)
    assert d.protection == 2 and d.summary()["protection_interval"] == 2


def test_large_cells_alone_hide_nothing() -> None:
    c = _table([[20, 30], [40, 50]])
    d = protect(c.model(), THRESHOLD)
    assert d.hidden_keys == set() and d.summary()["cells_protected"] == 0


def test_every_arrangement_of_two_small_cells_in_a_two_by_two_is_protected() -> None:
    for a, b in itertools.product((1, 5, 10), repeat=2):
        c = _table([[a, 40], [50, b]])
        d = protect(c.model(), THRESHOLD)
        for key, (low, high) in _attack(c, d).items():
            assert high - low >= DEFAULT_PROTECTION, (a, b, key, low, high)


def test_a_cell_hidden_to_protect_another_prints_a_star_never_a_small_marker() -> None:
    """A complement is 0 or at least the threshold: printing it as "<11" would state a falsehood
    (the data-quality page once printed 29 pending cases as "<11")."""
    from dashboards.publication import Published

    c = Cells()
    c.add(["small", "large", "total"], [5, 29, 60])
    c.add(["other"], [26])
    c.relate(["r"] * 4, ["small", "large", "other", "total"], [1, 1, 1, -1])
    published = Published(frames={}, decision=protect(c.model(), THRESHOLD), threshold=THRESHOLD)
    assert published.marker("small") == "<11"
    assert published.marker("total") is None
    complements = {k for k in ("large", "other") if published.hidden(k)}
    assert complements and {published.marker(k) for k in complements} == {"*"}
