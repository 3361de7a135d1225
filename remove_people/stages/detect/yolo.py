"""The default detector: ultralytics YOLO instance segmentation, persons (COCO class 0).

Why ultralytics: it owns letterboxing, NMS and mask prototypes for the whole
YOLO family; we only ask for masks at the original resolution (``retina_masks``)
and stream batches so memory stays flat over large folders.

Why an OpenVINO backend (``backend: auto`` picks it on a CPU when ``openvino`` is
installed): the same weights run 1.8x faster there at float32 on the coco photos,
and ultralytics still letterboxes and post-processes, so only the network's runtime
changes (``models/openvino_runtime.py`` exports once into the user cache).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from remove_people.settings import param
from remove_people.stages.detect.base import Detector, Frame, Instance


@dataclass
class YoloParams:
    """weights: a model-table name (e.g. yolo11n-seg) or a path to an ultralytics .pt.
    conf/iou/imgsz/max_det/half: as in ``ultralytics predict``. device: auto|cpu|cuda[:N].
    batch: images per forward pass. classes: COCO ids to keep (0 = person).
    backend: ``auto`` (OpenVINO on a CPU when installed, else PyTorch), ``torch`` or ``openvino``.
    openvino_precision: ``f32`` (masks as PyTorch's, up to float noise) or ``auto`` (the CPU
    plugin's choice: bf16 on CPUs with AMX/AVX-512 bf16, faster, masks move by a few pixels)."""

    weights: str = "yolo11n-seg"
    conf: float = param(0.25, lo=0.0, hi=1.0)
    iou: float = param(0.7, lo=0.0, hi=1.0)
    imgsz: int = param(640, lo=32, hi=8192)
    max_det: int = param(100, lo=1, hi=10000)
    half: bool = False
    device: str = param("auto", kind="device")
    batch: int = param(8, lo=1, hi=256)
    classes: list[int] = param(default_factory=lambda: [0], lo=0, hi=1000)
    trust_weights: bool = False  # load a .pt whose sha256 is not in the weights table (it is a full pickle)
    backend: str = param("auto", choices=("auto", "torch", "openvino"))
    openvino_precision: str = param("f32", choices=("f32", "auto"))


BACKENDS = ("auto", "torch", "openvino")
OPENVINO_PRECISIONS = ("f32", "auto")


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
        from remove_people.errors import UsageError

        if params.backend not in BACKENDS:
            raise UsageError(f"detect.yolo.backend: {params.backend!r} is not one of {', '.join(BACKENDS)}")
        if params.openvino_precision not in OPENVINO_PRECISIONS:
            raise UsageError(
                f"detect.yolo.openvino_precision: {params.openvino_precision!r} is not one of {', '.join(OPENVINO_PRECISIONS)}"
            )
        self._model: Any = None
        self._weights_path: Path | None = None
        self._backend: str | None = None
        self._predictor_ready = False

    # Resolving weights is cheap (a path look-up, a memoised hash); loading the model is not,
    # so the cache key can be computed without ever loading the network.
    def weights_path(self) -> Path:
        if self._weights_path is None:
            from remove_people.models.weights import resolve_weights

            self._weights_path = Path(resolve_weights(self.params.weights))
        return self._weights_path

    def backend(self) -> str:
        """The runtime that runs the network: ``torch`` or ``openvino`` (``auto`` resolved, nothing loaded).

        ``auto`` means OpenVINO when the network runs on the CPU and the package is installed:
        on a GPU PyTorch's CUDA path is the fast one.
        """
        if self._backend is None:
            from remove_people.models.openvino_runtime import openvino_available

            auto = "openvino" if self._device() == "cpu" and openvino_available() else "torch"
            self._backend = auto if self.params.backend == "auto" else self.params.backend
        return self._backend

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        # Batch size, device and runtime change speed, not masks (up to float noise: OpenVINO f32 and
        # PyTorch give equal eval-detect figures to four decimals): keep them out of the key. Not
        # resolving ``auto`` here also keeps a fully cached run from importing torch.
        for k in ("batch", "device", "weights", "trust_weights", "backend", "openvino_precision"):
            ident["params"].pop(k, None)
        # bf16 does move masks (mask AP 0.4095 -> 0.4066), so a setting that allows it is keyed.
        if self.params.backend != "torch" and self.params.openvino_precision != "f32":
            ident["params"]["openvino_precision"] = self.params.openvino_precision
        return ident

    @property
    def model(self) -> Any:
        if self._model is None:
            _ultralytics_offline_env()
            path = self.weights_path()
            self._check_trusted(path)  # before importing ultralytics: a refusal is instant
            from ultralytics import YOLO

            if self.backend() == "openvino":
                from remove_people.models.openvino_runtime import openvino_model

                path = openvino_model(path)
            self._model = YOLO(str(path), task="segment")
        return self._model

    def runtime_precision(self) -> str | None:
        """The precision OpenVINO actually runs in (``f32``, ``bf16``), ``None`` for PyTorch or before loading."""
        backend = getattr(getattr(getattr(self._model, "predictor", None), "model", None), "backend", None)
        compiled = getattr(backend, "ov_compiled_model", None)
        if compiled is None:
            return None
        return str(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())

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
            stream = self._predict([sources[i] for i in idx])
            # Only now: for an exported model, ``names`` before the first predict builds a predictor of
            # its own (a second OpenVINO compile, outside ``core_settings``).
            names = self.model.names
            # Run the generator to its end (not zip, which leaves it suspended): ultralytics holds its
            # predictor lock until then, and a later predict would wait on it forever. Each result
            # is turned into instances and dropped at once, so memory stays bounded.
            for k, r in enumerate(stream):
                out[idx[k]] = self._instances(frames[idx[k]], r, names)
        return out

    def _predict(self, sources: list[np.ndarray]) -> Any:
        """ultralytics' streaming ``predict`` over same-shaped BGR images (the first call also sets it up)."""
        p = self.params
        kwargs = {
            "stream": True, "retina_masks": True, "classes": list(p.classes) if p.classes is not None else None,
            # ``quantize``, ultralytics' name for ``half`` since 8.4 (16 = fp16, None = fp32).
            "conf": p.conf, "iou": p.iou, "imgsz": p.imgsz, "max_det": p.max_det, "quantize": 16 if p.half else None,
            "device": self._device(), "batch": p.batch, "rect": True, "verbose": False,
        }  # fmt: skip
        if self._predictor_ready:
            return self.model.predict(sources, **kwargs)
        return self._first_predict(sources, kwargs)

    def _first_predict(self, sources: list[np.ndarray], kwargs: dict[str, Any]) -> Any:
        """The first ``predict``, which builds ultralytics' predictor; what it needs happens once, here.

        - OpenVINO: the model is compiled during that set-up, so it runs inside ``core_settings``,
          and the precision OpenVINO then reports is checked against ``openvino_precision``: an
          f32 request can never run in bf16 unnoticed.
        - On a CPU, the predictor is told its warm-up is done. That warm-up runs no forward pass
          there; it only imports torchvision (about 1 s at every start, torch._dynamo with it) so
          that NMS takes torchvision's kernel. Without the import ultralytics runs its own
          ``TorchNMS``, which gives the same detections (``tests/stages/test_yolo_backends.py``
          checks the masks are equal). On a GPU the warm-up initialises CUDA kernels and is kept.
        """
        openvino = self.backend() == "openvino"
        if openvino:
            from remove_people.models.openvino_runtime import core_settings

            with core_settings(self.params.openvino_precision):
                stream = self.model.predict(sources, **kwargs)  # sets the predictor up before returning
        else:
            stream = self.model.predict(sources, **kwargs)
        if kwargs["device"] == "cpu":
            self.model.predictor.done_warmup = True
        got = self.runtime_precision()
        if openvino and self.params.openvino_precision == "f32" and got != "f32":
            from remove_people.errors import WeightsError

            raise WeightsError(
                f"detect.yolo.openvino_precision=f32, but OpenVINO compiled the detector in {got}; "
                "pass --set detect.yolo.openvino_precision=auto or --set detect.yolo.backend=torch"
            )
        self._predictor_ready = True
        return stream

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
        self._predictor_ready = False
