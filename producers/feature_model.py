"""The simulated fleet's feature distributions, and reference data drawn from
them.

Pure numpy: nothing here talks to Kafka. `feature_model` fixes, from a seed,
the baseline distribution of every feature; `draw_features` draws a chunk of
samples from it, with drift applied where the caller asks for it;
`reference_frame` draws a training-like data set from the baseline alone.

Features (defaults: 20 numeric, 3 categorical, plus ``prediction``; 24
inputs and one output, 25 drift-checked features):

* numeric ``f00`` .. ``f19``: ``f{i}`` with ``i % 4 == 1`` is log-normal,
  ``exp(N(m, s))`` with ``m ~ U(0, 2)``, ``s ~ U(0.25, 0.75)``; the others
  are normal, ``N(mu, sd)`` with ``mu ~ U(-5, 5)``, ``sd ~ U(0.5, 3)``;
* categorical ``c0`` .. ``c2``: 5–20 categories each, named ``c1_00``,
  ``c1_01``, ...; probabilities are a seeded Dirichlet(2) draw mixed 9:1 with
  the uniform distribution (so every category has at least ``0.1 / K``) and
  sorted from most to least likely: the last category is the rarest;
* ``prediction``: a score in (0, 1), ``sigmoid(w · z + b[c0] + 0.5 ε)``,
  where ``z`` are the standardized values of `PREDICTION_INPUTS` (``f00``,
  ``f01``, ``f02``, ``f05``), ``b`` a seeded effect per ``c0`` category and
  ``ε`` standard normal noise. It depends on nothing else, so drift planted
  in other features (the defaults ``f03``, ``f11``, ``c1``) leaves the
  prediction's distribution unchanged.

Drift, applied per sample by `draw_features`:

* numeric: ``x + shift_sigma × sd``, where ``sd`` is the feature's own
  standard deviation (for a log-normal, that of the log-normal);
* categorical: with probability ``mass``, the value is replaced by the
  rarest category, so ``p' = (1 − mass) p + mass · e_rarest``.

The random draws do not depend on the drift asked for: one seed gives the
same samples with and without drift, except for the planted change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

PREDICTION = "prediction"
PREDICTION_INPUTS = ("f00", "f01", "f02", "f05")
"""Numeric features the simulated prediction depends on (plus ``c0``)."""
PREDICTION_CATEGORICAL_INPUT = "c0"

_NOISE_SCALE = 0.5
_UNIFORM_MIX = 0.1


class _Seeded(Protocol):
    seed: int
    numeric_features: int
    categorical_features: int
    missing_share: float


@dataclass(frozen=True)
class FeatureModel:
    """The baseline distribution of every feature, fixed by a seed.

    Attributes:
        numeric_names: ``f00``, ``f01``, ...
        categorical_names: ``c0``, ``c1``, ...
        is_lognormal: per numeric feature, log-normal rather than normal.
        loc: mean of the normal, or of the log-normal's logarithm.
        scale: sd of the normal, or of the log-normal's logarithm.
        mean: each numeric feature's mean.
        sd: each numeric feature's standard deviation.
        categories: category names per categorical feature.
        probabilities: category probabilities, most likely first.
        weights: prediction weights over the prediction's numeric inputs.
        category_effect: prediction offset per ``c0`` category.
    """

    numeric_names: tuple[str, ...]
    categorical_names: tuple[str, ...]
    is_lognormal: np.ndarray = field(repr=False, compare=False)
    loc: np.ndarray = field(repr=False, compare=False)
    scale: np.ndarray = field(repr=False, compare=False)
    mean: np.ndarray = field(repr=False, compare=False)
    sd: np.ndarray = field(repr=False, compare=False)
    categories: tuple[tuple[str, ...], ...] = field(repr=False)
    probabilities: tuple[np.ndarray, ...] = field(repr=False, compare=False)
    weights: np.ndarray = field(repr=False, compare=False)
    category_effect: np.ndarray = field(repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Every drift-checked feature: numeric, categorical, prediction."""
        return (*self.numeric_names, *self.categorical_names, PREDICTION)

    @property
    def prediction_inputs(self) -> tuple[str, ...]:
        """Features the prediction depends on, in this model."""
        numeric = tuple(n for n in PREDICTION_INPUTS if n in self.numeric_names)
        if PREDICTION_CATEGORICAL_INPUT in self.categorical_names:
            return (*numeric, PREDICTION_CATEGORICAL_INPUT)
        return numeric

    def rarest(self, feature: str) -> str:
        """The least likely category of a categorical feature.

        Raises:
            ValueError: no such categorical feature.
        """
        return self.categories[self.categorical_names.index(feature)][-1]


