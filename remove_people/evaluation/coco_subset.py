"""Choosing a subset of a COCO dataset, and resolving its file names safely.

Why safe resolution matters: an annotation file is data from elsewhere, and its
``file_name`` is joined to a folder we then read (and, in batch mode, mirror into
``--out``). A name such as ``../../etc/passwd`` or ``/etc/shadow`` must never be
followed: it is refused with a message naming the image id and the field to fix.
Selection is deterministic: ids are sorted, and ``--seed`` draws a random sample
with its own generator, so the same command picks the same images everywhere.

The file itself is checked record by record before pycocotools sees it
(``pipeline/coco_json.py``): a bad file is a usage error, a bad record refuses its
own image with one line (listed in ``problems``), and the others go on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Iterable

import numpy as np

from remove_people.errors import UsageError

PERSON_CATEGORY_ID = 1


@dataclass(frozen=True)
class ImageRecord:
    """One COCO image record, with its resolved path (``None`` when its name was refused)."""

    id: int
    file_name: str
    width: int
    height: int
    split: str | None
    path: Path | None
    persons: int  # person annotations, crowd included
    crowd_persons: int
    largest_person_frac: float  # largest non-crowd person area / image area


@dataclass
class CocoSubset:
    """A COCO annotation file, its image folder, and the records chosen so far."""

    annotations: Path
    images_dir: Path
    coco: Any
    records: list[ImageRecord]
    problems: list[str] = field(default_factory=list)  # refused names, missing files: one line each

    @classmethod
    def load(cls, annotations: Path, images_dir: Path) -> "CocoSubset":
        from remove_people.pipeline.coco_json import load_coco

        annotations, images_dir = Path(annotations), Path(images_dir)
        if not annotations.exists():
            raise UsageError(f"--annotations {annotations}: no such file")
        if not images_dir.is_dir():
            raise UsageError(f"--images {images_dir}: not a folder")
        checked = load_coco(annotations, option="--annotations")  # a bad file: UsageError (exit 2)
        coco = checked.coco()
        if PERSON_CATEGORY_ID not in coco.cats or coco.cats[PERSON_CATEGORY_ID].get("name") != "person":
            raise UsageError(f"{annotations}: category id 1 is not 'person'; this tool expects COCO's category ids")
        problems: list[str] = list(checked.problems)
        records: list[ImageRecord] = []
        for img_id, why in sorted(checked.bad_ids.items()):  # refused records: listed, never selected
            problems.append(f"{annotations.name}: {why}; image refused (fix its record)")
            records.append(ImageRecord(int(img_id), "", 0, 0, None, None, 0, 0, 0.0))
        for img_id in sorted(coco.imgs):
            info = coco.imgs[img_id]
            fn = str(info.get("file_name", ""))
            path, why = safe_image_path(images_dir, fn)
            if why:
                problems.append(f"{annotations.name}: image id {img_id}: file_name {fn!r} {why}; refused (fix the file_name)")
            anns = coco.loadAnns(coco.getAnnIds(imgIds=[img_id], catIds=[PERSON_CATEGORY_ID], iscrowd=None))
            area = float(info["width"] * info["height"]) or 1.0
            largest = max((float(a.get("area", 0)) for a in anns if not a.get("iscrowd")), default=0.0)
            records.append(
                ImageRecord(
                    id=int(img_id), file_name=fn, width=int(info.get("width", 0)), height=int(info.get("height", 0)),
                    split=info.get("coco_split"), path=path, persons=len(anns),
                    crowd_persons=sum(1 for a in anns if a.get("iscrowd")), largest_person_frac=largest / area,
                )
            )
        return cls(annotations, images_dir, coco, records, problems)

    def select(
        self,
        image_ids: Iterable[int] | None = None,
        limit: int | None = None,
        with_persons: bool | None = None,
        min_person_area: float = 0.0,
        seed: int | None = None,
        split: str | None = None,
    ) -> "CocoSubset":
        """A new subset: filters first, then ``limit`` (a seeded random sample when ``seed`` is given).

        ``min_person_area`` is a fraction of the frame, as in ``run --min-person-area``: keep
        images with at least one (non-crowd) person that large. Refused names drop out here;
        images missing on disk are kept and reported by :meth:`missing`.
        """
        recs = [r for r in self.records if r.path is not None]
        if image_ids is not None:
            wanted = [int(i) for i in image_ids]
            known = {r.id for r in self.records}
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise UsageError(f"--image-ids: {', '.join(map(str, unknown[:10]))} not in {self.annotations}")
            wanted_set = set(wanted)
            recs = [r for r in recs if r.id in wanted_set]
        if split:
            recs = [r for r in recs if r.split == split]
        if with_persons is True:
            recs = [r for r in recs if r.persons > 0]
        elif with_persons is False:
            recs = [r for r in recs if r.persons == 0]
        if min_person_area > 0:
            recs = [r for r in recs if r.largest_person_frac >= min_person_area]
        if limit is not None and limit < len(recs):
            if seed is not None:
                idx = np.sort(np.random.default_rng(int(seed)).choice(len(recs), size=int(limit), replace=False))
                recs = [recs[i] for i in idx]
            else:
                recs = recs[: int(limit)]
        return CocoSubset(self.annotations, self.images_dir, self.coco, recs, list(self.problems))

    def missing(self) -> list[ImageRecord]:
        return [r for r in self.records if r.path is not None and not r.path.is_file()]

    @property
    def ids(self) -> list[int]:
        return [r.id for r in self.records]


def safe_image_path(root: Path, file_name: str) -> tuple[Path | None, str | None]:
    """``root / file_name`` if it stays inside ``root``; else ``(None, why)``.

    Refused: empty names, absolute paths (POSIX or Windows, drive letters included),
    any ``..`` component, and names whose resolved path (symlinks followed) leaves ``root``.
    """
    if not file_name or "\x00" in file_name:
        return None, "is empty or has a NUL byte"
    posix, win = PurePosixPath(file_name), PureWindowsPath(file_name)
    if posix.is_absolute() or win.is_absolute() or win.drive or file_name.startswith(("/", "\\")):
        return None, "is an absolute path, outside the --images folder"
    if ".." in posix.parts or ".." in win.parts:
        return None, "climbs out of the --images folder with '..'"
    path = root / Path(*posix.parts)
    root_r = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    if real != root_r and root_r not in real.parents:
        return None, "resolves (through a symlink) outside the --images folder"
    return path, None
