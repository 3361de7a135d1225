"""Detector ``masks``: person masks made elsewhere, from a folder, one file, or a COCO JSON.

Why a detector and not a separate code path: masks from another tool (or COCO's
ground truth) then flow through the same refine, inpaint, cache and output code,
so ``--masks`` differs from YOLO only in where the pixels come from.

Why so wary (issue 20): these files come from elsewhere. A COCO file is checked record
by record before pycocotools sees it (``pipeline/coco_json.py``), a single mask file is
decoded up front, and a mask folder's files are read like inputs (regular files only,
bounded, within the pixel guard). A bad file given to ``--masks`` fails the run up front
(exit 2); a bad record or mask fails only its own photo, with one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

import cv2
import numpy as np

from remove_people.errors import InputError, UsageError
from remove_people.pipeline.safe_read import regular_or_missing
from remove_people.settings import param
from remove_people.stages.detect.base import PERSON, Detector, Frame, Instance

MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff", ".webp", ".jpg", ".jpeg", ".gif")


@dataclass
class MaskParams:
    """path: a folder of masks (matched by relative path, then by file stem), one mask image
    for every input, or a COCO annotation JSON. invert: masks mark holes black.
    threshold: grey level above which a pixel is a hole. category: COCO category name or id."""

    path: str | None = param(None, kind="path")
    invert: bool = False
    threshold: int = param(127, lo=0, hi=65534)
    category: str | int = param("person", lo=0, hi=2**31 - 1)  # a COCO category name or id


def split_components(mask: np.ndarray, label: str = PERSON) -> list[Instance]:
    """One instance per 8-connected blob, so per-person refinement and selection still work."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return [Instance(labels == i, 1.0, label, 0) for i in range(1, n)]


class _CocoIndex:
    """Annotations of a COCO file, looked up by an input's relative path or base name."""

    def __init__(self, path: Path, category: str) -> None:
        from remove_people.pipeline.coco_json import load_coco

        self.file = load_coco(path, option="--masks")  # a bad file: UsageError, exit 2
        self.coco = self.file.coco()
        cats = self.coco.loadCats(self.coco.getCatIds())
        by_name = {c["name"]: c["id"] for c in cats}
        if category in by_name:
            self.cat_id = by_name[category]
        elif str(category).isdigit() and int(category) in {c["id"] for c in cats}:
            self.cat_id = int(category)
        else:
            raise UsageError(f"{path}: no category {category!r}; categories: {', '.join(sorted(by_name))}")
        self.cat_name = next(c["name"] for c in cats if c["id"] == self.cat_id)
        #: file_name → image id, or the reason its record was refused (a str).
        self.by_name: dict[str, int | str] = {}
        self.by_base: dict[str, list[int | str]] = {}
        named = [(img["file_name"], img["id"]) for img in self.coco.dataset["images"]]
        named += list(self.file.bad_names.items())
        for fn, found in named:
            self.by_name.setdefault(fn, found)
            self.by_base.setdefault(PurePosixPath(fn).name, []).append(found)

    def image_id(self, rel: str) -> int | str | None:
        """The image id of input ``rel``, the reason its record was refused (a str), or None (no record)."""
        if rel in self.by_name:
            return self.by_name[rel]
        ids = self.by_base.get(PurePosixPath(rel).name, [])
        return ids[0] if len(ids) == 1 else None

    def instances(self, image_id: int, shape: tuple[int, int]) -> list[Instance]:
        info = self.coco.imgs[image_id]
        ann_ids = self.coco.getAnnIds(imgIds=[image_id], catIds=[self.cat_id], iscrowd=None)
        out = []
        for ann in self.coco.loadAnns(ann_ids):
            m = self.coco.annToMask(ann).astype(np.uint8)  # polygons and RLE alike
            if m.shape != shape:
                m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
            if m.any():
                box = ann.get("bbox")
                out.append(
                    Instance(
                        m > 0,
                        float(ann.get("score", 1.0)),
                        self.cat_name,
                        0 if self.cat_name == PERSON else int(self.cat_id),
                        (box[0], box[1], box[0] + box[2], box[1] + box[3]) if box and (info["height"], info["width"]) == shape else None,
                    )
                )
        return out