def feature_model(
    seed: int, numeric_features: int = 20, categorical_features: int = 3
) -> FeatureModel:
    """The baseline distributions for ``seed``, as the module docstring says."""
    rng = np.random.default_rng([seed, 4])
    k, m = numeric_features, categorical_features
    numeric_names = tuple(f"f{i:02d}" for i in range(k))
    categorical_names = tuple(f"c{j}" for j in range(m))

    is_lognormal = np.arange(k) % 4 == 1
    normal_mu = rng.uniform(-5.0, 5.0, size=k)
    normal_sd = rng.uniform(0.5, 3.0, size=k)
    log_mu = rng.uniform(0.0, 2.0, size=k)
    log_sd = rng.uniform(0.25, 0.75, size=k)
    loc = np.where(is_lognormal, log_mu, normal_mu)
    scale = np.where(is_lognormal, log_sd, normal_sd)
    lognormal_mean = np.exp(log_mu + log_sd**2 / 2)
    lognormal_sd = lognormal_mean * np.sqrt(np.expm1(log_sd**2))
    mean = np.where(is_lognormal, lognormal_mean, normal_mu)
    sd = np.where(is_lognormal, lognormal_sd, normal_sd)

    categories: list[tuple[str, ...]] = []
    probabilities: list[np.ndarray] = []
    for name in categorical_names:
        count = int(rng.integers(5, 21))
        draw = rng.dirichlet(np.full(count, 2.0))
        p = np.sort((1 - _UNIFORM_MIX) * draw + _UNIFORM_MIX / count)[::-1]
        categories.append(tuple(f"{name}_{c:02d}" for c in range(count)))
        probabilities.append(p / p.sum())

    inputs = sum(1 for n in PREDICTION_INPUTS if n in numeric_names)
    weights = rng.choice([-1.0, 1.0], size=inputs) * rng.uniform(0.5, 1.5, inputs)
    effect_size = len(categories[0]) if m else 0
    category_effect = rng.uniform(-0.5, 0.5, size=effect_size)
    return FeatureModel(
        numeric_names=numeric_names,
        categorical_names=categorical_names,
        is_lognormal=is_lognormal,
        loc=loc,
        scale=scale,
        mean=mean,
        sd=sd,
        categories=tuple(categories),
        probabilities=tuple(probabilities),
        weights=weights,
        category_effect=category_effect,
    )


@dataclass(frozen=True)
class FeatureDraw:
    """Features of a chunk of samples, one row per sample.

    Attributes:
        numeric: ``(n, numeric features)``; NaN for a missing value.
        categorical: ``(n, categorical features)`` category indexes; -1 for a
            missing value.
        prediction: ``(n,)`` scores.
    """

    numeric: np.ndarray
    categorical: np.ndarray
    prediction: np.ndarray


