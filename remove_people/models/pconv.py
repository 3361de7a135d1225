"""Partial convolution (NVIDIA semantics) and the partial-convolution U-Net of Liu et al. 2018.

Mask convention inside this module: **1 = valid pixel, 0 = hole** (the paper's and
NVIDIA's convention; the hole PNGs of the rest of the project use 255 = hole).

``PartialConv2d`` reproduces ``models/partialconv2d.py`` of NVIDIA/partialconv
(commit 610d373): the masked input is convolved, the weighted sum is rescaled by
``window size / valid taps``, the bias is added once outside that ratio, and the
output is multiplied by the updated mask (1 where the window held any valid tap).
It is checked against ``../shared/fixtures/partialconv`` in ``tests/models/test_pconv.py``.

Why the valid-tap count is computed differently from NVIDIA's code (same result): NVIDIA
convolves the mask with an all-ones ``C_out x C_in x k x k`` kernel, which costs as much
as the layer itself. Because the kernel is all ones, that equals summing the mask over
channels and convolving once with a ``1 x 1 x k x k`` ones kernel; the counts are whole
numbers, so float32 gives them exactly, and the result is identical.
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)  # type: ignore[return-value]


class PartialConv2d(nn.Conv2d):
    """``nn.Conv2d`` with a validity mask: ``forward(x, mask) -> (out, new_mask)``.

    ``multi_channel=False``: ``mask`` is (N, 1, H, W) and the new mask is (N, 1, H', W').
    ``multi_channel=True``: ``mask`` is (N, C_in, H, W) and the new mask is (N, C_out, H', W')
    (its channels are identical, as in NVIDIA's layer). ``mask=None`` means all valid.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
        multi_channel: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups=1, bias=bias)
        self.multi_channel = multi_channel
        kh, kw = _pair(kernel_size)
        self.slide_winsize = float(kh * kw * (in_channels if multi_channel else 1))
        # A buffer so it follows .to(device); not persistent, so checkpoints hold only conv weights.
        self.register_buffer("mask_kernel", torch.ones(1, 1, kh, kw), persistent=False)

    def mask_update(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ratio, new_mask) for a float32 0/1 mask; ratio is window/valid taps, 0 where none is valid."""
        m = mask.sum(dim=1, keepdim=True) if mask.shape[1] > 1 else mask
        count = F.conv2d(m, self.mask_kernel, None, self.stride, self.padding, self.dilation)
        ratio = self.slide_winsize / (count + 1e-8)
        new_mask = torch.clamp(count, 0, 1)
        ratio = ratio * new_mask
        if self.multi_channel:
            new_mask = new_mask.expand(-1, self.out_channels, -1, -1)
            ratio = ratio.expand(-1, self.out_channels, -1, -1)
        return ratio, new_mask

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        if mask is None:
            shape = (x.shape[0], self.in_channels if self.multi_channel else 1, x.shape[2], x.shape[3])
            mask = torch.ones(shape, dtype=torch.float32, device=x.device)
        expected = self.in_channels if self.multi_channel else 1
        if mask.shape[1] != expected:
            raise ValueError(f"mask has {mask.shape[1]} channels, expected {expected} (multi_channel={self.multi_channel})")
        # The mask arithmetic stays in float32 even under autocast: counts up to C_in*k*k
        # are not all representable in float16.
        with torch.no_grad(), torch.autocast(device_type=x.device.type, enabled=False):
            ratio, new_mask = self.mask_update(mask.float())
        raw = F.conv2d(x * mask.to(x.dtype), self.weight, None, self.stride, self.padding, self.dilation)
        out = raw * ratio.to(raw.dtype)
        if self.bias is not None:
            out = (out + self.bias.view(1, -1, 1, 1).to(out.dtype)) * new_mask.to(out.dtype)
        # Return a contiguous copy: the expanded multi-channel mask is a view.
        return out, new_mask.contiguous()


class _PConvBlock(nn.Module):
    """PartialConv2d, optional BatchNorm, optional activation."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, bn: bool, act: str | None) -> None:
        super().__init__()
        self.conv = PartialConv2d(cin, cout, k, stride, (k - 1) // 2, bias=not bn, multi_channel=True)
        self.bn = nn.BatchNorm2d(cout) if bn else None
        if act == "relu":
            self.act: nn.Module | None = nn.ReLU(inplace=True)
        elif act == "leaky":
            self.act = nn.LeakyReLU(0.2, inplace=True)
        else:
            self.act = None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, m = self.conv(x, mask)
        if self.bn is not None:
            h = self.bn(h)
        if self.act is not None:
            h = self.act(h)
        return h, m


ENCODER = [  # (out channels, kernel) of enc_1 … enc_8, all stride 2
    (64, 7), (128, 5), (256, 5), (512, 3), (512, 3), (512, 3), (512, 3), (512, 3),
]


class PConvUNet(nn.Module):
    """The 16-layer partial-convolution U-Net of Liu et al. 2018 (8 encoder + 8 decoder layers).

    Input: ``image`` RGB in [0, 1] (N, 3, H, W) and ``mask`` (N, 1 or 3, H, W), 1 = valid.
    Output: RGB (N, 3, H, W), roughly in [0, 1] (not clamped, so training sees the raw
    values; clamp for display). Hole pixels of the input are ignored (the first layer
    multiplies by the mask).

    Encoder: kernels 7,5,5,3,3,3,3,3, stride 2, channels 64,128,256,512×5, BatchNorm except
    enc_1, ReLU. Decoder dec_8 … dec_1: nearest upsampling ×2 of features *and* masks,
    concatenation with the encoder's skip features and masks (the image and input mask for
    dec_1), 3×3 partial conv, BatchNorm except dec_1, LeakyReLU(0.2) except dec_1, which
    outputs RGB with a bias. Masks are per-channel (``multi_channel=True``) so that
    concatenated skip masks keep their meaning.

    Sizes: trained and run at 256×256 and 512×512 (multiples of 2^8). The upsampling goes
    to the skip's exact size, which is ×2 for those sizes and also lets tests run smaller
    inputs (the deepest layers then see 1×1 maps).

    Fine-tuning (Liu et al.): ``freeze_encoder_bn()`` keeps the encoder's BatchNorm layers in
    eval mode with fixed affine parameters, also across later ``train()`` calls.
    """

    def __init__(self, width: int = 64) -> None:
        """``width``: channels of enc_1 (64 in Liu et al.); the others scale with it. Smaller
        widths exist for fast tests only."""
        super().__init__()
        self.width = width
        enc_spec = [(c * width // 64, k) for c, k in ENCODER]
        enc = []
        cin = 3
        for i, (cout, k) in enumerate(enc_spec):
            enc.append(_PConvBlock(cin, cout, k, 2, bn=i > 0, act="relu"))
            cin = cout
        self.enc = nn.ModuleList(enc)
        skips = [3] + [c for c, _ in enc_spec[:-1]]  # what dec_1 … dec_8 concatenate
        outs = [3] + [c for c, _ in enc_spec[:-1]]  # dec_i outputs the channels of enc_{i-1} (RGB for dec_1)
        dec = []
        for i in range(8):  # dec[i] is dec_{i+1}
            below = enc_spec[i][0]  # channels coming up from enc_{i+1} / dec_{i+2}
            last = i == 0
            dec.append(_PConvBlock(below + skips[i], outs[i], 3, 1, bn=not last, act=None if last else "leaky"))
        self.dec = nn.ModuleList(dec)
        self._encoder_bn_frozen = False

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if mask.shape[1] == 1:
            mask = mask.expand(-1, 3, -1, -1)
        mask = mask.to(image.dtype)
        x = (image - 0.5) / 0.5
        feats = [x]
        masks = [mask]
        h, m = x, mask
        for layer in self.enc:
            h, m = layer(h, m)
            feats.append(h)
            masks.append(m)
        h, m = feats.pop(), masks.pop()
        for i in range(7, -1, -1):
            skip_h, skip_m = feats.pop(), masks.pop()
            size = skip_h.shape[-2:]
            h = F.interpolate(h, size=size, mode="nearest")
            m = F.interpolate(m, size=size, mode="nearest")
            h = torch.cat([h, skip_h.to(h.dtype)], dim=1)
            m = torch.cat([m, skip_m.to(m.dtype)], dim=1)
            h, m = self.dec[i](h, m)
        return h * 0.5 + 0.5

    def freeze_encoder_bn(self) -> None:
        """Fine-tune mode of Liu et al.: encoder BatchNorm statistics and affine parameters fixed."""
        self._encoder_bn_frozen = True
        for layer in self.enc:
            if layer.bn is not None:
                for p in layer.bn.parameters():
                    p.requires_grad_(False)
        self.train(self.training)

    def train(self, mode: bool = True) -> "PConvUNet":
        super().train(mode)
        if self._encoder_bn_frozen:
            for layer in self.enc:
                if layer.bn is not None:
                    layer.bn.eval()
        return self


def load_pconv_state(path: str, map_location: str | torch.device = "cpu", *, trust: bool = False) -> dict[str, torch.Tensor]:
    """The U-Net's state dict from a training checkpoint or an exported model file
    (:func:`~remove_people.models.loading.load_checkpoint`: ``weights_only`` unless ``trust``)."""
    from remove_people.models.loading import load_checkpoint

    obj = load_checkpoint(path, trust=trust, map_location=map_location)
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    return {k: v.float() if v.is_floating_point() else v for k, v in obj.items()}


def width_of(state: dict[str, torch.Tensor]) -> int:
    """The ``width`` a state dict was built with (enc_1's output channels)."""
    return int(state["enc.0.conv.weight"].shape[0])


def load_pconv_unet(path: str | os.PathLike[str], *, trust: bool = False) -> PConvUNet:
    """The U-Net, in eval mode on the CPU, from a checkpoint of ``remove-people train pconv`` (the builder
    the pconv plugin hands to ``loading.build``); a file that is not one is a one-line ``WeightsError``."""
    from remove_people.errors import WeightsError

    try:
        state = load_pconv_state(str(path), trust=trust)
    except WeightsError:
        raise
    except Exception as exc:  # a torch file holding something else than a state dict
        raise WeightsError(f"{path}: not a pconv checkpoint readable with weights_only ({exc})") from exc
    try:
        net = PConvUNet(width_of(state))
        net.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError) as exc:
        raise WeightsError(f"{path}: not a partial-conv U-Net checkpoint ({str(exc).splitlines()[0]})") from exc
    return net.eval()
