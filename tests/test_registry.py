"""Registries: built-ins by name, third-party plugins through entry points, clear errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from remove_people.errors import UsageError
from remove_people.registry import Registry
from remove_people.stages import INPAINTERS, REGISTRIES


def test_builtins_are_registered() -> None:
    assert {"yolo", "masks"} <= set(REGISTRIES["detect"].names())
    assert {"morphology", "none"} <= set(REGISTRIES["refine"].names())
    assert {"telea", "ns", "patchmatch", "pypatchmatch", "deepfillv2", "pconv"} <= set(INPAINTERS.names())


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown inpainter 'nope'; valid inpainters: .*telea"):
        INPAINTERS.get("nope")


def test_entry_point_plugin_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party package registers through the entry-point group, with no code change here."""
    pkg = tmp_path / "rp_blur_plugin.py"
    pkg.write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass
            import cv2
            from remove_people.stages.inpaint.base import CropParams, Inpainter

            @dataclass
            class BlurParams(CropParams):
                ksize: int = 9

            class BlurInpainter(Inpainter):
                name = "blur"
                summary = "test plugin"
                Params = BlurParams
                def fill(self, images, holes):
                    k = self.params.ksize
                    return [cv2.blur(i, (k, k)) for i in images]
            """
        )
    )
    dist = tmp_path / "rp_blur_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rp-blur-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[remove_people.inpainters]\nblur = rp_blur_plugin:BlurInpainter\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("inpainter", "remove_people.inpainters")
    assert "blur" in reg.names()
    cls = reg.get("blur")
    import numpy as np

    p = cls.Params(strategy="crop", margin=0.5, min_margin=4, max_side=None, feather=0)
    img = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    mask = np.zeros((40, 50), np.uint8)
    mask[10:20, 10:30] = 255
    out = cls(p).inpaint(img, mask)
    assert (out[mask == 0] == img[mask == 0]).all() and (out[mask > 0] != img[mask > 0]).any()
    sys.modules.pop("rp_blur_plugin", None)
