"""DeepFillv2 (Yu et al., "Free-Form Image Inpainting with Gated Convolution"), our own implementation.

The generator is a coarse network and a refinement network built from gated
convolutions, with a contextual-attention branch in the refinement stage. It
runs the two published PyTorch weight layouts of nipponjo/deepfillv2-pytorch:

``tf``
    ``networks_tf.py``: the weights converted from the official TensorFlow
    release. TensorFlow "SAME" padding (a stride-2 conv on an even size pads
    bottom/right only), no score fusion in contextual attention, and
    align-corners nearest downsampling inside it.
``pt``
    ``networks.py``: the port's own fine-tuned weights. Symmetric padding,
    score fusion, and ``i * factor`` nearest downsampling.

Both layouts have the same 42 convolutions with the same shapes, so one module
serves both; ``layout`` switches the three numerical differences. Parameters
live under our own names; :data:`LAYOUT_KEYS` translates the published key
names in both directions (loading and exporting), so a checkpoint we fine-tune
can be saved in a published layout and read by any other port.

Why our own contextual attention instead of the reference's per-item loop:
the reference computes the hole mask of the *first* batch item and uses it for
every item; here each item uses its own mask, and the whole batch goes through
batched matrix products (``bmm``) instead of per-item convolutions with
per-item weights. The arithmetic is the same up to float summation order.

Why so long (about 490 lines): the network is checked against the reference layer by
layer (the parity fixtures in ``../shared/fixtures``), so its layer table, the published
key mapping, the blocks, contextual attention, the generator, its loader and the SN-PatchGAN
discriminator it is fine-tuned with stay in one file that reads side by side with the
reference's ``networks.py`` / ``networks_tf.py``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

Layout = Literal["tf", "pt"]
LAYOUTS: tuple[str, ...] = ("tf", "pt")

#: Base width of the published generator (``cnum``).
CNUM = 48


# -- the layer table ------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvSpec:
    """One convolution of the generator, in forward order.

    ``ours`` is our module path; ``tf``/``pt`` are the module paths in the two
    published layouts (the parameters are ``<path>.conv.weight`` and ``.bias``).
    ``cout`` is the number of output *features*; a gated conv has ``2 * cout``
    convolution channels (features, then gates).
    """

    ours: str
    tf: str
    pt: str
    cin: int
    cout: int
    ksize: int = 3
    stride: int = 1
    rate: int = 1
    act: str = "elu"  # "elu", "relu" or "none" (plain conv, no gate: the RGB outputs)
    upsample: bool = False  # nearest 2x upsampling before the conv


def _specs(c: int = CNUM) -> list[ConvSpec]:
    """The 42 convolutions of the generator, in the order they run."""
    s: list[ConvSpec] = []

    def add(group: str, tf: str, pt: str, cin: int, cout: int, **kw: object) -> None:
        index = sum(1 for x in s if x.ours.startswith(group + "."))
        s.append(ConvSpec(f"{group}.{index}", tf, pt, cin, cout, **kw))  # type: ignore[arg-type]

    # coarse network: encoder, dilated bottleneck, decoder
    p = "stage1."
    add("coarse", "conv1", p + "conv1", 5, c // 2, ksize=5)
    add("coarse", "conv2_downsample", p + "down_block1.conv1_downsample", c // 2, c, stride=2)
    add("coarse", "conv3", p + "down_block1.conv2", c, c)
    add("coarse", "conv4_downsample", p + "down_block2.conv1_downsample", c, 2 * c, stride=2)
    add("coarse", "conv5", p + "down_block2.conv2", 2 * c, 2 * c)
    add("coarse", "conv6", p + "conv_bn1", 2 * c, 2 * c)
    for i, r in enumerate((2, 4, 8, 16)):
        add("coarse", f"conv{7 + i}_atrous", p + f"conv_bn{2 + i}", 2 * c, 2 * c, rate=r)
    add("coarse", "conv11", p + "conv_bn6", 2 * c, 2 * c)
    add("coarse", "conv12", p + "conv_bn7", 2 * c, 2 * c)
    add("coarse", "conv13_upsample.conv", p + "up_block1.conv1_upsample.conv", 2 * c, c, upsample=True)
    add("coarse", "conv14", p + "up_block1.conv2", c, c)
    add("coarse", "conv15_upsample.conv", p + "up_block2.conv1_upsample.conv", c, c // 2, upsample=True)
    add("coarse", "conv16", p + "up_block2.conv2", c // 2, c // 4)
    add("coarse", "conv17", p + "conv_to_rgb", c // 4, 3, act="none")

    # refinement, convolution ("hallucination") branch
    p = "stage2."
    add("hallu", "xconv1", p + "conv_conv1", 3, c // 2, ksize=5)
    add("hallu", "xconv2_downsample", p + "conv_down_block1.conv1_downsample", c // 2, c // 2, stride=2)
    add("hallu", "xconv3", p + "conv_down_block1.conv2", c // 2, c)
    add("hallu", "xconv4_downsample", p + "conv_down_block2.conv1_downsample", c, c, stride=2)
    add("hallu", "xconv5", p + "conv_down_block2.conv2", c, 2 * c)
    add("hallu", "xconv6", p + "conv_conv_bn1", 2 * c, 2 * c)
    for i, r in enumerate((2, 4, 8, 16)):
        add("hallu", f"xconv{7 + i}_atrous", p + f"conv_conv_bn{2 + i}", 2 * c, 2 * c, rate=r)

    # refinement, attention branch: encoder up to the attention ...
    add("attn_enc", "pmconv1", p + "ca_conv1", 3, c // 2, ksize=5)
    add("attn_enc", "pmconv2_downsample", p + "ca_down_block1.conv1_downsample", c // 2, c // 2, stride=2)
    add("attn_enc", "pmconv3", p + "ca_down_block1.conv2", c // 2, c)
    add("attn_enc", "pmconv4_downsample", p + "ca_down_block2.conv1_downsample", c, 2 * c, stride=2)
    add("attn_enc", "pmconv5", p + "ca_down_block2.conv2", 2 * c, 2 * c)
    add("attn_enc", "pmconv6", p + "ca_conv_bn1", 2 * c, 2 * c, act="relu")
    # ... and after it
    add("attn_dec", "pmconv9", p + "ca_conv_bn4", 2 * c, 2 * c)
    add("attn_dec", "pmconv10", p + "ca_conv_bn5", 2 * c, 2 * c)

    # refinement, the two branches merged, decoder
    add("merge", "allconv11", p + "conv_bn6", 4 * c, 2 * c)
    add("merge", "allconv12", p + "conv_bn7", 2 * c, 2 * c)
    add("merge", "allconv13_upsample.conv", p + "up_block1.conv1_upsample.conv", 2 * c, c, upsample=True)
    add("merge", "allconv14", p + "up_block1.conv2", c, c)
    add("merge", "allconv15_upsample.conv", p + "up_block2.conv1_upsample.conv", c, c // 2, upsample=True)
    add("merge", "allconv16", p + "up_block2.conv2", c // 2, c // 4)
    add("merge", "allconv17", p + "conv_to_rgb", c // 4, 3, act="none")
    return s


SPECS: tuple[ConvSpec, ...] = tuple(_specs())

#: The score-fusion kernel of the ``pt`` layout, stored in its checkpoints as a buffer.
FUSE_WEIGHT_KEY = "stage2.contextual_attention.fuse_weight"


def _key_map(layout: str) -> "OrderedDict[str, str]":
    """published key -> our key, in the published state-dict order (= forward order)."""
    out: OrderedDict[str, str] = OrderedDict()
    for spec in SPECS:
        theirs = getattr(spec, layout)
        for leaf in ("weight", "bias"):
            out[f"{theirs}.conv.{leaf}"] = f"{spec.ours}.conv.{leaf}"
    return out


#: For each layout, published key -> our key (84 parameters each).
LAYOUT_KEYS: dict[str, "OrderedDict[str, str]"] = {name: _key_map(name) for name in LAYOUTS}


# -- building blocks ------------------------------------------------------------------------


def tf_same_pad(size: int, ksize: int, stride: int, rate: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding along one axis: (before, after); the odd pixel goes after."""
    out = -(-size // stride)
    effective = (ksize - 1) * rate + 1
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class GatedConv2d(nn.Module):
    """A gated convolution: ``act(features) * sigmoid(gates)``, both halves of one conv.

    The conv has ``2 * cout`` output channels, features first, then gates (the
    order of the published weights). ``act="none"`` makes it a plain conv (the
    3-channel output layers). ``upsample`` runs nearest 2x upsampling first, as
    the decoder's "deconvolutions" do. Padding follows the layout: TensorFlow
    "SAME" for ``tf`` (which only differs from symmetric padding for strided
    convs), ``rate * (k - 1) / 2`` on every side for ``pt``.
    """

    def __init__(self, spec: ConvSpec, layout: str) -> None:
        super().__init__()
        self.spec = spec
        self.layout = layout
        channels = spec.cout if spec.act == "none" else 2 * spec.cout
        self.conv = nn.Conv2d(spec.cin, channels, spec.ksize, stride=spec.stride, dilation=spec.rate, padding=0)
        # Symmetric padding when it equals SAME (stride 1, odd kernel) so the conv pads for free.
        self._symmetric = layout == "pt" or spec.stride == 1
        if self._symmetric:
            self.conv.padding = (spec.rate * (spec.ksize - 1) // 2,) * 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spec.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if not self._symmetric:
            s = self.spec
            top, bottom = tf_same_pad(x.shape[-2], s.ksize, s.stride, s.rate)
            left, right = tf_same_pad(x.shape[-1], s.ksize, s.stride, s.rate)
            x = F.pad(x, (left, right, top, bottom))
        x = self.conv(x)
        if self.spec.act == "none":
            return x
        features, gates = x.chunk(2, dim=1)
        features = F.elu(features) if self.spec.act == "elu" else F.relu(features)
        return features * torch.sigmoid(gates)


def nearest_indices(size: int, factor: int, align_corners: bool, device: torch.device) -> torch.Tensor:
    """Source indices of nearest-neighbour downsampling by ``factor`` along one axis.

    ``align_corners`` (TensorFlow's rule, ``tf`` layout): ``floor(i * (n-1)/(m-1) + 0.5)``,
    computed in integers so no float rounding can move an index. Otherwise
    (PyTorch's ``interpolate`` with ``scale_factor=1/factor``, ``pt`` layout): ``i * factor``.
    """
    m = size // factor
    i = torch.arange(m, device=device)
    if not align_corners:
        return i * factor
    if m <= 1:
        return torch.zeros(m, dtype=torch.long, device=device)
    return torch.div(2 * i * (size - 1) + (m - 1), 2 * (m - 1), rounding_mode="floor")


def _downsample(x: torch.Tensor, factor: int, align_corners: bool) -> torch.Tensor:
    rows = nearest_indices(x.shape[-2], factor, align_corners, x.device)
    cols = nearest_indices(x.shape[-1], factor, align_corners, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def _fuse_diagonal(scores: torch.Tensor) -> torch.Tensor:
    """Add each score to its two diagonal neighbours in the (background, foreground) matrix.

    This is the reference's 3x3 identity convolution over the (L, P) score
    matrix with zero padding: ``out[l, p] = s[l-1, p-1] + s[l, p] + s[l+1, p+1]``.
    Neighbours in the flattened order wrap across grid rows, as the reference's do.
    """
    padded = F.pad(scores, (1, 1, 1, 1))
    return padded[:, :-2, :-2] + padded[:, 1:-1, 1:-1] + padded[:, 2:, 2:]


class ContextualAttention(nn.Module):
    """Contextual attention (Yu et al. 2018) as the published DeepFillv2 weights expect it.

    For every position of the feature map it borrows features from *known*
    places: 3x3 patches of the 2x-downsampled features are compared by
    normalised cross-correlation (scaled by 10 before a softmax over all
    background patches), patches that touch the hole get score 0 before and
    weight 0 after the softmax, and 4x4 patches of the full-resolution
    features are pasted back weighted by the attention (a transposed
    convolution with stride 2, divided by 4 since each pixel is covered by 4 patches).

    Each batch item uses its own mask. Computed in float32 whatever the input
    dtype: the squared norms of 864-element patches overflow float16.

    ``exclude`` (optional, (N, 1, H, W), 1 = never borrow from here) marks persons who stay
    in the photo: patches touching them get weight 0 like patches touching the hole, so
    their features are never pasted into it. Without it the output is the reference's.
    """

    softmax_scale = 10.0
    #: the feature map is 4x smaller than the image; matching runs 2x smaller again
    feature_stride = 4
    rate = 2

    def __init__(self, layout: str) -> None:
        super().__init__()
        self.fuse = layout == "pt"
        self.align_corners = layout == "tf"

    def forward(self, features: torch.Tensor, mask: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        dtype = features.dtype
        x = features.float()
        n, c, h, w = x.shape
        rate = self.rate

        # 4x4 patches of the full-resolution features, stride 2: what gets pasted back. [N, C*16, L]
        # (pad 1 on each side is TF SAME and PyTorch's symmetric padding alike for even sizes)
        paste = F.unfold(x, kernel_size=2 * rate, stride=rate, padding=rate // 2)

        small = _downsample(x, rate, self.align_corners)
        sh, sw = small.shape[-2:]
        # 3x3 patches of the downsampled features: the background patches [N, C*9, L]
        # and, identically, the foreground neighbourhoods they are compared with.
        patches = F.unfold(small, kernel_size=3, padding=1)
        norms = patches.square().sum(dim=1, keepdim=True).sqrt().clamp_min(1e-4)
        # scores[n, l, p] = <background patch l / |patch l|, foreground patch at p>
        scores = torch.bmm((patches / norms).transpose(1, 2), patches)  # [N, L, P]

        if self.fuse:
            # Twice: in row-major order of both grids, then in column-major order.
            scores = _fuse_diagonal(scores)
            scores = scores.view(n, sh, sw, sh, sw).transpose(1, 2).transpose(3, 4).reshape(n, sh * sw, sh * sw)
            scores = _fuse_diagonal(scores)
            scores = scores.view(n, sw, sh, sw, sh).transpose(1, 2).transpose(3, 4).reshape(n, sh * sw, sh * sw)

        # Background patches usable for borrowing: their 3x3 neighbourhood at 1/8 scale has no hole.
        m = _downsample(mask.float(), self.feature_stride * rate, self.align_corners)
        if m.shape[-2:] != (sh, sw):
            raise ValueError(f"mask {tuple(mask.shape)} does not match features {tuple(features.shape)}")
        touched = F.max_pool2d((m > 0).float(), kernel_size=3, stride=1, padding=1)
        if exclude is not None:
            # Any excluded pixel under a 1/8-scale cell rules the cell out (max, not nearest, pooling).
            stride = self.feature_stride * rate
            ex = F.max_pool2d((exclude.float() > 0).float(), kernel_size=stride, stride=stride)
            touched = torch.maximum(touched, F.max_pool2d(ex, kernel_size=3, stride=1, padding=1))
        valid = (touched == 0).float().view(n, sh * sw, 1)  # over background patches l

        attention = torch.softmax(scores * valid * self.softmax_scale, dim=1) * valid  # [N, L, P]
        pasted = torch.bmm(paste, attention)  # [N, C*16, P]
        out = F.fold(pasted, (h, w), kernel_size=2 * rate, stride=rate, padding=rate // 2) / 4.0
        return out.to(dtype)


# -- the generator --------------------------------------------------------------------------


class DeepFillv2Generator(nn.Module):
    """The DeepFillv2 generator for one published layout (``tf`` or ``pt``).

    ``stage1, stage2 = g(x, mask)``: ``x`` is (N, 5, H, W), the channels
    ``[image * (1 - mask), ones, ones * mask]`` with the image in [-1, 1];
    ``mask`` is (N, 1, H, W) with 1 = hole. H and W must be multiples of 8.
    Both outputs are (N, 3, H, W) after tanh; the caller composites
    ``image * (1 - mask) + stage2 * mask``.
    """

    def __init__(self, layout: str = "tf") -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"unknown DeepFillv2 layout {layout!r}; valid: {', '.join(LAYOUTS)}")
        self.layout = layout
        groups: dict[str, list[GatedConv2d]] = {}
        for spec in SPECS:
            groups.setdefault(spec.ours.split(".")[0], []).append(GatedConv2d(spec, layout))
        self.coarse = nn.ModuleList(groups["coarse"])
        self.hallu = nn.ModuleList(groups["hallu"])
        self.attn_enc = nn.ModuleList(groups["attn_enc"])
        self.attn = ContextualAttention(layout)
        self.attn_dec = nn.ModuleList(groups["attn_dec"])
        self.merge = nn.ModuleList(groups["merge"])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform (ReLU gain, fan-out) weights and zero biases, as the reference initialises.

        Only matters when training from scratch: PyTorch's default conv init
        shrinks the signal through 40 gated layers (gates halve it each time).
        """
        for m in self.modules():
            if isinstance(m, GatedConv2d):
                if m.spec.act != "none":
                    nn.init.kaiming_uniform_(m.conv.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.conv.bias)

    @staticmethod
    def _run(layers: Iterable[nn.Module], x: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            x = layer(x)
        return x

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor, exclude: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``exclude`` (1 = persons who stay) is passed to the contextual attention: never borrowed from."""
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise ValueError(f"DeepFillv2 needs sizes that are multiples of 8, got {tuple(x.shape[-2:])}")
        mask = mask.to(x.dtype)
        stage1 = torch.tanh(self._run(self.coarse, x))
        # the refinement sees the coarse result inside the hole and the image outside it
        xnow = stage1 * mask + x[:, :3] * (1.0 - mask)
        hallu = self._run(self.hallu, xnow)
        attn = self._run(self.attn_enc, xnow)
        attn = self._run(self.attn_dec, self.attn(attn, mask, exclude))
        stage2 = torch.tanh(self._run(self.merge, torch.cat([hallu, attn], dim=1)))
        return stage1, stage2

    # -- published layouts ---------------------------------------------------------------

    def load_published(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load a state dict in this generator's published layout (strict; ``fuse_weight`` optional)."""
        state = dict(state)
        fuse = state.pop(FUSE_WEIGHT_KEY, None)
        if fuse is not None:
            if self.layout != "pt":
                raise ValueError(f"{FUSE_WEIGHT_KEY} belongs to the pt layout, not {self.layout}")
            if fuse.shape != (1, 1, 3, 3) or not torch.equal(fuse.float().cpu(), torch.eye(3).view(1, 1, 3, 3)):
                # Our score fusion adds diagonal neighbours, which is what the identity kernel does.
                raise ValueError(f"{FUSE_WEIGHT_KEY} is not the 3x3 identity; this implementation assumes it is")
        mapping = LAYOUT_KEYS[self.layout]
        missing = [k for k in mapping if k not in state]
        unexpected = [k for k in state if k not in mapping]
        if missing or unexpected:
            raise KeyError(
                f"not a DeepFillv2 {self.layout} state dict: {len(missing)} missing keys {missing[:3]}, "
                f"{len(unexpected)} unexpected {unexpected[:3]}"
            )
        self.load_state_dict({mapping[k]: v for k, v in state.items()}, strict=True)

    def published_state_dict(self, *, with_fuse_weight: bool | None = None) -> "OrderedDict[str, torch.Tensor]":
        """This generator's weights under the published key names, in the published order.

        For ``pt`` the ``fuse_weight`` buffer is included by default, as the port's
        own checkpoints have it; pass ``with_fuse_weight=False`` to leave it out.
        """
        ours = self.state_dict()
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for theirs, mine in LAYOUT_KEYS[self.layout].items():
            if with_fuse_weight is not False and self.layout == "pt" and theirs.startswith("stage2.ca_conv_bn4."):
                if FUSE_WEIGHT_KEY not in out:
                    out[FUSE_WEIGHT_KEY] = torch.eye(3).view(1, 1, 3, 3)
            out[theirs] = ours[mine].detach().clone()
        return out


def detect_layout(state: Mapping[str, torch.Tensor]) -> str:
    """``tf`` or ``pt`` from the key names (the reference's ``test.py`` looks for ``stage1.conv1.conv.weight``)."""
    for layout in ("pt", "tf"):
        if next(iter(LAYOUT_KEYS[layout])) in state:
            return layout
    sample = ", ".join(list(state)[:3])
    raise KeyError(f"not a DeepFillv2 generator state dict (keys start {sample})")


def unwrap_state_dict(source: object, trust: bool = False) -> dict[str, torch.Tensor]:
    """A generator state dict from a path or a mapping, with or without the ``{'G': ...}`` wrapper.

    A path is loaded by :func:`~remove_people.models.loading.load_checkpoint` (``weights_only``: a
    checkpoint is data, never code to run; a full pickle only if ``trust`` or the table knows it).
    """
    if isinstance(source, (str, os.PathLike)):
        from remove_people.models.loading import load_checkpoint

        source = load_checkpoint(Path(source), trust=trust)
    if not isinstance(source, Mapping):
        raise TypeError(f"expected a path or a state dict, got {type(source).__name__}")
    if "G" in source and isinstance(source["G"], Mapping):
        source = source["G"]
    return dict(source)


def load_generator(
    source: str | os.PathLike | Mapping[str, torch.Tensor], layout: str | None = None, *, trust: bool = False
) -> DeepFillv2Generator:
    """A DeepFillv2 generator in eval mode, on CPU, float32, from a published checkpoint (the table's builder).

    ``source`` is a path (see :func:`unwrap_state_dict`) or a state dict,
    either with or without the ``{'G': ...}`` wrapper of the released files.
    The layout is detected from the key names unless given.
    """
    state = unwrap_state_dict(source, trust=trust)
    found = detect_layout(state)
    if layout is not None and layout != found:
        raise ValueError(f"expected a {layout} checkpoint, but its keys are the {found} layout")
    g = DeepFillv2Generator(found)
    g.load_published({k: v.float() for k, v in state.items()})
    return g.eval()


def make_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The generator input: ``[image * (1 - mask), ones, ones * mask]``; image in [-1, 1], mask 1 = hole."""
    ones = torch.ones_like(mask)
    return torch.cat([image * (1.0 - mask), ones, ones * mask], dim=1)


@torch.no_grad()
def inpaint(g: nn.Module, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Composite ``image * (1 - mask) + stage2 * mask`` for images in [-1, 1] and masks with 1 = hole."""
    mask = (mask > 0.5).to(image.dtype)
    _, stage2 = g(make_input(image, mask), mask)
    return image * (1.0 - mask) + stage2 * mask


# -- the discriminator ----------------------------------------------------------------------


class SNPatchGANDiscriminator(nn.Module):
    """SN-PatchGAN: six spectrally normalised 5x5 stride-2 convs with leaky ReLU.

    Every output element judges one patch of the input (image and mask, 4
    channels) as real or fake; the hinge loss is averaged over all of them,
    which is what makes the GAN loss work for free-form holes anywhere.
    """

    def __init__(self, cin: int = 4, cnum: int = 64) -> None:
        super().__init__()
        widths = [cin, cnum, 2 * cnum, 4 * cnum, 4 * cnum, 4 * cnum, 4 * cnum]
        layers: list[nn.Module] = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.utils.parametrizations.spectral_norm(nn.Conv2d(a, b, 5, stride=2, padding=2)), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)
