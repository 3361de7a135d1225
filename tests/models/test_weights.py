"""The weights table, resolution order, sha256 memo and safe loading (issue 3)."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest
import torch

from remove_people.errors import UsageError, WeightsError
from remove_people.models import hashing
from remove_people.models.hashing import sha256_file
from remove_people.models.loading import build, load_checkpoint
from remove_people.models.locations import cache_dir
from remove_people.models.resolve import find_local, resolve_weights
from remove_people.models.weights_entry import Role, WeightsEntry
from remove_people.models.weights_table import WEIGHTS, get_entry, register_entry, unregister_entry

SHARED_SHA = {
    "yolo11n-seg_from_openvino_int8.pt": "137f396ec862c83c64bf47710eaad3e54a008b26d6368de1952266c5903dd1d6",
    "yolov8n-seg_from_tflite_int8.pt": "75c30450cb1d6bcde3a5b70dafdc3adada2da40dcfda64248e6d0ad94075eaf8",
    "vgg16_features_pool3.pth": "d1570f5ee15021fe43481aef6d5cf1f44e5dbef010c2f6decd3545f4d5ecc4a3",
    "alexnet_features.pth": "977ab27536b0aba222aabda4566fe5a7c2b331e180f1c908304a11cacfef0650",
}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", "")
    monkeypatch.setenv("REMOVE_PEOPLE_OFFLINE", "1")
    return tmp_path / "home"


# ----------------------------------------------------------------------------- the table


def test_table_has_the_required_entries() -> None:
    names = set(WEIGHTS)
    for fam in ("yolo11", "yolov8"):
        for s in "nsmlx":
            assert f"{fam}{s}-seg" in names
            e = WEIGHTS[f"{fam}{s}-seg"]
            assert e.role is Role.DETECTOR and e.license.startswith("AGPL-3.0")
            assert e.urls and all(u.startswith("https://github.com/ultralytics/assets/releases/download/") for u in e.urls)
    for n in ("deepfillv2-places2-tf", "deepfillv2-celebahq-tf", "deepfillv2-places2-pt", "deepfillv2-celebahq-pt"):
        e = WEIGHTS[n]
        assert e.role is Role.INPAINTER and e.license.startswith("CC BY-NC 4.0")
        assert e.builder == "remove_people.models.deepfillv2:load_generator"
        assert e.preprocessing.value_range == (-1.0, 1.0) and e.preprocessing.mask_polarity == "1 = hole"
        assert e.preprocessing.native_size == 256 and e.preprocessing.size_multiple == 8
    assert WEIGHTS["deepfillv2-places2-tf"].filename == "states_tf_places2.pth"
    assert WEIGHTS["vgg16-features-pool3"].role is Role.LOSS_BACKBONE
    assert WEIGHTS["alexnet-features"].role is Role.METRIC_BACKBONE
    assert WEIGHTS["yolo11n-seg"].fallbacks == ("yolo11n-seg-openvino-int8",)
    assert WEIGHTS["yolov8n-seg"].fallbacks == ("yolov8n-seg-tflite-int8",)


def test_table_sha256_match_sources_md(home: Path, shared: Path) -> None:
    """The hashes in the table are the ones SOURCES.md publishes, and the shared files have them."""
    sources = (shared / "weights" / "SOURCES.md").read_text()
    by_file = {e.filename: e for e in WEIGHTS.values()}
    for fname, sha in SHARED_SHA.items():
        assert sha in sources
        assert by_file[fname].sha256 == sha
        assert by_file[fname].size == (shared / "weights" / fname).stat().st_size
        assert sha256_file(shared / "weights" / fname) == sha


def test_get_entry_unknown_lists_valid_names() -> None:
    with pytest.raises(UsageError, match="unknown weights 'nope'; valid names: yolo11n-seg, "):
        get_entry("nope")
    assert get_entry("yolo11n-seg.pt") is WEIGHTS["yolo11n-seg"]  # the ultralytics file name is accepted


def test_entries_are_frozen() -> None:
    with pytest.raises(Exception):
        WEIGHTS["yolo11n-seg"].filename = "x.pt"  # type: ignore[misc]


# ----------------------------------------------------------------------------- resolution


def test_explicit_path_wins(home: Path, shared: Path) -> None:
    p = shared / "weights" / "alexnet_features.pth"
    assert resolve_weights(p) == p
    assert resolve_weights(str(p)) == p
    with pytest.raises(WeightsError, match="weight file not found"):
        resolve_weights(shared / "weights" / "missing.pth")


def test_every_shared_file_resolves_offline_from_model_dir(home: Path, shared: Path) -> None:
    mdir = shared / "weights"
    for name in ("yolo11n-seg-openvino-int8", "yolov8n-seg-tflite-int8", "vgg16-features-pool3", "alexnet-features"):
        assert resolve_weights(name, model_dir=mdir, offline=True).parent == mdir


def test_default_detector_uses_substitute_with_notice(
    home: Path, shared: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", str(shared / "weights"))
    with caplog.at_level(logging.WARNING, logger="remove_people.models"):
        p = resolve_weights("yolo11n-seg", offline=True)
    assert p == shared / "weights" / "yolo11n-seg_from_openvino_int8.pt"
    notices = [r.getMessage() for r in caplog.records]
    assert any("'yolo11n-seg' not found; using substitute 'yolo11n-seg-openvino-int8'" in m for m in notices)
    assert resolve_weights("yolov8n-seg", offline=True).name == "yolov8n-seg_from_tflite_int8.pt"


def test_model_dir_matches_by_sha256_under_another_name(home: Path, shared: Path, tmp_path: Path) -> None:
    mdir = tmp_path / "models"
    mdir.mkdir()
    (mdir / "my-vgg.pth").symlink_to(shared / "weights" / "vgg16_features_pool3.pth")
    loc = find_local("vgg16-features-pool3", model_dir=mdir)
    assert loc is not None and loc.matched_by == "sha256" and loc.where == "model-dir"
    assert resolve_weights("vgg16-features-pool3", model_dir=mdir) == mdir / "my-vgg.pth"


def test_right_name_wrong_hash_is_ignored(home: Path, tmp_path: Path) -> None:
    mdir = tmp_path / "models"
    mdir.mkdir()
    (mdir / "vgg16_features_pool3.pth").write_bytes(b"not the weights")
    assert find_local("vgg16-features-pool3", model_dir=mdir) is None
    with pytest.raises(WeightsError, match="put vgg16_features_pool3.pth \\(sha256 d1570f5e"):
        resolve_weights("vgg16-features-pool3", model_dir=mdir)


def test_name_only_match_when_sha_unknown_and_cache_order(home: Path, tmp_path: Path) -> None:
    """An entry without a published sha256 is accepted by name; the model folder beats the cache."""
    cache = home / "models"
    cache.mkdir(parents=True)
    (cache / "states_tf_places2.pth").write_bytes(b"cache copy")
    assert resolve_weights("deepfillv2-places2-tf") == cache / "states_tf_places2.pth"
    mdir = tmp_path / "models"
    mdir.mkdir()
    (mdir / "states_tf_places2.pth").write_bytes(b"model dir copy")
    assert resolve_weights("deepfillv2-places2-tf", model_dir=mdir) == mdir / "states_tf_places2.pth"


def test_xdg_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REMOVE_PEOPLE_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "remove-people" / "models"
    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "rp"))
    assert cache_dir() == tmp_path / "rp" / "models"


def test_offline_instruction_for_default_detector(home: Path) -> None:
    with pytest.raises(WeightsError) as info:
        resolve_weights("yolo11n-seg", offline=True)
    assert str(info.value) == (
        "weights 'yolo11n-seg' are not on disk and offline mode is on (--offline / REMOVE_PEOPLE_OFFLINE=1): "
        f"put yolo11n-seg.pt (sha256 not published; any file of this name is accepted) into {home / 'models'} "
        "(or into a folder named by --model-dir / REMOVE_PEOPLE_MODEL_DIR); "
        "download it from https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n-seg.pt; "
        "accepted substitute: yolo11n-seg_from_openvino_int8.pt "
        "(sha256 137f396ec862c83c64bf47710eaad3e54a008b26d6368de1952266c5903dd1d6)"
    )


def test_no_url_entry_says_so(home: Path) -> None:
    with pytest.raises(WeightsError, match="cannot be downloaded: put alexnet_features.pth .* no download URL"):
        resolve_weights("alexnet-features", offline=False)


# ----------------------------------------------------------------------------- sha256 memo


def test_sha256_is_memoised_and_invalidated(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    first = sha256_file(f)
    assert first == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    calls: list[object] = []
    real = hashing.hashlib.new
    monkeypatch.setattr(hashing.hashlib, "new", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert sha256_file(f) == first and calls == []  # memo hit: no hashing
    hashing._HASH_MEMO.clear()
    assert sha256_file(f) == first and calls == []  # disk memo hit (a re-run)
    f.write_bytes(b"abcd")
    os.utime(f, ns=(1, 1))
    assert sha256_file(f) != first and len(calls) == 1  # changed file: hashed again


# ----------------------------------------------------------------------------- safe loading


class _Trap:
    """Unpickling this runs ``open(path, 'w')``: the file appears iff the pickle ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("fmt", ["torch.save", "raw pickle"])
