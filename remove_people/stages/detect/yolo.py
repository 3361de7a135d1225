"""The default detector: ultralytics YOLO instance segmentation, persons (COCO class 0).

Why ultralytics: it owns letterboxing, NMS and mask prototypes for the whole
YOLO family; we only ask for masks at the original resolution (``retina_masks``)
and stream batches so memory stays flat over large folders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from remove_people.stages.detect.base import Detector, Frame, Instance


@dataclass
class YoloParams:
    """weights: a model-table name (e.g. yolo11n-seg) or a path to an ultralytics .pt.
    conf/iou/imgsz/max_det/half: as in ``ultralytics predict``. device: auto|cpu|cuda[:N].
    batch: images per forward pass. classes: COCO ids to keep (0 = person)."""

    weights: str
    conf: float
    iou: float
    imgsz: int
    max_det: int
    half: bool
    device: str
    batch: int
    classes: list[int]
    trust_weights: bool = False  # load a .pt whose sha256 is not in the weights table (it is a full pickle)


def _ultralytics_offline_env() -> None:
    """Keep ultralytics from reaching the network or installing packages on import."""
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    if os.environ.get("REMOVE_PEOPLE_OFFLINE", "") in {"1", "true", "yes"}:
        os.environ.setdefault("YOLO_OFFLINE", "1")


class YoloDetector(Detector):
    name = "yolo"
    summary = "ultralytics YOLO segmentation (yolo11/yolov8 -seg); persons, masks at full resolution."
    # 2: square letterbox always (rect=False), so masks no longer depend on which images share a batch.
    # 3: minimal (rect) letterbox again, but batches hold only same-shaped images, which ultralytics
    #    letterboxes exactly as it would a lone image: still batch-independent, and a 4:3 photo costs
    #    640x480 instead of 640x640 (detect 1.5x faster on the coco photos, benchmarks/run.py).
    version = 3
    Params: ClassVar[type] = YoloParams

    def __init__(self, params: YoloParams) -> None:
        super().__init__(params)
        self._model: Any = None
        self._weights_path: Path | None = None

    # Resolving weights is cheap (a path look-up, a memoised hash); loading the model is not,
    # so the cache key can be computed without ever loading the network.
    def weights_path(self) -> Path:
        if self._weights_path is None:
            from remove_people.models.weights import resolve_weights

            self._weights_path = Path(resolve_weights(self.params.weights))
        return self._weights_path

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        # Batch size and device change speed, not masks (up to float noise): keep them out of the key.
        for k in ("batch", "device", "weights", "trust_weights"):
            ident["params"].pop(k, None)
        return ident

    @property
    def model(self) -> Any:
        if self._model is None:
            _ultralytics_offline_env()
            path = self.weights_path()
            self._check_trusted(path)  # before importing ultralytics: a refusal is instant
            from ultralytics import YOLO

            self._model = YOLO(str(path), task="segment")
        return self._model

    def _check_trusted(self, path: Path) -> None:
        """Refuse a .pt that is neither in the weights table (by sha256) nor trusted.

        Why: ultralytics unpickles its checkpoints in full (``weights_only=False``), so a
        booby-trapped ``--detector-weights`` file would run its code the moment it loads.
        """
        if self.params.trust_weights:
            return
        try:
            from remove_people.models.weights import entry_for_sha256, sha256_file
        except ImportError:  # pragma: no cover - model manager always present in releases
            return
        digest = sha256_file(path)
        if entry_for_sha256(digest) is None:
            from remove_people.errors import WeightsError

            raise WeightsError(
                f"{path}: refused to load: ultralytics weights are full pickles, which can run arbitrary code, "
                f"and its sha256 {digest} is not in the weights table; if you trust where it came from, "
                f"pass --set detect.yolo.trust_weights=true"
            )

    def _device(self) -> str:
        if self.params.device != "auto":
            return self.params.device
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"

    def detect(self, frames: list[Frame]) -> list[list[Instance]]:
        if not frames:
            return []
        p = self.params
        names = self.model.names
        # ultralytics takes numpy images as BGR.
        sources = [np.ascontiguousarray(f.rgb[:, :, ::-1]) for f in frames]
        # ultralytics letterboxes a batch of same-shaped images (or a lone image) to the smallest
        # stride multiple (rect), a mixed batch to a square. Square made every 4:3 photo pay for
        # 640x640; mixing made one photo's masks depend on its batch-mates. So: one predict per
        # shape, rect on, and each photo is letterboxed exactly as if it were alone.
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, src in enumerate(sources):
            by_shape.setdefault(src.shape, []).append(i)
        out: list[list[Instance]] = [[] for _ in frames]
        for idx in by_shape.values():
            stream = self.model.predict(
                [sources[i] for i in idx],
                stream=True,
                retina_masks=True,
                classes=list(p.classes) if p.classes is not None else None,
                conf=p.conf,
                iou=p.iou,
                imgsz=p.imgsz,
                max_det=p.max_det,
                half=p.half,
                device=self._device(),
                batch=p.batch,
                rect=True,
                verbose=False,
            )
            # Run the generator to its end (not zip, which leaves it suspended): ultralytics holds its
            # predictor lock until then, and a later predict would wait on it forever. Each result
            # is turned into instances and dropped at once, so memory stays bounded.
            for k, r in enumerate(stream):
                out[idx[k]] = self._instances(frames[idx[k]], r, names)
        return out

    @staticmethod
    def _instances(frame: Frame, r: Any, names: Any) -> list[Instance]:
        """One ultralytics result as our instances, masks at the frame's own resolution."""
        instances: list[Instance] = []
        if r.masks is not None and len(r.boxes):
            masks = r.masks.data.cpu().numpy() > 0.5
            h, w = frame.rgb.shape[:2]
            if masks.shape[1:] != (h, w):  # ultralytics returns orig size with retina masks
                import cv2

                masks = np.stack([cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0 for m in masks])
            boxes = r.boxes.xyxy.cpu().numpy()
            confs = r.boxes.conf.cpu().numpy()
            classes = r.boxes.cls.cpu().numpy().astype(int)
            for m, b, c, k in zip(masks, boxes, confs, classes):
                if m.any():
                    instances.append(Instance(m, float(c), str(names[int(k)]), int(k), tuple(float(v) for v in b)))
        return instances

    def close(self) -> None:
        self._model = None
