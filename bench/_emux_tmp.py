# TEMPORARY exploration launcher (not to be kept): bigger scales.
import dataclasses
import sys

from emulator import timeline

base = timeline.SCALES["demo"]
for k in (5, 10, 30):
    timeline.SCALES[f"x{k}"] = dataclasses.replace(
        base, name=f"x{k}", incidents_per_day=base.incidents_per_day * k, issues_per_day=base.issues_per_day * k,
        pulls_per_day=base.pulls_per_day * k)
from emulator.__main__ import main  # noqa: E402

sys.exit(main())