class MaskDetector(Detector):
    name = "masks"
    summary = "Masks made elsewhere (--masks PATH): a folder of mask images, one mask, or a COCO JSON."
    Params: ClassVar[type] = MaskParams
    cacheable = False  # the answer lives in files the content key does not cover

    def __init__(self, params: MaskParams) -> None:
        super().__init__(params)
        if not params.path:
            raise UsageError("the masks detector needs a path: --masks FOLDER|FILE.png|annotations.json")
        self.root = Path(params.path)
        if not self.root.exists():
            raise UsageError(f"--masks {self.root}: no such file or folder")
        kind = regular_or_missing(self.root)
        if kind is not None and kind != "a folder":
            raise UsageError(f"--masks {self.root}: is {kind}, not a mask file, folder or COCO JSON")
        self._coco: _CocoIndex | None = None
        self._folder_index: dict[str, list[Path]] | None = None
        #: Warnings about the --masks file as a whole (records naming no image), shown once by the runner.
        self.notes: list[str] = []
        if self.root.is_file() and self.root.suffix.lower() == ".json":
            self._coco = _CocoIndex(self.root, params.category)
            self.notes = list(self._coco.file.problems)
        elif self.root.is_file():
            self._check_single_mask()

    def _check_single_mask(self) -> None:
        """One mask for every input: decode it now, so a bad one fails the run once, up front."""
        from remove_people.pipeline.mask_reader import read_mask

        try:
            read_mask(self.root, None, invert=self.params.invert, threshold=self.params.threshold)
        except InputError as err:
            raise UsageError(f"--masks {self.root}: {err.reason}") from None

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        ident["params"]["path"] = str(self.root.resolve())
        return ident

    def _mask_file(self, rel: str) -> Path | None:
        if self.root.is_file():
            return self.root
        rel_path = PurePosixPath(rel)
        stem_rel = rel_path.with_suffix("")
        for suffix in MASK_SUFFIXES:  # same relative path, any image suffix (also name.jpg.png)
            for cand in (self.root / f"{stem_rel}{suffix}", self.root / f"{rel_path}{suffix}"):
                if cand.is_file():
                    return cand
        if self._folder_index is None:
            self._folder_index = {}
            for p in self.root.rglob("*"):
                if p.suffix.lower() in MASK_SUFFIXES and p.is_file():
                    self._folder_index.setdefault(p.stem, []).append(p)
        hits = self._folder_index.get(rel_path.stem, [])
        return hits[0] if len(hits) == 1 else None

    def detect(self, frames: list[Frame]) -> list[list[Instance]]:
        from remove_people.pipeline.mask_reader import read_mask

        out: list[list[Instance]] = []
        for f in frames:
            shape = f.rgb.shape[:2]
            if self._coco is not None:
                image_id = self._coco.image_id(f.rel)
                if image_id is None:
                    f.extra["warning"] = f"no entry in {self.root.name}; passed through unchanged"
                    out.append([])
                    continue
                if isinstance(image_id, str):  # its record was refused: this photo fails, the others go on
                    raise InputError(f.path, f"its record in {self.root.name} cannot be used: {image_id}")
                try:
                    out.append(self._coco.instances(image_id, shape))
                except Exception as err:  # noqa: BLE001 - a record that passed the checks and still fails
                    raise InputError(f.path, f"its masks in {self.root.name} cannot be drawn ({type(err).__name__}: {err})") from None
                continue
            mask_path = self._mask_file(f.rel)
            if mask_path is None:
                f.extra["warning"] = f"no mask found in {self.root}; passed through unchanged"
                out.append([])
                continue
            try:
                mask = read_mask(mask_path, shape, invert=self.params.invert, threshold=self.params.threshold)
            except InputError as err:
                raise InputError(f.path, f"its mask {mask_path} cannot be used: {err.reason}") from None
            out.append(split_components(mask > 0))
        return out
