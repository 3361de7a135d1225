"""The default detector: ultralytics YOLO instance segmentation, persons (COCO class 0).

Why ultralytics: it owns letterboxing, NMS and mask prototypes for the whole
YOLO family; we only ask for masks at the original resolution (``retina_masks``)
and stream batches so memory stays flat over large folders.

Why an OpenVINO backend (``backend: auto`` picks it on a CPU when ``openvino`` is
installed): the same weights run 1.8x faster there at float32 on the coco photos,
and ultralytics still letterboxes and post-processes, so only the network's runtime
changes (``models/openvino_runtime.py`` exports once into the user cache).

Why several passes (``weights`` as a list, ``flip``): a person the detector misses
stays in the photo, the worst failure this tool can have. Two small models trained
apart miss different persons, and a model looking at the mirrored photo misses
others again; each pass is thresholded at ``conf`` on its own and the passes are
merged per object (``merge.py``). What each lever costs and buys on the COCO
photos is measured in docs/evaluation.md ("Removal against ground truth").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from remove_people.settings import param
from remove_people.stages.detect.base import Detector, Frame, Instance
from remove_people.stages.detect.merge import flip_back, keep_supported, merge_instances
from remove_people.stages.select import ACCESSORY_COCO_IDS


@dataclass
class YoloParams:
    """weights: a model-table name (e.g. yolo11n-seg), a path to an ultralytics .pt, or a list of
    them (an ensemble: every model runs, their persons are merged).
    conf/iou/imgsz/max_det/half: as in ``ultralytics predict`` (per model and view). device: auto|cpu|cuda[:N].
    batch: images per forward pass. classes: COCO ids to keep (0 = person).
    backend: ``auto`` (OpenVINO on a CPU when installed, else PyTorch), ``torch`` or ``openvino``.
    openvino_precision: ``f32`` (masks as PyTorch's, up to float noise) or ``auto`` (the CPU
    plugin's choice: bf16 on CPUs with AMX/AVX-512 bf16, faster, masks move by a few pixels).
    flip: also look at the horizontally mirrored photo (test-time augmentation).
    support_conf: with several passes (models, flip), a detection down to this confidence is kept
    when another pass also found it (``merge.keep_supported``); None = ``conf`` only.
    merge_iou: detections of different passes with at least this mask IoU are one object."""

    weights: Any = param(default_factory=lambda: ["yolo11n-seg", "yolov8n-seg"])  # str | list[str]
    conf: float = param(0.25, lo=0.0, hi=1.0)
    iou: float = param(0.7, lo=0.0, hi=1.0)
    imgsz: int = param(640, lo=32, hi=8192)
    max_det: int = param(100, lo=1, hi=10000)
    half: bool = False
    device: str = param("auto", kind="device")
    batch: int = param(8, lo=1, hi=256)
    # Persons and the accessory classes, so select.with_accessories works from the config alone.
    classes: list[int] = param(default_factory=lambda: [0, *sorted(ACCESSORY_COCO_IDS.values())], lo=0, hi=1000)
    trust_weights: bool = False  # load a .pt whose sha256 is not in the weights table (it is a full pickle)
    backend: str = param("auto", choices=("auto", "torch", "openvino"))
    openvino_precision: str = param("f32", choices=("f32", "auto"))
    flip: bool = True
    support_conf: float | None = param(0.05, lo=0.0, hi=1.0)
    merge_iou: float = param(0.5, lo=0.0, hi=1.0)


BACKENDS = ("auto", "torch", "openvino")
OPENVINO_PRECISIONS = ("f32", "auto")


def _ultralytics_offline_env() -> None:
    """Keep ultralytics from reaching the network or installing packages on import."""
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from remove_people.models.locations import is_offline

    if is_offline():
        os.environ.setdefault("YOLO_OFFLINE", "1")


def weights_list(weights: Any) -> list[str]:
    """``detect.yolo.weights`` as a list of names or paths (one string, a list, or a comma-separated string)."""
    from remove_people.errors import UsageError

    if isinstance(weights, (list, tuple)):
        names = [str(w).strip() for w in weights]
    else:
        names = [w.strip() for w in str(weights).split(",")]
    names = [n for n in names if n]
    if not names:
        raise UsageError("detect.yolo.weights: give a model-table name (yolo11n-seg), a .pt path, or a list of them")
    return names


class YoloModel:
    """One YOLO weights file and its ultralytics predictor, in PyTorch or OpenVINO."""

    def __init__(self, weights: str, params: YoloParams, device: str, conf: float | None = None) -> None:
        self.weights = weights
        self.params = params
        self.device = device
        self.conf = params.conf if conf is None else conf  # what the network is asked for (the lowest threshold in use)
        self._model: Any = None
        self._weights_path: Path | None = None
        self._backend: str | None = None
        self._predictor_ready = False

    # Resolving weights is cheap (a path look-up, a memoised hash); loading the model is not,
    # so the cache key can be computed without ever loading the network.
    def weights_path(self) -> Path:
        if self._weights_path is None:
            from remove_people.models.resolve import resolve_weights

            self._weights_path = Path(resolve_weights(self.weights))
        return self._weights_path

    def backend(self) -> str:
        """The runtime that runs the network: ``torch`` or ``openvino`` (``auto`` resolved, nothing loaded).

        ``auto`` means OpenVINO when the network runs on the CPU and the package is installed:
        on a GPU PyTorch's CUDA path is the fast one.
        """
        if self._backend is None:
            from remove_people.models.openvino_runtime import openvino_available

            auto = "openvino" if self.device == "cpu" and openvino_available() else "torch"
            self._backend = auto if self.params.backend == "auto" else self.params.backend
        return self._backend

    @property
    def model(self) -> Any:
        if self._model is None:
            from remove_people.models.loading import build
            from remove_people.models.ultralytics_loader import load_yolo

            _ultralytics_offline_env()
            # The table's builder (load_yolo: refuses an unknown full pickle unless trusted, before
            # ultralytics is imported), also for a path the table does not know.
            self._model = build(self.weights_path(), builder=load_yolo, trust=self.params.trust_weights, backend=self.backend())
        return self._model

    def runtime_precision(self) -> str | None:
        """The precision OpenVINO actually runs in (``f32``, ``bf16``), ``None`` for PyTorch or before loading."""
        backend = getattr(getattr(getattr(self._model, "predictor", None), "model", None), "backend", None)
        compiled = getattr(backend, "ov_compiled_model", None)
        if compiled is None:
            return None
        return str(compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name())

    def predict(self, sources: list[np.ndarray], frames: list[Frame]) -> list[list[Instance]]:
        """Instances for same-shaped BGR ``sources`` (``frames`` give each one's size), in order."""
        stream = self._predict(sources)
        # Only now: for an exported model, ``names`` before the first predict builds a predictor of
        # its own (a second OpenVINO compile, outside ``core_settings``).
        names = self.model.names
        # Run the generator to its end (not zip, which leaves it suspended): ultralytics holds its
        # predictor lock until then, and a later predict would wait on it forever. Each result
        # is turned into instances and dropped at once, so memory stays bounded.
        out: list[list[Instance]] = []
        for k, r in enumerate(stream):
            out.append(_instances(frames[k], r, names))
        return out

    def _predict(self, sources: list[np.ndarray]) -> Any:
        """ultralytics' streaming ``predict`` over same-shaped BGR images (the first call also sets it up)."""
        p = self.params
        kwargs = {
            "stream": True, "retina_masks": True, "classes": list(p.classes) if p.classes is not None else None,
            # ``quantize``, ultralytics' name for ``half`` since 8.4 (16 = fp16, None = fp32).
            "conf": self.conf, "iou": p.iou, "imgsz": p.imgsz, "max_det": p.max_det, "quantize": 16 if p.half else None,
            "device": self.device, "batch": p.batch, "rect": True, "verbose": False,
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

    def close(self) -> None:
        self._model = None
        self._predictor_ready = False


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


class YoloDetector(Detector):
    name = "yolo"
    summary = "ultralytics YOLO segmentation (yolo11/yolov8 -seg, one or an ensemble; flip TTA); masks at full resolution."
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
        if not 0.0 < float(params.merge_iou) <= 1.0:
            raise UsageError(f"detect.yolo.merge_iou: {params.merge_iou!r} must lie in (0, 1]")
        if params.support_conf is not None and not 0.0 < float(params.support_conf) <= 1.0:
            raise UsageError(f"detect.yolo.support_conf: {params.support_conf!r} must lie in (0, 1], or be null")
        self._weights = weights_list(params.weights)
        self._models: list[YoloModel] | None = None

    @property
    def passes(self) -> int:
        """Looks at each photo: one per model, twice with ``flip``."""
        return len(self._weights) * (2 if self.params.flip else 1)

    def _support_conf(self) -> float | None:
        """The lower threshold of confirmed detections, when it applies (several passes, below ``conf``)."""
        s = self.params.support_conf
        return float(s) if s is not None and self.passes > 1 and float(s) < float(self.params.conf) else None

    @property
    def models(self) -> list[YoloModel]:
        """One ``YoloModel`` per weights entry (nothing loaded until first used)."""
        if self._models is None:
            low = self._support_conf()
            self._models = [YoloModel(w, self.params, self._device(), conf=low) for w in self._weights]
        return self._models

    def _model_stubs(self) -> list[YoloModel]:
        """Models for path and hash look-ups only: no device resolution (which would import torch)."""
        return self._models if self._models is not None else [YoloModel(w, self.params, "") for w in self._weights]

    def weights_path(self) -> Path:
        """The first model's weights (all of them: ``weights_paths``)."""
        return self.weights_paths()[0]

    def weights_paths(self) -> list[Path]:
        return [m.weights_path() for m in self._model_stubs()]

    def weights_identity(self) -> str | None:
        """The sha256 of each model's weights, joined in order (one model: its sha256, as before ensembles)."""
        from remove_people.models.hashing import sha256_file

        return "+".join(sha256_file(p) for p in self.weights_paths())

    def backend(self) -> str:
        """The runtime of the networks (every model of an ensemble runs in the same one)."""
        return self.models[0].backend()

    def identity(self) -> dict[str, Any]:
        ident = super().identity()
        # Batch size, device and runtime change speed, not masks (up to float noise: OpenVINO f32 and
        # PyTorch give equal eval-detect figures to four decimals): keep them out of the key. Not
        # resolving ``auto`` here also keeps a fully cached run from importing torch. The weights
        # are keyed by content (``weights_identity``), not by name.
        for k in ("batch", "device", "weights", "trust_weights", "backend", "openvino_precision"):
            ident["params"].pop(k, None)
        # bf16 does move masks (mask AP 0.4095 -> 0.4066), so a setting that allows it is keyed.
        if self.params.backend != "torch" and self.params.openvino_precision != "f32":
            ident["params"]["openvino_precision"] = self.params.openvino_precision
        if self.passes == 1:  # nothing to merge or to confirm with a single pass
            ident["params"].pop("merge_iou", None)
            ident["params"].pop("support_conf", None)
        elif self._support_conf() is None:
            ident["params"].pop("support_conf", None)
        return ident

    @property
    def model(self) -> Any:
        """The first model's ultralytics ``YOLO`` (loaded on first use)."""
        return self.models[0].model

    def runtime_precision(self) -> str | None:
        """The precision OpenVINO runs in, if every loaded model agrees; ``None`` for PyTorch or before loading."""
        got = {m.runtime_precision() for m in self.models}
        return got.pop() if len(got) == 1 else ",".join(sorted(str(g) for g in got))

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
        passes: list[list[list[Instance]]] = [[] for _ in frames]  # per frame: one list of instances per pass
        for idx in by_shape.values():
            group = [sources[i] for i in idx]
            group_frames = [frames[i] for i in idx]
            width = group[0].shape[1]
            if self.params.flip:  # the mirrored photos ride in the same predict (same shape, same letterbox)
                group = group + [np.ascontiguousarray(s[:, ::-1]) for s in group]
                group_frames = group_frames + group_frames
            for model in self.models:
                found = model.predict(group, group_frames)
                for k, i in enumerate(idx):
                    passes[i].append(found[k])
                    if self.params.flip:
                        passes[i].append([flip_back(inst, width) for inst in found[len(idx) + k]])
        conf, low = float(self.params.conf), self._support_conf()
        return [merge_instances(keep_supported(p, conf, low), float(self.params.merge_iou)) for p in passes]

    def close(self) -> None:
        for m in self._models or []:
            m.close()