def test_untrusted_booby_trapped_pickle_is_refused_and_never_runs(home: Path, tmp_path: Path, fmt: str) -> None:
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pth"
    obj = {"state_dict": {"w": torch.zeros(1)}, "trap": _Trap(marker)}
    if fmt == "torch.save":
        torch.save(obj, ckpt)
    else:
        ckpt.write_bytes(pickle.dumps(obj, protocol=2))  # protocol 2: what torch.load expects
    assert not marker.exists()
    with pytest.raises(WeightsError, match="refused to load.*not in the weights table.*trust=True"):
        load_checkpoint(ckpt)
    assert not marker.exists()

    if fmt == "torch.save":
        # explicit trust does load it (and therefore runs it): the flag means what it says
        load_checkpoint(ckpt, trust=True)
        assert marker.exists()


def test_pickle_with_sha_in_table_is_allowed(home: Path, tmp_path: Path) -> None:
    import argparse

    ckpt = tmp_path / "known.pth"
    torch.save({"c": argparse.Namespace(a=1)}, ckpt)  # Namespace is not allowed by weights_only
    with pytest.raises(WeightsError, match="refused"):
        load_checkpoint(ckpt)
    e = WeightsEntry(name="test-known", role=Role.INPAINTER, filename="known.pth", sha256=sha256_file(ckpt))
    register_entry(e)
    try:
        assert load_checkpoint(ckpt)["c"].a == 1
    finally:
        unregister_entry("test-known")


def test_plain_state_dict_loads_weights_only(home: Path, shared: Path) -> None:
    sd = load_checkpoint(shared / "weights" / "vgg16_features_pool3.pth")
    assert "features.0.weight" in sd


def test_damaged_file_is_a_weights_error(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(WeightsError, match="cannot read as a torch checkpoint.*damaged"):
        load_checkpoint(bad)


def test_build_backbones_from_shared(home: Path, shared: Path) -> None:
    vgg = build("vgg16-features-pool3", model_dir=shared / "weights", offline=True)
    assert len(vgg) == 17 and not any(p.requires_grad for p in vgg.parameters())
    alex = build("alexnet-features", model_dir=shared / "weights", offline=True)
    assert alex(torch.zeros(1, 3, 64, 64)).shape[1] == 256
