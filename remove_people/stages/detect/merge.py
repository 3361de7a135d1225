"""One instance per object from several passes over the same photo (models of an ensemble, flipped views).

Why a second, lower threshold for detections another pass confirms (``keep_supported``):
a person the network is unsure of (a back of a head at the frame's edge, someone half
hidden behind a counter) often comes out at 0.05-0.2 from several passes at once, while
the junk a low threshold lets in (texture, reflections) rarely agrees across models and
mirror images. Keeping a weak detection only when another pass also saw it buys most
of the recall of a low threshold for a fraction of its needless repainting
(docs/evaluation.md, "Removal against ground truth").

Why merge per object and not only union the pixels: the select stage decides per
person (keep the largest, keep the one in the centre, remove only confident ones),
the refine stage grows each person by its own height, and the summary counts
persons. Two passes that found the same person must stay one person, with the union
of what each saw (one model gets the raised arm, the other the hair): the removal
mask misses fewer pixels, and nothing is counted twice.

How: all instances, most confident first; each joins the first group of its class
whose *seed* (the group's most confident instance) it overlaps with mask IoU at
least ``iou`` and that has no member from its own pass yet, else it seeds a group of
its own. Comparing with the seed, not with the growing union, keeps a chain of
neighbours in a crowd from fusing into one; one member per pass keeps a pass's own
weaker, overlapping detections (which its NMS kept apart: a part, a neighbour, or
junk at a low threshold) from swelling the person's mask. A group's mask and box
are the unions of its members', its score the seed's.
"""

from __future__ import annotations

import numpy as np

from remove_people.stages.detect.base import Instance

#: A weak detection is confirmed by a detection of another pass covering at least this
#: share of the smaller of the two masks (one may be a part of the other: a head, a torso).
SUPPORT_OVERLAP = 0.5


def _box_overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _crops(a: Instance, b: Instance) -> tuple[np.ndarray, np.ndarray]:
    """The two masks inside the hull of their boxes (masks are full-frame; the boxes are small)."""
    assert a.box is not None and b.box is not None
    x0 = int(max(0, min(a.box[0], b.box[0])))
    y0 = int(max(0, min(a.box[1], b.box[1])))
    x1 = int(np.ceil(max(a.box[2], b.box[2]))) + 1
    y1 = int(np.ceil(max(a.box[3], b.box[3]))) + 1
    return a.mask[y0:y1, x0:x1], b.mask[y0:y1, x0:x1]


def _mask_iou(a: Instance, b: Instance) -> float:
    ma, mb = _crops(a, b)
    union = int((ma | mb).sum())
    return float((ma & mb).sum()) / union if union else 0.0


def _overlap(a: Instance, b: Instance) -> float:
    """Intersection over the smaller mask (1 when one lies inside the other)."""
    assert a.box is not None and b.box is not None
    if not _box_overlaps(a.box, b.box):
        return 0.0
    ma, mb = _crops(a, b)
    return int((ma & mb).sum()) / max(1, min(a.area, b.area))


def keep_supported(passes: list[list[Instance]], conf: float, support_conf: float | None) -> list[list[Instance]]:
    """Each pass's detections at ``conf`` or more, plus those at ``support_conf`` or more that another pass confirms.

    Confirmed = a detection of the same class from another pass (at ``support_conf`` or more)
    covers at least ``SUPPORT_OVERLAP`` of the smaller of the two masks. ``support_conf`` None
    (or a single pass) keeps only ``conf``.
    """
    if support_conf is None or len(passes) < 2 or support_conf >= conf:
        return [[i for i in p if i.score >= conf] for p in passes]
    weak = [[i for i in p if i.score >= support_conf] for p in passes]
    out = []
    for k, p in enumerate(weak):
        kept = []
        for inst in p:
            if inst.score >= conf or any(
                o.class_id == inst.class_id and _overlap(inst, o) >= SUPPORT_OVERLAP for j, q in enumerate(weak) if j != k for o in q
            ):
                kept.append(inst)
        out.append(kept)
    return out


def merge_instances(passes: list[list[Instance]], iou: float) -> list[Instance]:
    """The instances of all ``passes`` over one photo, one per object (see the module docstring).

    With a single pass the instances come back unchanged (same objects, same order).
    """
    if len(passes) == 1:
        return list(passes[0])
    seeds: list[Instance] = []
    members: list[list[Instance]] = []
    taken: list[set[int]] = []  # the passes each group already has a member from
    ordered = sorted(((inst, n) for n, p in enumerate(passes) for inst in p), key=lambda t: -t[0].score)
    for inst, n in ordered:
        assert inst.box is not None
        for k, seed in enumerate(seeds):
            assert seed.box is not None
            if n in taken[k] or seed.class_id != inst.class_id or not _box_overlaps(seed.box, inst.box):
                continue
            if _mask_iou(seed, inst) >= iou:
                members[k].append(inst)
                taken[k].add(n)
                break
        else:
            seeds.append(inst)
            members.append([inst])
            taken.append({n})
    out = []
    for seed, group in zip(seeds, members):
        if len(group) == 1:
            out.append(seed)
            continue
        mask = np.zeros_like(seed.mask)
        for m in group:
            mask |= m.mask
        boxes = np.array([m.box for m in group], dtype=float)
        box = (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))
        out.append(Instance(mask, seed.score, seed.label, seed.class_id, box))
    return out


def flip_back(inst: Instance, width: int) -> Instance:
    """An instance found on the horizontally flipped photo, in the photo's own frame."""
    x0, y0, x1, y1 = inst.box or (0.0, 0.0, 0.0, 0.0)
    return Instance(np.ascontiguousarray(inst.mask[:, ::-1]), inst.score, inst.label, inst.class_id, (width - x1, y0, width - x0, y1))
