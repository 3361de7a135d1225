"""Our PatchMatch fill: multi-scale, seeded, multi-core (numba) or on a GPU (torch), with source exclusion.

``patch_fill`` is the algorithm (``fill.py``); ``pyramid`` builds its scales, ``kernels_numba``
and ``kernels_torch`` are its inner loops (same integer results), ``rng`` its random numbers.
The inpainter plugin that wraps it is ``remove_people.stages.inpaint.patchfill``.
"""

from remove_people.fill.fill import FillSettings, patch_fill

__all__ = ["FillSettings", "patch_fill"]
