"""Fixed colours and labels, so an outcome looks the same on every page and every chart.

Okabe & Ito's colour-universal-design palette stays distinguishable under the common forms of
colour-vision deficiency; yellow is left out because it is unreadable on white. Each outcome
owns one colour everywhere (bars, lines, Sankey links, legends), so readers can move between
pages without re-learning the key.
"""

from __future__ import annotations

from pipelines.lib.vocabulary import (
    FLAG_NOT_ASSESSED,
    FLAG_WITHIN,
    FUNNEL_FLAGS,
    HEADLINE_OUTCOMES,
    OUTCOMES,
    SPECIALTY_LABELS,
    outcome_label,
    specialty_label,
)

__all__ = [
    "HEADLINE_OUTCOMES",
    "OUTCOMES",
    "SPECIALTY_LABELS",
    "outcome_colour",
    "outcome_label",
    "specialty_label",
    "with_alpha",
]

OUTCOME_COLOURS: dict[str, str] = {
    "confirmed": "#0072B2",  # blue
    "less_invasive": "#56B4E9",  # sky blue
    "non_surgical": "#009E73",  # bluish green
    "deferred": "#E69F00",  # orange
    "more_invasive": "#D55E00",  # vermillion
    "alternative": "#CC79A7",  # reddish purple
    "unclassified": "#999999",  # grey
}

# Non-outcome series (cost, limits, flags) reuse the same palette with fixed roles.
INK = "#222222"
MUTED = "#777777"
GRID = "#E6E6E6"
PROJECTED = "#0072B2"
VERIFIED = "#009E73"
WARNING = "#D55E00"
LIMIT_95 = "#E69F00"
LIMIT_998 = "#D55E00"

#: Funnel flags (the vocabulary's words): warm above the limits, cool below, grey within.
FLAG_COLOURS: dict[str, str] = {
    FUNNEL_FLAGS[2]: "#D55E00",
    FUNNEL_FLAGS[1]: "#E69F00",
    FLAG_WITHIN: "#777777",
    FUNNEL_FLAGS[-1]: "#56B4E9",
    FUNNEL_FLAGS[-2]: "#0072B2",
    FLAG_NOT_ASSESSED: "#BBBBBB",
}
#: ...and a shape for each, so the flag reads without colour: up above, down below.
FLAG_SYMBOLS: dict[str, str] = {
    FUNNEL_FLAGS[2]: "triangle-up",
    FUNNEL_FLAGS[1]: "triangle-up-open",
    FLAG_WITHIN: "circle",
    FUNNEL_FLAGS[-1]: "triangle-down-open",
    FUNNEL_FLAGS[-2]: "triangle-down",
    FLAG_NOT_ASSESSED: "circle-open",
}


def outcome_colour(outcome: str) -> str:
    """The one colour of an outcome; anything unexpected is drawn grey rather than failing."""
    return OUTCOME_COLOURS.get(outcome, MUTED)


def with_alpha(hex_colour: str, alpha: float) -> str:
    """`#RRGGBB` -> `rgba(r,g,b,a)` for translucent links and bands."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha:g})"
