"""DeepFillv2 fine-tuning on tiny data: the losses fall, a resume is exact, the export loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from remove_people.models.deepfillv2 import load_generator
from remove_people.training.configs import DeepFillv2TrainConfig
from remove_people.training.deepfillv2 import read_losses, train_deepfillv2


@pytest.fixture(autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(2)


def config(shared: Path, out: Path, **kw: object) -> DeepFillv2TrainConfig:
    values: dict[str, object] = dict(
        data=str(shared / "data/train256"), out=str(out), layout="pt", steps=6, batch_size=2, size=32,
        limit_train=2, workers=0, p_persons=0.5, annotations=str(shared / "data/coco-person/annotations/instances.json"),
        device="cpu", checkpoint_every=0,
    )  # fmt: skip
    values.update(kw)
    return DeepFillv2TrainConfig(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def straight(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-step run without interruption on the same two photos (shared by both tests to keep them fast)."""
    out = tmp_path_factory.mktemp("deepfill") / "straight"
    torch.set_num_threads(2)
    summary = train_deepfillv2(config(shared, out, steps=5))
    assert summary["finished"] and summary["step"] == 5
    return out


def test_losses_fall_and_export_loads(straight: Path) -> None:
    rows = read_losses(straight / "losses.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 6))
    # The same two photos every step (only masks and flips change): at the recipe's learning
    # rate the reconstruction loss falls a little at every step, and D learns to separate.
    l1 = [r["l1_stage1"] + r["l1_stage2"] for r in rows]
    assert all(b < a for a, b in zip(l1, l1[1:])), l1
    assert rows[-1]["d_loss"] < rows[0]["d_loss"]
    assert all(r["d_loss"] == r["d_real"] + r["d_fake"] or abs(r["d_loss"] - r["d_real"] - r["d_fake"]) < 1e-5 for r in rows)
    g = load_generator(straight / "generator.pth")  # the published pt layout, {'G': ...}
    assert g.layout == "pt"


def test_resume_is_exact(shared: Path, straight: Path, tmp_path: Path) -> None:
    stopped = train_deepfillv2(config(shared, tmp_path / "b", steps=5, max_steps=3))
    assert not stopped["finished"] and stopped["step"] == 3
    assert not (tmp_path / "b/generator.pth").exists()
    with pytest.raises(FileExistsError):
        train_deepfillv2(config(shared, tmp_path / "b", steps=5))
    resumed = train_deepfillv2(config(shared, tmp_path / "b", steps=5), resume=True)
    assert resumed["finished"] and resumed["step"] == 5
    assert read_losses(straight / "losses.csv") == read_losses(tmp_path / "b/losses.csv")
    a = torch.load(straight / "checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "b/checkpoints/last.pt", weights_only=True)
    for part in ("G", "D"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])
