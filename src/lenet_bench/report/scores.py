"""Cost-aware scores from a study's runs: AlgoPerf's performance-profile score and the Pareto front of
accuracy against cost."""
from __future__ import annotations

import numpy as np
import pandas as pd

TAU_MAX = 4.0  # AlgoPerf's: a method more than 4x the fastest's cost on a problem gets nothing for it


def profile_score(ratios: np.ndarray, tau_max: float = TAU_MAX) -> float:
    """The area under a method's performance profile rho(tau) from 1 to tau_max, over (tau_max - 1): 1 for
    a method that is the cheapest on every problem, 0 for one that never comes within tau_max. `ratios`
    holds its cost over the cheapest method's on each problem (inf where it missed the target). rho is a
    step function, so the area is exact: each problem solved at ratio r <= tau_max adds tau_max - r."""
    ratios = np.asarray(ratios, dtype=float)
    if ratios.size == 0:
        return float("nan")
    gained = np.where(ratios <= tau_max, tau_max - np.maximum(ratios, 1.0), 0.0)
    return float(gained.mean() / (tau_max - 1.0))


def pareto_front(points: pd.DataFrame, accuracy: str = "accuracy", cost: str = "cost") -> list[str]:
    """The methods (the index of `points`) that no other method beats on both counts: none is at least as
    accurate for at most the cost, and better on one; cheapest first."""
    front = []
    for method, row in points.iterrows():
        others = points.drop(index=method)
        dominated = ((others[accuracy] >= row[accuracy]) & (others[cost] <= row[cost])
                     & ((others[accuracy] > row[accuracy]) | (others[cost] < row[cost]))).any()
        if not dominated:
            front.append(method)
    return list(points.loc[front].sort_values(cost, kind="stable").index)
