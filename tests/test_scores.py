"""The cost-aware scores: the performance-profile score's area and the Pareto front, on hand-made cases."""
import math

import numpy as np
import pandas as pd

from lenet_bench.report import scores


def test_the_profile_score_is_the_area_under_the_step_profile_up_to_tau_4():
    # Solved at 1 (area 3), at 2.5 (area 1.5), at 4 (area 0), never (0): (3 + 1.5) / 3 / 4 problems.
    assert scores.profile_score(np.array([1.0, 2.5, 4.0, math.inf])) == 0.375
    assert scores.profile_score(np.ones(5)) == 1.0  # the cheapest on every problem
    assert scores.profile_score(np.array([math.inf, 7.0])) == 0.0
    # The same area by brute force: rho(tau) on a fine grid.
    ratios = np.array([1.0, 1.3, 2.0, 3.7, math.inf, 9.0])
    taus = np.linspace(1, 4, 300_001)
    rho = (ratios[None, :] <= taus[:, None]).mean(axis=1)
    assert abs(scores.profile_score(ratios) - np.trapezoid(rho, taus) / 3) < 1e-4


def test_the_pareto_front_holds_only_undominated_methods():
    points = pd.DataFrame({"accuracy": [0.90, 0.91, 0.89, 0.91, 0.905], "cost": [1.0, 3.0, 2.0, 4.0, 3.0]},
                          index=["cheap", "best", "worse_and_dearer", "best_but_dearer", "between"])
    assert scores.pareto_front(points) == ["cheap", "best"]
    # A tie on both counts dominates neither.
    twins = pd.DataFrame({"accuracy": [0.9, 0.9], "cost": [1.0, 1.0]}, index=["a", "b"])
    assert scores.pareto_front(twins) == ["a", "b"]
