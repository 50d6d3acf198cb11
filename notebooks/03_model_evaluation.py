# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Model evaluation: the opinion text classifier and the change-propensity model
#
# The models are trained by the pipeline and saved, with their metrics and model cards, in the
# `artifacts/` folder beside the warehouse (`pipelines.modelling.artifacts_dir`). This notebook
# loads them and looks at:
#
# 1. the text classifier's held-out metrics, as the pipeline recorded them;
# 2. the classifier on the warehouse's own narratives, labelled by the structured rules:
#    confusion matrix, calibration, the confidence threshold, and the narratives it gets wrong;
# 3. the change-propensity scores: lift by decile and calibration.
#
# Only a handful of misclassified narratives are shown (they are synthetic and anonymized);
# everything else is aggregated.

# %%
import numpy as np
import plotly.graph_objects as go
import polars as pl

from pipelines.lib.readers import find_warehouse, open_warehouse

WAREHOUSE = find_warehouse()
conn = open_warehouse(WAREHOUSE)  # read-only: a notebook never writes to the warehouse
pl.Config.set_tbl_rows(40)
pl.Config.set_tbl_cols(20)
pl.Config.set_fmt_str_lengths(400)
print(f"warehouse: {WAREHOUSE}")

# %%
import json

from sklearn.metrics import roc_auc_score

from dashboards.figures import targeting_figure
from models.evaluation import (
    classification_metrics,
    expected_calibration_error,
    lift_by_decile,
    reliability_bins,
    threshold_metrics,
)
from models.persistence import load_model
from models.propensity import labelled_cases, score_propensity
from models.text_classifier import OUTCOME_LABELS, predict_text
from pipelines.lib.core.outcomes import opinion_rule_outcomes
from pipelines.lib.settings import Settings
from pipelines.lib.training.propensity import PROPENSITY_METRICS_FILE, PROPENSITY_MODEL_FILE, REFERRALS_SQL
from pipelines.lib.training.text import TEXT_METRICS_FILE, TEXT_MODEL_FILE, narratives
from pipelines.lib.warehouse import artifacts_dir

summary = dict(conn.sql("SELECT metric, value FROM marts.run_summary").fetchall())
settings = Settings(**json.loads(summary["settings"]))
ARTIFACTS = artifacts_dir(WAREHOUSE)
sorted(p.name for p in ARTIFACTS.iterdir())

# %% [markdown]
# ## 1. Held-out metrics recorded at training
#
# The pipeline holds out a fifth of the *phrasing groups* (near-identical wordings never sit on
# both sides of the split), so these figures describe wording the model has not seen.

# %%
metrics = json.loads((ARTIFACTS / TEXT_METRICS_FILE).read_text())
print(metrics["training_source"])
print(
    f"macro-F1 {metrics['macro_f1']:.3f} · accuracy {metrics['accuracy']:.3f} · ECE {metrics['ece']:.3f} "
    f"· {metrics['n_train']:,} train / {metrics['n_test']:,} test narratives"
)
print("at the threshold:", metrics["at_threshold"])
pl.DataFrame([{"outcome": k, **v} for k, v in metrics["per_class"].items()])


# %%
def confusion_heatmap(matrix, labels, title: str) -> go.Figure:
    """Rows: the rules' label; columns: the model's; colour: share of the row."""
    counts = np.asarray(matrix, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = counts / counts.sum(axis=1, keepdims=True)
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=list(labels),
            y=list(labels),
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=counts.astype(int),
            texttemplate="%{text}",
            colorbar={"title": "share of row"},
            hovertemplate="rules: %{y}<br>model: %{x}<br>%{text} narratives (%{z:.0%} of row)<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="Predicted by the model",
        yaxis_title="Label from the rules",
        yaxis_autorange="reversed",
        height=520,
    )
    return fig


