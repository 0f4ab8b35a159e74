"""Imported by `site` when the interpreter embedded in a Flink JVM starts (thread mode; see `jobs/embedded`).

It imports the compiled extensions the operators use, once, on one thread. Otherwise the
operators, which all open at the same moment on their own threads, import them concurrently,
and a pybind11 extension of SciPy (imported by River) initialised on one of those threads
can deadlock the job at start (seen twice in about 25 runs: every operator waiting in its
first import, no CPU used).

It also lengthens the interpreter's switch interval. All the operators' threads share one GIL,
and each call into the JVM (state, timers, output) gives it up; at the default 5 ms a thread
running Python is made to hand it over often, and every handover wakes and convoys the others.
Measured on `default` seed 1 (942,145 events, p=1): 107.9 s at 5 ms, 91.4 s at 50 ms.
"""

import os
import sys

SWITCH_INTERVAL_S = 0.05


def _in_a_jvm() -> bool:
    """Whether this interpreter is embedded in a JVM (not one of the Python processes Flink starts beside it)."""
    try:
        return os.path.basename(os.readlink("/proc/self/exe")).startswith("java")
    except OSError:
        return False


if _in_a_jvm():
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import river.anomaly
    import river.linear_model  # noqa: F401
    import scipy.spatial  # noqa: F401
