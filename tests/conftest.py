"""Shared test configuration: hypothesis profiles chosen by HYPOTHESIS_PROFILE.

``fast`` (the default, used by ``make test``) keeps the suite within minutes on
two cores; ``heavy`` runs many more examples (``HYPOTHESIS_PROFILE=heavy make test``).
"""

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "heavy", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# `make mutants` (benchmarks/mutants.py): the same examples on every run and no example
# database, so a verdict does not depend on what an earlier mutant made fail.
settings.register_profile(
    "mutants", max_examples=20, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


def _subnormals_survive() -> bool:
    import numpy as np

    return bool((np.array([2.2250738585072014e-308]) / 2)[0] != 0.0)


@pytest.fixture(autouse=True)
def _keeps_ieee_subnormals():
    """Fail the test that leaves flush-to-zero on: it is process-wide CPU state that
    silently changes every later float computation in the same worker."""
    yield
    assert _subnormals_survive(), "this test left flush-to-zero / denormals-are-zero on"
