"""Shadow extension on synthetic scenes whose shadow is known pixel for pixel.

Each scene: a textured ground (two scales of noise, so texture alone varies the luminance
by about ±10 %), a person-shaped blob (body, head, legs) standing on it, and a soft cast
shadow rendered as a multiplicative attenuation (core 0.5, Gaussian penumbra) that starts
at the feet. Ground truth "shadow" = pixels darkened by at least 10 %, outside the person.
A dark stone near the feet but not touching the shadow checks that growth stays connected.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from remove_people.config import build_stage
from remove_people.stages.detect.base import Instance
from remove_people.stages.refine.shadows import ShadowParams, shadow_mask


def scene(seed: int, direction: float, length: float = 0.8, ground=(150, 135, 105)):
    """(rgb, person mask, true shadow mask, stone mask) for one synthetic scene."""
    rng = np.random.default_rng(seed)
    h, w = 300, 400
    coarse = cv2.resize(rng.normal(0, 1, (h // 20, w // 20)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.0)
    tex = 1.0 + 0.05 * coarse + 0.08 * fine
    base = np.clip(np.array(ground, np.float32)[None, None] * tex[..., None], 0, 255)

    person = np.zeros((h, w), np.uint8)
    cx, feet = 200, 230
    cv2.ellipse(person, (cx, 150), (22, 45), 0, 0, 360, 1, -1)  # body
    cv2.circle(person, (cx, 92), 14, 1, -1)  # head
    cv2.line(person, (cx - 8, 185), (cx - 12, feet), 1, 9)  # legs
    cv2.line(person, (cx + 8, 185), (cx + 12, feet), 1, 9)
    person = person.astype(bool)
    ph = feet - 78

    # Shadow: an ellipse from the feet along `direction` (degrees, image coords), soft edges.
    att = np.ones((h, w), np.float32)
    L = length * ph
    dx, dy = np.cos(np.radians(direction)), np.sin(np.radians(direction)) * 0.35  # foreshortened on the ground
    centre = (int(cx + dx * L / 2), int(feet + dy * L / 2))
    core = np.zeros((h, w), np.float32)
    angle = float(np.degrees(np.arctan2(dy, dx)))
    if length > 0:
        cv2.ellipse(core, centre, (int(L / 2), 16), angle, 0, 360, 1.0, -1)
        cv2.ellipse(core, (cx, feet), (18, 8), 0, 0, 360, 1.0, -1)  # under the feet
    core = cv2.GaussianBlur(core, (0, 0), 3.0)
    att = 1.0 - 0.5 * core
    # a bluish tint in shade (skylight), as in real photos
    tint = np.stack([att, att, att * 1.04], axis=2)
    img = base * tint

    stone = np.zeros((h, w), np.uint8)
    sx = int(cx - np.sign(dx if abs(dx) > 0.2 else 1) * 70)
    cv2.circle(stone, (sx, feet + 25), 12, 1, -1)
    stone = stone.astype(bool) & (core < 0.02)
    img[stone] *= 0.55

    clothes = np.array([60, 70, 120], np.float32)
    img[person] = clothes * (1 + 0.1 * rng.normal(0, 1, (int(person.sum()), 1)))
    rgb = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    truth = (att <= 0.9) & ~person
    return rgb, person, truth, stone


def measure(pred: np.ndarray, truth: np.ndarray, person: np.ndarray) -> tuple[float, float]:
    """(recall of shadow pixels, false extension as a fraction of the true shadow's area)."""
    recall = float((pred & truth).sum()) / truth.sum()
    false = float((pred & ~truth & ~person).sum()) / truth.sum()
    return recall, false


SCENES = [(0, 0.0), (1, 180.0), (2, 30.0), (3, 150.0), (4, 90.0)]


@pytest.mark.parametrize("seed, direction", SCENES)
def test_synthetic_shadow_recall_and_false_extension(seed, direction):
    rgb, person, truth, stone = scene(seed, direction)
    pred = shadow_mask(rgb, person, ShadowParams())
    recall, false = measure(pred, truth, person)
    assert recall >= 0.8, f"recall {recall:.3f}"
    assert false <= 0.10, f"false extension {false:.3f}"
    assert not (pred & stone).any()
    assert not (pred & person).any()


def test_extent_caps_a_long_shadow():
    rgb, person, truth, _ = scene(5, 0.0, length=2.5)
    ys = np.nonzero(person)[0]
    height = ys.max() + 1 - ys.min()
    short = shadow_mask(rgb, person, ShadowParams(extent=0.5))
    xs = np.nonzero(short)[1]
    right_foot = np.nonzero(person)[1].max()
    assert xs.max() <= right_foot + 3 + 0.5 * height  # reach is measured from the ground contact
    assert shadow_mask(rgb, person, ShadowParams(extent=3.0)).sum() > short.sum() * 1.5


def test_no_shadow_no_extension():
    """A person on plain textured ground with no shadow: nothing (or next to nothing) is added."""
    rgb, person, truth, _ = scene(6, 0.0)
    flat, _, _, _ = scene(6, 0.0, length=0.0)  # same ground and person, no shadow
    pred = shadow_mask(flat, person, ShadowParams())
    assert pred.sum() <= 0.02 * truth.sum()


def test_morphology_refiner_shadows_switch():
    rgb, person, truth, _ = scene(0, 0.0)
    inst = [Instance(person)]
    off = build_stage("refine", "morphology", shadows=False).refine(rgb, inst) > 0
    on = build_stage("refine", "morphology", shadows=True).refine(rgb, inst) > 0
    assert (off & truth).mean() < (on & truth).mean()
    assert on[truth].mean() >= 0.95  # shadow found, then dilated with the person
    # A kept person standing in the shadow is carved out, shadow or not.
    protect = np.zeros_like(person)
    protect[235:260, 240:270] = True
    guarded = build_stage("refine", "morphology", shadows=True).refine(rgb, inst, protect) > 0
    assert not guarded[protect].any()
