"""Drift policy: is a candidate fed (or producing) different data than its
baseline, feature by feature, in the same window?

Every feature present on both sides is tested with `sketches.compare`: the
two-sample KS test for numeric features and Pearson's chi-square for
categorical ones (PSI is computed beside them and reported, not used to
decide). Each test's critical value already adds the sketches' own error to
the sampling threshold, so a large window never "detects" sketch noise.

Testing 25 features per version per window is 25 tests: the verdicts are
corrected together with Benjamini–Hochberg at ``alpha`` (``correction =
"bonferroni"`` bounds the family-wise rate instead). With the default
``alpha = 0.01`` a window of a healthy candidate flags any feature at all with
probability at most 1%, and the guard additionally requires the *same*
feature to stay drifted over consecutive windows before it acts, so a
rollback names exactly the features that persistently moved.

The same comparison, run against a registered reference profile, produces
``comparison = "reference"`` signals. Those describe the data, not the
version, and never trigger a rollback on their own: if live traffic of every
version moved away from training data, rolling back does not help.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftline.errors import ConfigError
from jobs.feature_window import FeatureSketches
from jobs.signals import Verdict, evidence, signal_base
from sketches import CompareResult, compare, correct


@dataclass(frozen=True)
class DriftPolicy:
    """Settings of the drift policy."""

    alpha: float = 0.01
    correction: str = "bh"
    min_samples: int = 200

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"drift alpha must be in (0, 1), got {self.alpha!r}")
        if self.correction not in ("bh", "bonferroni"):
            raise ConfigError(
                f"drift correction must be bh or bonferroni, got {self.correction!r}"
            )
        if self.min_samples < 1:
            raise ConfigError(
                f"drift min_samples must be at least 1, got {self.min_samples!r}"
            )


@dataclass
class FeatureResult:
    feature: str
    kind: str
    result: CompareResult
    psi: float | None
    drifted_corrected: bool
    missing_rate: float


def compare_features(
    reference: FeatureSketches, current: FeatureSketches, policy: DriftPolicy
) -> list[FeatureResult]:
    """Test every feature both bundles carry; sorted by feature name.

    Returns an empty list when either side is empty.
    """
    if reference.n == 0 or current.n == 0:
        return []
    pairs: list[tuple[str, str, Any, Any, str]] = []
    for name in sorted(set(reference.numeric) & set(current.numeric)):
        pairs.append(
            (name, "numeric", reference.numeric[name], current.numeric[name], "ks")
        )
    for name in sorted(set(reference.categorical) & set(current.categorical)):
        ref_cat, cur_cat = reference.categorical[name], current.categorical[name]
        pairs.append((name, "categorical", ref_cat, cur_cat, "chi2"))
    results = [
        compare(ref, cur, method, alpha=policy.alpha) for *_, ref, cur, method in pairs
    ]
    kept = correct(results, alpha=policy.alpha, method=policy.correction)
    out = []
    for (name, kind, ref, cur, _), result, drifted in zip(
        pairs, results, kept, strict=True
    ):
        psi = compare(ref, cur, "psi", alpha=policy.alpha).statistic
        out.append(
            FeatureResult(name, kind, result, psi, drifted, current.missing_rate(name))
        )
    return sorted(out, key=lambda r: r.feature)


def judge_drift(
    candidate: FeatureSketches,
    baseline: FeatureSketches,
    window_start_ms: int,
    policy: DriftPolicy,
) -> tuple[Verdict, list[FeatureResult]]:
    """Judge a candidate's features against the baseline's in one window."""
    verdict = Verdict()
    if candidate.n < policy.min_samples or baseline.n < policy.min_samples:
        return verdict, []
    verdict.enough = True
    results = compare_features(baseline, candidate, policy)
    for item in results:
        if not item.drifted_corrected:
            continue
        verdict.subjects.add(item.feature)
        verdict.evidence.append(
            evidence(
                f"drift.{item.result.method}",
                window_start_ms,
                feature=item.feature,
                value=item.result.statistic,
                baseline_value=float(item.result.n_reference),
                threshold=item.result.critical_value,
                n=item.result.n_current,
                p_value=item.result.p_value,
            )
        )
    verdict.breach = bool(verdict.subjects)
    verdict.clear = not verdict.breach
    return verdict, results


def drift_signals(
    model: str,
    version: str,
    window_start_ms: int,
    window_end_ms: int,
    *,
    role: str,
    comparison: str,
    reference_version: str,
    baseline: str | None,
    replicas: int,
    results: list[FeatureResult],
) -> list[dict[str, Any]]:
    """One ``drift.fleet`` signal per tested feature."""
    records = []
    for item in results:
        record = signal_base(
            "drift.fleet",
            model,
            version,
            window_start_ms,
            window_end_ms,
            role=role,
            baseline=baseline,
            n=item.result.n_current,
            replicas=replicas,
            subject=f"{comparison}/{item.feature}",
        )
        record["drift"] = {
            "feature": item.feature,
            "feature_kind": item.kind,
            "comparison": comparison,
            "reference_version": reference_version,
            "method": item.result.method,
            "statistic": float(item.result.statistic),
            "critical_value": float(item.result.critical_value),
            "p_value": float(item.result.p_value),
            "psi": None if item.psi is None else float(item.psi),
            "n_reference": int(item.result.n_reference),
            "n_current": int(item.result.n_current),
            "sketch_error": float(item.result.sketch_error),
            "missing_rate": float(item.missing_rate),
            "drifted": bool(item.result.drifted),
            "drifted_corrected": bool(item.drifted_corrected),
        }
        records.append(record)
    return records
