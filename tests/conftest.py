"""Hypothesis profiles: `dev` (fast, the default), `ci` (thorough, derandomized), `mutation`.

`.ci/run` selects `ci` with HYPOTHESIS_PROFILE=ci. No profile runs Hypothesis' explain
phase: after shrinking it replays the failing example with each part varied to mark what
does not matter, which took most of a failure's time here (over a minute for a contact
world, against seconds to shrink it). Set HYPOTHESIS_PROFILE=explain to get those comments.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

FAST_FAILURES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)

settings.register_profile(
    "dev",
    max_examples=40,
    deadline=None,
    phases=FAST_FAILURES,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=150,
    deadline=None,
    derandomize=True,
    print_blob=True,
    phases=FAST_FAILURES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("explain", settings.get_profile("dev"), phases=tuple(Phase))
# mutmut (docs/testing.md): the dev budget, derandomized so that a mutant is killed or not
# on every run, not by luck.
settings.register_profile(
    "mutation",
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    phases=FAST_FAILURES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
