"""The types of the weights table: what a weight file serves, what its network expects, one entry.

Why typed (modelled on torchvision's ``WeightsEnum``): every port of DeepFillv2, partial-conv
or LaMa drowns in "which file goes with which network, scaled how?" issues. An entry carries
the file's name, mirrors, checksums, licence, the preprocessing its network expects (the
inpainters read their value range and size rules from it) and the builder that loads it, so
no caller hard-codes a path, a URL or a scaling.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


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
    to a multiple of this; ``fixed_size``: the network takes exactly ``native_size`` x
    ``native_size`` (MI-GAN's trace); ``mean``/``std``: per-channel normalisation applied
    after scaling to ``value_range`` (``None`` = none).

    Who reads it: the torch inpainters take their input range and padding rule from here
    (``stages/inpaint/torch_base.py``), and ``remove-people models info`` shows it.
    """

    value_range: tuple[float, float] = (0.0, 1.0)
    mask_polarity: str | None = None
    native_size: int | None = None
    size_multiple: int | None = None
    fixed_size: bool = False
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