def reliability_plot(bins: pl.DataFrame, title: str) -> go.Figure:
    """Mean predicted probability against the observed rate per bin; the diagonal is perfect."""
    fig = go.Figure(
        [
            go.Scatter(
                x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#777777"}, name="perfect"
            ),
            go.Scatter(
                x=bins["mean_predicted"],
                y=bins["observed_rate"],
                mode="lines+markers",
                name="model",
                marker={"size": np.clip(np.sqrt(bins["n"].to_numpy()) * 2, 6, 30)},
                customdata=bins["n"],
                hovertemplate="predicted %{x:.2f}, observed %{y:.2f}, n=%{customdata}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        title=title,
        xaxis_title="Mean predicted probability",
        yaxis_title="Observed rate",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1.02],
        height=450,
    )
    return fig


confusion_heatmap(
    metrics["confusion_matrix"], metrics["labels"], "Held-out confusion matrix (training run)"
).show()
reliability_plot(
    pl.DataFrame(metrics["reliability"]), "Held-out reliability of the top-class probability"
).show()

# %% [markdown]
# ## 2. The classifier on the warehouse's narratives
#
# Opinions that carry both structured fields and a narrative are labelled by the rules
# (`opinion_rule_outcomes`); the classifier reads only the narrative (plus specialty and the
# initial procedure family) and is compared with that label. When the model was trained on the
# warehouse itself (see `training_source` above) most of these narratives were in its training
# set, so the figures are optimistic; when it was trained on the generated corpus they are an
# independent test on different wording.

# %%
model = load_model(ARTIFACTS / TEXT_MODEL_FILE)
labels = (
    opinion_rule_outcomes(conn)
    .filter(pl.col("outcome").is_in(list(OUTCOME_LABELS)))
    .select("opinion_id", "outcome")
)
labelled = narratives(conn).join(labels, on="opinion_id", how="inner")
scored = labelled.join(predict_text(model, labelled), on="opinion_id").with_columns(
    correct=pl.col("predicted_outcome") == pl.col("outcome")
)
in_sample = metrics["training_source"].startswith("warehouse")
print(
    f"{scored.height:,} labelled narratives; {'in-sample (optimistic)' if in_sample else 'not used in training'}"
)
warehouse_metrics = classification_metrics(
    scored["outcome"].to_numpy(), scored["predicted_outcome"].to_numpy(), OUTCOME_LABELS
)
print(f"macro-F1 {warehouse_metrics['macro_f1']:.3f} · accuracy {warehouse_metrics['accuracy']:.3f}")
confusion_heatmap(
    warehouse_metrics["confusion_matrix"],
    OUTCOME_LABELS,
    "Warehouse narratives: rules' label against the model's",
).show()

# %%
bins = reliability_bins(scored["probability"].to_numpy(), scored["correct"].to_numpy())
print(f"expected calibration error: {expected_calibration_error(bins):.3f}")
reliability_plot(bins, "Reliability on the warehouse's narratives").show()

# What the confidence threshold buys: share of narratives classified, and accuracy among them.
trade = pl.DataFrame(
    [
        threshold_metrics(
            scored["outcome"].to_numpy(),
            scored["predicted_outcome"].to_numpy(),
            scored["probability"].to_numpy(),
            float(t),
        )
        for t in np.round(np.arange(0.3, 0.96, 0.05), 2)
    ]
)
fig = go.Figure(
    [
        go.Scatter(
            x=trade["threshold"], y=trade["coverage"], name="coverage (classified)", mode="lines+markers"
        ),
        go.Scatter(
            x=trade["threshold"],
            y=trade["accuracy_classified"],
            name="accuracy among classified",
            mode="lines+markers",
        ),
    ]
)
fig.add_vline(
    x=settings.text_model_threshold,
    line={"dash": "dot"},
    annotation_text=f"setting {settings.text_model_threshold}",
)
fig.update_layout(
    title="Confidence threshold: coverage against accuracy",
    xaxis_title="Threshold",
    yaxis_tickformat=".0%",
    yaxis_range=[0, 1.02],
)
fig.show()

# %% [markdown]
# ### Error analysis
#
# Which confusions are common, where (specialty) they happen, and — for the most confident
# mistakes — what the narrative actually says. A confident mistake is either a wording the model
# has not learnt or a narrative that disagrees with its own structured fields.

# %%
wrong = scored.filter(~pl.col("correct"))
print(f"{wrong.height:,} of {scored.height:,} narratives misclassified")
wrong.group_by(pl.col("outcome").alias("rules_say"), pl.col("predicted_outcome").alias("model_says")).agg(
    n=pl.len(), mean_probability=pl.col("probability").mean().round(2)
).sort("n", descending=True).head(10)

# %%
scored.group_by("specialty").agg(
    n=pl.len(),
    error_rate=(1 - pl.col("correct").mean()).round(3),
    mean_probability=pl.col("probability").mean().round(3),
).sort("error_rate", descending=True)

# %%
# The six most confident mistakes (synthetic, anonymized narratives; no identifiers shown),
# with the structured fields the rules decided from.
structured = conn.sql("""
    SELECT o.opinion_id, o.recommendation, p.family AS recommended_family
    FROM staging.opinions o LEFT JOIN reference.procedures p
      ON p.procedure_code = upper(trim(o.recommended_procedure_code))""").pl()
(
    wrong.sort("probability", descending=True)
    .head(6)
    .join(structured, on="opinion_id", how="left", maintain_order="left")
    .select(
        "specialty",
        "initial_family",
        "recommendation",
        "recommended_family",
        pl.col("outcome").alias("rules_say"),
        pl.col("predicted_outcome").alias("model_says"),
        pl.col("probability").round(2),
        "summary_text",
    )
)

# %% [markdown]
# ### Narrative-only opinions in production
#
# Rule 5 reads them by extraction first (`text_extraction`, evidence in core.opinion_extractions);
# the model decides only where the text holds no decision it can read (`text_model`), people's
# labels override both (`human`), and disagreement or low confidence sends a case to
# `marts.review_queue` (`needs_review`).

# %%
conn.sql("""
    SELECT outcome_source,
           CASE WHEN outcome_source IN ('text_extraction', 'text_model', 'human') THEN outcome_source
                ELSE reason END AS reason,
           count(*) AS n, round(avg(confidence), 3) AS mean_confidence
    FROM core.case_outcomes
    WHERE outcome_source IN ('text_extraction', 'text_model', 'human') OR reason IN ('needs_review', 'narrative_only')
    GROUP BY ALL ORDER BY n DESC""").pl()

# %% [markdown]
# ## 3. Change propensity: where do reviews change most?
#
# The propensity model scores each referral, from what is known when it is made, for the chance
# that the review changes the plan. Its recorded metrics are **out of fold** (cross-validation
# grouped by patient, so no patient is scored by a model that saw them), and `marts.targeting`
# publishes that out-of-fold lift. `core.case_scores` gives each case the model was fitted on
# its out-of-fold score (`score_basis = 'out_of_fold'`) and every other referral the final
# model's score. Below, the final model rescored on its own training cases shows how much an
# in-sample score would flatter it.

# %%
prop = json.loads((ARTIFACTS / PROPENSITY_METRICS_FILE).read_text())
print(
    f"{prop['n']:,} classified cases of {prop['n_patients']:,} patients; base change rate {prop['base_rate']:.1%}"
)
print(
    f"{prop['cv']}: ROC AUC {prop['roc_auc']:.3f} (folds {', '.join(f'{a:.3f}' for a in prop['roc_auc_folds'])}), "
    f"Brier {prop['brier']:.3f}, ECE {prop['ece']:.3f}, top-decile lift {prop['top_decile_lift']:.2f}"
)
oof_lift = pl.DataFrame(prop["lift"])
published = conn.sql("SELECT decile, lift FROM marts.targeting ORDER BY decile").pl()
assert np.allclose(
    published["lift"].to_numpy(), oof_lift["lift"].to_numpy()
)  # the mart is the out-of-fold lift
targeting_figure(oof_lift).show()
reliability_plot(
    pl.DataFrame(prop["calibration"]), "Change propensity, out of fold: predicted against observed"
).show()

# %%
importance = pl.DataFrame(prop["permutation_importance"]).sort("importance_mean")
fig = go.Figure(
    go.Bar(
        x=importance["importance_mean"],
        y=importance["feature"],
        orientation="h",
        error_x={"type": "data", "array": importance["importance_std"].to_list()},
    )
)
fig.update_layout(
    title="Permutation importance (drop in out-of-fold ROC AUC when a feature is shuffled)",
    xaxis_title="Mean drop in ROC AUC",
    height=400,
)
fig.show()

# %%
# The saved model reproduces the scores of referrals it was not fitted on; on its own training
# cases its in-sample lift is the optimistic one, which is why those carry out-of-fold scores.
propensity = load_model(ARTIFACTS / PROPENSITY_MODEL_FILE)
referrals = conn.sql(REFERRALS_SQL).pl()
rescored = score_propensity(propensity, referrals)
stored = conn.sql("SELECT case_id, change_probability, score_basis FROM core.case_scores").pl()
paired = rescored.join(stored, on="case_id", suffix="_stored")
assert paired.height == stored.height
by_model = paired.filter(pl.col("score_basis") == "model")
assert (by_model["change_probability"] - by_model["change_probability_stored"]).abs().max() < 1e-9
print(stored.group_by("score_basis").len().sort("score_basis"))

fitted = labelled_cases(referrals).join(rescored, on="case_id")
in_sample = lift_by_decile(fitted["changed"].to_numpy(), fitted["change_probability"].to_numpy())
auc_in = roc_auc_score(fitted["changed"].to_numpy(), fitted["change_probability"].to_numpy())
print(f"ROC AUC in sample {auc_in:.3f} against {prop['roc_auc']:.3f} out of fold")
oof_lift.select("decile", "n", pl.col("lift").round(2).alias("lift_out_of_fold")).join(
    in_sample.select("decile", pl.col("lift").round(2).alias("lift_in_sample")), on="decile"
)

# %%
conn.close()
