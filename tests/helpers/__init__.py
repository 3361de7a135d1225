"""Shared test helpers, imported as ``helpers.<module>`` (``tests/`` is on ``sys.path`` through the root
``conftest.py``, pytest's rootdir-relative import), instead of each test editing ``sys.path``.

- ``badinputs``: every way an image file can be wrong, and odd but valid ones;
- ``faultkit``: the fault suite's CLI runs, reference run and output checks;
- ``torchscript_standins``: stand-ins of the published LaMa and MI-GAN TorchScript files;
- ``telea_variants``: Telea plugins that fail, die or stall on purpose (for the worker pool).
"""