def draw_features(
    model: FeatureModel,
    rng: np.random.Generator,
    count: int,
    *,
    shift_sigma: np.ndarray | None = None,
    drift_numeric: Sequence[str] = (),
    mass: np.ndarray | None = None,
    drift_categorical: Sequence[str] = (),
    missing_share: float = 0.0,
) -> FeatureDraw:
    """Draw ``count`` samples, with drift where asked.

    Args:
        model: the baseline distributions.
        rng: the run's feature generator; draws the same numbers whatever the
            drift, so runs with and without drift stay aligned.
        count: samples to draw; 0 gives empty arrays.
        shift_sigma: per sample, the mean shift of ``drift_numeric`` in units
            of each feature's sd (0 for no shift); None means no shift.
        drift_numeric: numeric features that shift.
        mass: per sample, the probability of replacing a
            ``drift_categorical`` value by its rarest category; None means 0.
        drift_categorical: categorical features whose mass moves.
        missing_share: probability that any one input value is missing; the
            prediction is computed from the values before they go missing.
    """
    k, m = len(model.numeric_names), len(model.categorical_names)
    z = rng.standard_normal((count, k))
    uniform_category = rng.random((count, m))
    uniform_move = rng.random((count, m))
    noise = rng.standard_normal(count)
    uniform_missing = rng.random((count, k + m))

    numeric = model.loc + model.scale * z
    numeric[:, model.is_lognormal] = np.exp(numeric[:, model.is_lognormal])
    if shift_sigma is not None and drift_numeric:
        columns = [model.numeric_names.index(n) for n in drift_numeric]
        numeric[:, columns] += shift_sigma[:, None] * model.sd[columns]

    categorical = np.empty((count, m), dtype=np.int64)
    for j, p in enumerate(model.probabilities):
        cdf = np.cumsum(p)
        codes = np.searchsorted(cdf, uniform_category[:, j], side="right")
        categorical[:, j] = np.minimum(codes, len(p) - 1)
    if mass is not None:
        for name in drift_categorical:
            j = model.categorical_names.index(name)
            moved = uniform_move[:, j] < mass
            categorical[moved, j] = len(model.probabilities[j]) - 1

    inputs = [
        model.numeric_names.index(n)
        for n in PREDICTION_INPUTS
        if n in model.numeric_names
    ]
    standardized = (numeric[:, inputs] - model.mean[inputs]) / model.sd[inputs]
    logit = standardized @ model.weights + _NOISE_SCALE * noise
    if m:
        logit += model.category_effect[categorical[:, 0]]
    prediction = 1.0 / (1.0 + np.exp(-logit))

    if missing_share > 0.0:
        numeric[uniform_missing[:, :k] < missing_share] = np.nan
        categorical[uniform_missing[:, k:] < missing_share] = -1
    return FeatureDraw(numeric=numeric, categorical=categorical, prediction=prediction)


def category_labels(model: FeatureModel, codes: np.ndarray) -> list[np.ndarray]:
    """Category names for index columns, as object arrays; -1 → None."""
    return [
        np.array([*names, None], dtype=object)[codes[:, j]]
        for j, names in enumerate(model.categories)
    ]


def reference_frame(config_or_seed: _Seeded | int, n_rows: int) -> pd.DataFrame:
    """A training-like data set drawn from the baseline distributions.

    The same feature model as a simulation with that seed (and feature
    counts), no drift, and a generator of its own: rows are independent of
    the samples a run sends. Use it to build a reference profile.

    Args:
        config_or_seed: a `producers.fleet.SimulationConfig` (its seed,
            feature counts and missing share apply) or a seed (defaults).
        n_rows: rows to draw.

    Returns:
        Columns ``f00`` .. , ``c0`` .. (object, None for missing),
        ``prediction``; ``n_rows`` rows, index 0 .. n_rows − 1.

    Raises:
        ValueError: ``n_rows`` is negative.
    """
    import pandas as pd  # only here: serving replicas need no pandas

    if n_rows < 0:
        raise ValueError(f"n_rows must not be negative, got {n_rows!r}")
    if isinstance(config_or_seed, int):
        seed, missing_share = config_or_seed, 0.0
        model = feature_model(seed)
    else:
        seed, missing_share = config_or_seed.seed, config_or_seed.missing_share
        model = feature_model(
            seed,
            config_or_seed.numeric_features,
            config_or_seed.categorical_features,
        )
    draw = draw_features(
        model,
        np.random.default_rng([seed, 5]),
        n_rows,
        missing_share=missing_share,
    )
    columns: dict[str, np.ndarray] = dict(
        zip(model.numeric_names, draw.numeric.T, strict=True)
    )
    columns.update(
        zip(
            model.categorical_names,
            category_labels(model, draw.categorical),
            strict=True,
        )
    )
    columns[PREDICTION] = draw.prediction
    return pd.DataFrame(columns)
