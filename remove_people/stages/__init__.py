"""The three extension points of the pipeline, one registry each.

Built-in plugins are registered by import path so listing them costs no heavy
imports; third-party packages add theirs through the entry-point groups
``remove_people.detectors``, ``remove_people.refiners`` and ``remove_people.inpainters``.
"""

from __future__ import annotations

from remove_people.registry import Registry

#: The pipeline's stages in order; each has a registry, a config section and a cache folder.
STAGES: tuple[str, ...] = ("detect", "refine", "inpaint")

DETECTORS: Registry = Registry("detector", "remove_people.detectors")
REFINERS: Registry = Registry("refiner", "remove_people.refiners")
INPAINTERS: Registry = Registry("inpainter", "remove_people.inpainters")

#: stage name in the config → its registry
REGISTRIES: dict[str, Registry] = dict(zip(STAGES, (DETECTORS, REFINERS, INPAINTERS)))

DETECTORS.register_lazy("yolo", "remove_people.stages.detect.yolo:YoloDetector")
DETECTORS.register_lazy("masks", "remove_people.stages.detect.masks:MaskDetector")
REFINERS.register_lazy("morphology", "remove_people.stages.refine.morphology:MorphologyRefiner")
REFINERS.register_lazy("none", "remove_people.stages.refine.morphology:PassThroughRefiner")
INPAINTERS.register_lazy("telea", "remove_people.stages.inpaint.opencv:TeleaInpainter")
INPAINTERS.register_lazy("ns", "remove_people.stages.inpaint.opencv:NavierStokesInpainter")
INPAINTERS.register_lazy("patchmatch", "remove_people.stages.inpaint.patchfill:PatchFillInpainter")
INPAINTERS.register_lazy("pypatchmatch", "remove_people.stages.inpaint.patchmatch:PatchMatchInpainter")
INPAINTERS.register_lazy("deepfillv2", "remove_people.stages.inpaint.deepfillv2:DeepFillv2Inpainter")
INPAINTERS.register_lazy("pconv", "remove_people.stages.inpaint.pconv:PConvInpainter")
INPAINTERS.register_lazy("lama", "remove_people.stages.inpaint.lama:LamaInpainter")
INPAINTERS.register_lazy("migan", "remove_people.stages.inpaint.migan:MiganInpainter")
