"""Saving and loading trained models with skops, trusting exactly the types our models contain.

Why skops rather than pickle/joblib: loading a pickle runs arbitrary code, and model files sit in
an artifacts folder beside the warehouse that other tools and people can write to. skops refuses
any type not explicitly trusted; this module lists ours, so a file holding anything else (a
tampered or foreign artifact) fails to load with the offending types named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Types skops does not trust by default that our two models legitimately contain.
TRUSTED_TYPES: tuple[str, ...] = (
    # text classifier
    "models.text_classifier.NarrativeVectorizer",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._TemperatureScaling",
    # change-propensity model (HistGradientBoosting and the encoder's validation hook)
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
    "functools.partial",
)


def save_model(model: Any, path: Path | str) -> Path:
    """Persist a fitted model as a .skops file (parent folders created); returns the path."""
    import skops.io as sio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)
    return path


def load_model(path: Path | str, extra_trusted: tuple[str, ...] = ()) -> Any:
    """Load a .skops file, trusting TRUSTED_TYPES (plus `extra_trusted`) and nothing else."""
    import skops.io as sio

    path = Path(path)
    untrusted = set(sio.get_untrusted_types(file=path))
    unknown = sorted(untrusted - set(TRUSTED_TYPES) - set(extra_trusted))
    if unknown:
        raise ValueError(f"refusing to load {path}: untrusted types {unknown}")
    return sio.load(path, trusted=sorted(untrusted))
