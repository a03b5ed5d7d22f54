"""Shared test configuration: hypothesis profiles chosen by HYPOTHESIS_PROFILE.

``fast`` (the default, used by ``make test``) keeps the suite within minutes on
two cores; ``heavy`` runs many more examples (``HYPOTHESIS_PROFILE=heavy make test``).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "heavy", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))
