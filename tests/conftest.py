"""Test-wide settings: hypothesis profiles and backend selection.

Profiles: `dev` (default, 60 examples), `ci` (when CI is set: 25 examples, derandomized so a CI run is
repeatable), `thorough` (500 examples; HYPOTHESIS_PROFILE=thorough). All have deadline=None because the
first call of a numba kernel compiles it.
"""
import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=60, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=500, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
