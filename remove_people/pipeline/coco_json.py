"""Reading a COCO annotation file without trusting it: every record is checked before pycocotools sees it.

Why (issue 20 items 8 and 9): pycocotools' C code trusts its input. A ``NaN`` polygon
coordinate segfaulted it (exit 139, no outputs), a declared size of 100000x100000 or a
coordinate of ``1e12`` exhausted memory, RLE counts that do not add up to the image
write past the end of its mask buffer, and a garbled compressed RLE string is read past
its end. Missing keys and wrong types ended in tracebacks. Every user of an annotation
file (``run --masks file.json``, ``coco -a``, ``eval detect``) loads it here, and
pycocotools only ever sees the records that passed:

* **A bad file fails the run up front** with one line and exit 2 (:class:`UsageError`):
  not a regular file, over ``MAX_ANNOTATION_BYTES``, not UTF-8 JSON, not an object, or
  no ``images`` / ``annotations`` list.
* **A bad record fails its own image** with one line: an image record with a missing
  or non-integer id, a ``width``/``height`` that is not a positive integer or is over the
  pixel guard; an annotation without an integer ``category_id``, with a
  non-finite ``bbox``/``area``/``score``, or a ``segmentation`` that is not polygons of
  finite coordinates near the image, nor an RLE of the image's size whose counts sum to
  height x width. Such an image is refused (its photo is reported, the others go on);
  a record that names no image is reported once and skipped.
* A missing ``area`` or ``bbox`` (which COCOeval needs) is computed from the checked mask,
  and annotations are numbered afresh (pycocotools indexes them by ``id``: a missing or
  repeated id would give one image another's mask).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remove_people.errors import InputError, UsageError

#: The biggest annotation file read (COCO's train2017 instances file is 448 MB).
MAX_ANNOTATION_BYTES = 4 << 30
#: Problems with records that name no image: at most this many lines, then a count.
MAX_PROBLEM_LINES = 20
#: Polygon coordinates may lie a little outside the image, not arbitrarily far.
_COORD_MARGIN = 4
#: pycocotools rasterises a polygon by walking its edges at 5x: the total edge length of one
#: annotation is bounded by this many image perimeters, so memory stays bounded too.
_MAX_PERIMETERS = 64


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _as_size(v: Any) -> int | None:
    """A positive integer size (an integral float such as 640.0 is accepted), else ``None``."""
    if _is_int(v):
        return v if v > 0 else None
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and v > 0:
        return int(v)
    return None


def _short(v: Any, limit: int = 40) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def decode_rle_string(counts: str, limit: int) -> list[int] | str:
    """The run lengths of a compressed COCO RLE string, or why it is not one.

    Mirrors pycocotools' ``rleFrString`` (LEB128-like groups of 5 bits in characters
    '0'..'o', runs after the third delta-coded from the run two before), but checks what
    the C code does not: the alphabet, a final group that ends, runs that stay within
    ``0..limit`` (the image's pixel count).
    """
    out: list[int] = []
    p, n = 0, len(counts)
    while p < n:
        x = k = 0
        more = True
        while more:
            if p >= n:
                return "the RLE string ends in the middle of a number"
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                return f"the RLE string has a character {counts[p]!r} outside '0'..'o'"
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if k > 7:
                return "the RLE string has a number over 32 bits"
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        if not 0 <= x <= limit:
            return "the RLE string has a run outside the image"
        out.append(x)
    return out


def _segmentation_problem(segm: Any, height: int, width: int) -> str | None:
    """Why ``segm`` cannot be rasterised safely on a ``height`` x ``width`` image (``None``: it can)."""
    if isinstance(segm, list):
        if not segm:
            return "segmentation is an empty list"
        lo_x, hi_x = -_COORD_MARGIN * width, (_COORD_MARGIN + 1) * width
        lo_y, hi_y = -_COORD_MARGIN * height, (_COORD_MARGIN + 1) * height
        walk = 0.0
        for poly in segm:
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
                return "a polygon is not a list of at least 3 x,y pairs"
            if not all(_is_num(v) for v in poly):
                return "a polygon has a coordinate that is not a finite number"
            xs, ys = poly[0::2], poly[1::2]
            if min(xs) < lo_x or max(xs) > hi_x or min(ys) < lo_y or max(ys) > hi_y:
                return "a polygon has a coordinate far outside the image"
            walk += sum(
                max(abs(xs[i] - xs[i - 1]), abs(ys[i] - ys[i - 1])) for i in range(len(xs))
            )
        if walk > _MAX_PERIMETERS * 2 * (width + height):
            return "its polygons are too long for the image (thousands of times round it)"
        return None
    if isinstance(segm, dict):
        size, counts = segm.get("size"), segm.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) for v in size)):
            return "the RLE has no [height, width] size"
        if size != [height, width]:
            return f"the RLE size {size[0]}x{size[1]} is not the image's {height}x{width}"
        total = height * width
        if isinstance(counts, list):
            if not all(_is_int(v) and v >= 0 for v in counts):
                return "the RLE counts are not non-negative integers"
            if sum(counts) != total:
                return f"the RLE counts sum to {sum(counts)}, not height x width = {total}"
            return None
        if isinstance(counts, str):
            runs = decode_rle_string(counts, total)
            if isinstance(runs, str):
                return runs
            if sum(runs) != total:
                return f"the RLE counts sum to {sum(runs)}, not height x width = {total}"
            return None
        return "the RLE counts are neither a list nor a string"
    return "segmentation is neither polygons nor an RLE"


def _annotation_problem(ann: dict[str, Any], img: dict[str, Any]) -> str | None:
    if not _is_int(ann.get("category_id")):
        return "its category_id is not an integer"
    if "iscrowd" in ann and ann["iscrowd"] not in (0, 1):
        return "iscrowd is not 0 or 1"
    for key in ("area", "score"):
        if key in ann and not _is_num(ann[key]):
            return f"{key} is not a finite number"
    if "bbox" in ann:
        box = ann["bbox"]
        if not (isinstance(box, list) and len(box) == 4 and all(_is_num(v) for v in box) and box[2] >= 0 and box[3] >= 0):
            return "bbox is not [x, y, width, height] of finite numbers"
    if "segmentation" not in ann:
        return "it has no segmentation"
    return _segmentation_problem(ann["segmentation"], img["height"], img["width"])


@dataclass
class CocoFile:
    """A checked annotation file: the records that passed, and a reason for each one that did not."""

    path: Path
    dataset: dict[str, Any]  #: only the images, annotations and categories that passed
    bad_ids: dict[int, str] = field(default_factory=dict)  #: image id → why its record or an annotation of it failed
    bad_names: dict[str, str] = field(default_factory=dict)  #: file_name → why, for every refused image record
    problems: list[str] = field(default_factory=list)  #: records that name no image: one line each
    _coco: Any = None

    def coco(self) -> Any:
        """A pycocotools ``COCO`` over the checked records (built once, without reading the file again)."""
        if self._coco is None:
            from pycocotools.coco import COCO

            coco = COCO()
            coco.dataset = self.dataset
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
                coco.createIndex()
            self._coco = coco
        return self._coco

    def reason(self, image_id: int | None = None, file_name: str | None = None) -> str | None:
        """Why an image (by id or file name) was refused; ``None`` if it was not."""
        if image_id is not None and image_id in self.bad_ids:
            return self.bad_ids[image_id]
        if file_name is not None:
            return self.bad_names.get(file_name)
        return None


def _read_json(path: Path, option: str) -> Any:
    from remove_people.pipeline.safe_read import read_regular

    try:
        data = read_regular(path, "annotation", MAX_ANNOTATION_BYTES)
    except InputError as err:
        raise UsageError(f"{option} {err}") from None
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError(f"{option} {path}: not a COCO annotation file (not UTF-8 text)") from None
    except RecursionError:
        raise UsageError(f"{option} {path}: not a COCO annotation file (JSON nested too deeply)") from None
    except ValueError as err:  # JSONDecodeError, and integers too long to convert
        raise UsageError(f"{option} {path}: not a COCO annotation file (invalid JSON: {str(err)[:80]})") from None


def load_coco(path: Path | str, option: str = "--masks", max_pixels: int | None = None) -> CocoFile:
    """Read and check the annotation file ``path`` (see the module docstring).

    ``option`` names the command-line option in messages. ``max_pixels`` bounds each
    image record's width x height (default: the pixel guard of ``pipeline/formats.py``).
    """
    from remove_people.pipeline.formats import DEFAULT_MAX_PIXELS

    path = Path(path)
    limit = int(max_pixels or DEFAULT_MAX_PIXELS)
    raw = _read_json(path, option)
    if not isinstance(raw, dict):
        raise UsageError(f"{option} {path}: not a COCO annotation file (a JSON {type(raw).__name__}, not an object)")
    for key in ("images", "annotations"):
        if not isinstance(raw.get(key), list):
            raise UsageError(f"{option} {path}: not a COCO annotation file (no '{key}' list)")
    cats_raw = raw.get("categories", [])
    if not isinstance(cats_raw, list):
        raise UsageError(f"{option} {path}: not a COCO annotation file ('categories' is not a list)")

    out = CocoFile(path, {})
    problems: list[str] = []

    categories, cat_ids = [], set()
    for n, cat in enumerate(cats_raw):
        if isinstance(cat, dict) and _is_int(cat.get("id")) and isinstance(cat.get("name"), str) and cat["id"] not in cat_ids:
            categories.append(cat)
            cat_ids.add(cat["id"])
        else:
            problems.append(f"categories[{n}]: not an object with a unique integer id and a name; skipped")

    images: dict[int, dict[str, Any]] = {}
    for n, img in enumerate(raw["images"]):
        if not isinstance(img, dict):
            problems.append(f"images[{n}]: not an object ({_short(img)}); skipped")
            continue
        name = img.get("file_name")
        name = name if isinstance(name, str) and name and "\x00" not in name else None
        image_id = img.get("id")
        why = None
        if not _is_int(image_id):
            why = f"its image record has no integer id ({_short(image_id)})"
        elif image_id in images or image_id in out.bad_ids:
            why = f"image id {image_id} appears more than once"
        elif name is None:
            why = f"image id {image_id} has no file_name"
        else:
            w, h = _as_size(img.get("width")), _as_size(img.get("height"))
            if w is None or h is None:
                why = f"image id {image_id}: width/height {_short(img.get('width'))}x{_short(img.get('height'))} are not positive integers"
            elif w * h > limit:
                why = f"image id {image_id}: {w}x{h} is over the pixel limit of {limit:,}"
            else:
                images[image_id] = dict(img, width=w, height=h)
                continue
        if _is_int(image_id):
            first = images.pop(image_id, None)  # a repeated id refuses both records
            out.bad_ids.setdefault(image_id, why)
            if first is not None:
                out.bad_names.setdefault(first["file_name"], why)
        if name is not None:
            out.bad_names.setdefault(name, why)
        if not _is_int(image_id):  # no id to name it by: listed here (its file_name, if any, still fails its photo)
            problems.append(f"images[{n}]" + (f" (file_name {name!r})" if name else "") + f": {why}; skipped")

    annotations: list[dict[str, Any]] = []
    for n, ann in enumerate(raw["annotations"]):
        if not isinstance(ann, dict):
            problems.append(f"annotations[{n}]: not an object ({_short(ann)}); skipped")
            continue
        image_id = ann.get("image_id")
        if not _is_int(image_id):
            problems.append(f"annotations[{n}]: image_id {_short(image_id)} is not an integer; skipped")
            continue
        img = images.get(image_id)
        if img is None:
            continue  # its image was refused already, or the file has no such image
        why = _annotation_problem(ann, img)
        if why is not None:
            why = f"annotations[{n}] (image id {image_id}): {why}"
            out.bad_ids.setdefault(image_id, why)
            out.bad_names.setdefault(img["file_name"], why)
            continue
        # Numbered afresh: pycocotools indexes annotations by id, so a missing or repeated id
        # would hand one image another's mask. Nothing reads the file's own ids.
        annotations.append(dict(ann, id=len(annotations) + 1, iscrowd=int(ann.get("iscrowd", 0))))

    for image_id in list(out.bad_ids):
        img = images.pop(image_id, None)
        if img is not None:
            out.bad_names.setdefault(img["file_name"], out.bad_ids[image_id])
    annotations = [a for a in annotations if a["image_id"] in images]
    _fill_area_and_bbox(annotations, images)
    extra = {k: v for k, v in raw.items() if k not in ("images", "annotations", "categories")}
    out.dataset = {**extra, "images": list(images.values()), "annotations": annotations, "categories": categories}
    if len(problems) > MAX_PROBLEM_LINES:
        problems = problems[:MAX_PROBLEM_LINES] + [f"... and {len(problems) - MAX_PROBLEM_LINES} more records like these"]
    out.problems = [f"{path.name}: {p}" for p in problems]
    return out


def _fill_area_and_bbox(annotations: list[dict[str, Any]], images: dict[int, dict[str, Any]]) -> None:
    """COCOeval reads every ground truth's ``area`` and ``bbox``: compute the missing ones from the checked mask."""
    todo = [a for a in annotations if "area" not in a or "bbox" not in a]
    if not todo:
        return
    from pycocotools import mask as mask_utils

    for a in todo:
        img = images[a["image_id"]]
        h, w, segm = img["height"], img["width"], a["segmentation"]
        if isinstance(segm, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
        elif isinstance(segm["counts"], list):
            rle = mask_utils.frPyObjects(segm, h, w)
        else:
            rle = segm
        a.setdefault("area", float(mask_utils.area(rle)))
        a.setdefault("bbox", [float(v) for v in mask_utils.toBbox(rle)])
