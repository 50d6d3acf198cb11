"""When a model is retrained: the retraining policy (issue 14).

Retraining costs minutes at scale and changes every score downstream, so a run that brings a few
new cases keeps the model it has. A model is retrained when
- there is none yet (or its metrics are unreadable),
- a person asked for it (`secondlook run --retrain`, setting `retrain`),
- its code version changed (the model's own modules and SQL, and the settings that shape it), or
- its training data changed by more than `retrain_changed_share` since it was trained.

The change in training data is measured on a signature: counts of the labelled cases in 4,096
buckets of a hash of (case_id, outcome). The share is the sum of the buckets' absolute changes
over the cases trained on: a case added or removed counts once, a case relabelled twice (it
leaves one bucket for another), and changes inside one bucket can cancel, so it is an estimate
from below that costs one aggregate query instead of keeping every case id beside the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

SIGNATURE_BUCKETS = 4096


def code_version(files: Iterable[Path], settings: Mapping[str, Any]) -> str:
    """SHA-256 of the files that define a model and the settings that shape its training."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(repr(sorted(settings.items())).encode())
    return digest.hexdigest()[:16]


def changed_share(previous: Mapping[str, int], current: Mapping[str, int]) -> float:
    """Sum of the buckets' absolute changes over the previous total (1.0 when there was nothing and
    now there is something; 0.0 when there was nothing and still is, as for a text model trained on
    the generated corpus alone)."""
    before = sum(previous.values())
    if before == 0:
        return 0.0 if sum(current.values()) == 0 else 1.0
    keys = set(previous) | set(current)
    return sum(abs(int(current.get(k, 0)) - int(previous.get(k, 0))) for k in keys) / before


def retrain_reason(
    previous: Mapping[str, Any] | None,
    signature: Mapping[str, int],
    version: str,
    max_share: float,
    forced: bool,
) -> tuple[bool, str]:
    """(retrain?, why), in words for the model card and the run summary."""
    if forced:
        return True, "retraining was asked for (--retrain)"
    if not previous or "training_signature" not in previous:
        return True, "no trained model yet"
    if previous.get("code_version") != version:
        return True, "its code version changed"
    share = changed_share(previous["training_signature"], signature)
    if share > max_share:
        return True, f"its training data changed by {share:.1%} (more than {max_share:.1%})"
    return False, f"its training data changed by {share:.1%} (at most {max_share:.1%}): model kept"


def kept_or_reason(
    folder: Path,
    model_file: str,
    metrics_file: str,
    signature: Mapping[str, int],
    version: str,
    max_share: float,
    forced: bool,
) -> tuple[dict[str, Any] | None, str]:
    """(the kept model's metrics, why) when the policy keeps the model in `folder`; (None, why) when
    it must be trained. A kept model's metrics file records the decision (`last_decision`)."""
    try:
        previous: dict[str, Any] | None = dict(json.loads((folder / metrics_file).read_text()))
    except (OSError, ValueError):
        previous = None
    retrain, why = retrain_reason(
        previous if (folder / model_file).exists() else None, signature, version, max_share, forced
    )
    if retrain or previous is None:
        return None, why
    kept = {**previous, "last_decision": why}
    (folder / metrics_file).write_text(json.dumps(kept, indent=2, default=str))
    return {**kept, "trained": False, "kept_because": why}, why


def training_record(why: str, version: str, signature: Mapping[str, int]) -> dict[str, Any]:
    """What a trained model's metrics keep for the next decision and for its model card."""
    return {
        "trained": True,
        "trained_at": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "trained_because": why,
        "code_version": version,
        "training_signature": dict(signature),
        "last_decision": f"trained because {why}",
    }
