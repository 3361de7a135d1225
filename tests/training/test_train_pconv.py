"""Training of the partial-conv U-Net: exact resume, artefacts, and (slow) a 4-image overfit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from remove_people.training.configs import PConvTrainConfig
from remove_people.training.pconv import LOSS_KEYS, read_losses, train_pconv


def _cfg(shared: Path, out: Path, **kw) -> PConvTrainConfig:
    base = dict(
        data=str(shared / "data" / "train256"), split="split.csv", out=str(out), epochs=1, finetune_epochs=1,
        batch_size=2, size=32, seed=3, width=8, workers=0, limit_train=4, limit_val=2, checkpoint_every=0,
        annotations=str(shared / "data" / "coco-person" / "annotations" / "instances.json"),
        vgg_weights=str(shared / "weights" / "vgg16_features_pool3.pth"), progress=False,
    )
    base.update(kw)
    return PConvTrainConfig(**base)


def _seq(path: Path) -> list[tuple]:
    return [(r["kind"], r["phase"], r["epoch"], r["step"], *(r[k] for k in LOSS_KEYS)) for r in read_losses(path)]


def test_resume_gives_the_same_loss_sequence(shared: Path, tmp_path: Path) -> None:
    # 4 images, batch 2: 2 steps per epoch, 1 epoch + 1 fine-tune epoch (crosses the phase switch).
    full = train_pconv(_cfg(shared, tmp_path / "full"))
    assert full["finished"] and full["global_step"] == 4
    # interrupted in the middle of the fine-tune epoch, then resumed
    part = train_pconv(_cfg(shared, tmp_path / "part", max_steps=3))
    assert not part["finished"] and part["global_step"] == 3
    with pytest.raises(FileExistsError):
        train_pconv(_cfg(shared, tmp_path / "part"))
    resumed = train_pconv(_cfg(shared, tmp_path / "part"), resume=True)
    assert resumed["finished"] and resumed["global_step"] == 4
    a, b = _seq(tmp_path / "full" / "losses.csv"), _seq(tmp_path / "part" / "losses.csv")
    assert [r[:4] for r in a] == [("train", "train", 0, 1), ("train", "train", 0, 2), ("val", "train", 0, 2),
                                  ("train", "finetune", 1, 3), ("train", "finetune", 1, 4), ("val", "finetune", 1, 4)]
    assert a == b
    sa = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["model"]
    sb = torch.load(tmp_path / "part" / "model.pt", weights_only=True)["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # artefacts
    for name in ("loss.png", "best.pt", "summary.json", "checkpoints/last.pt"):
        assert (tmp_path / "full" / name).is_file(), name
    assert json.loads((tmp_path / "full" / "summary.json").read_text())["finished"] is True
    ck = torch.load(tmp_path / "full" / "checkpoints" / "last.pt", weights_only=True)
    assert ck["optimizer"]["param_groups"][0]["lr"] == pytest.approx(5e-5)  # fine-tune phase lr


@pytest.mark.slow
def test_overfit_four_images(shared: Path) -> None:
    """Hole L1 on 4 images with fixed holes falls by at least half within 200 steps.

    64×64 and a quarter-width U-Net (enc_1 16 channels) so it fits a 2-core CPU: the full
    width (33M parameters) took over 600 s for 200 steps on a shared 2-core machine."""
    from remove_people.models.losses import InpaintingLoss
    from remove_people.models.pconv import PConvUNet
    from remove_people.training.masks import MaskMixer, PersonMasks
    from remove_people.training.data import InpaintDataset, read_split

    data = shared / "data" / "train256"
    files = read_split(data, "split.csv")["train"][:4]
    persons = PersonMasks(shared / "data" / "coco-person" / "annotations" / "instances.json")
    ds = InpaintDataset(data, files, 64, MaskMixer(persons, 0.5, (0.1, 0.3)), seed=0, train=False)
    image = torch.stack([ds[(0, i)][0] for i in range(4)])
    mask = torch.stack([ds[(0, i)][1] for i in range(4)])
    torch.manual_seed(0)
    net = PConvUNet(width=16)
    loss = InpaintingLoss(shared / "weights" / "vgg16_features_pool3.pth")
    opt = torch.optim.Adam(net.parameters(), lr=2e-4)
    holes = []
    for _ in range(200):
        terms = loss(net(image, mask), image, mask)
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
        holes.append(float(terms["hole"].detach()))
    print("hole L1 every 25 steps:", [round(h, 4) for h in holes[::25]], "last", round(holes[-1], 4))
    assert min(holes[-10:]) <= 0.5 * holes[0]
