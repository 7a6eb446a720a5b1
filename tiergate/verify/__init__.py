"""Verification: where a chip is, proven by the speed of light, and whether it is the chip declared.

- :func:`tiergate.verify.location.locate`: a location claim against round-trip times (pure geometry).
- :func:`tiergate.verify.probe.probe`: a measured GEMM rate against the declared part's TPP.
- :mod:`tiergate.verify.service`: the files, claims, Tier 3 in force and signed replies the faces share.
- :mod:`tiergate.verify.chipkeys`: keys bound to chips' serials, challenges and their signed answers.
"""

from tiergate.verify.location import Claim, LocationReport, Sample, Verdict, locate
from tiergate.verify.probe import ProbeReport, ProbeVerdict, probe

__all__ = ["Claim", "LocationReport", "ProbeReport", "ProbeVerdict", "Sample", "Verdict", "locate", "probe"]
