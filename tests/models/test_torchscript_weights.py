"""LaMa and MI-GAN weights: table entries, download with MD5 check, the checksum gate before torch.jit.load.

The published files cannot be downloaded here, so TorchScript stand-ins with the same
call signature (tests/helpers/torchscript_standins.py) are served from a 127.0.0.1 HTTP server;
the table's URLs and MD5s are pointed at them for the test's process only.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest
import torch
from rich.console import Console

from remove_people.cli import main
from remove_people.config import build_stage
from remove_people.errors import UsageError, WeightsError
from remove_people.models import download as D
from remove_people.models.hashing import md5_file
from remove_people.models.loading import build, load_torchscript
from remove_people.models.locations import cache_dir
from remove_people.models.resolve import resolve_weights
from remove_people.models.weights_entry import WeightsEntry
from remove_people.models.weights_table import WEIGHTS, get_entry
from remove_people.stages.inpaint.torch_base import OfflineWeightsMissing


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture()
def served(standins: Path, tmp_path: Path) -> Iterator[str]:
    """The stand-ins over HTTP on 127.0.0.1: ``/ok/<file>`` as they are, ``/corrupt/<file>`` with one byte flipped."""
    root = tmp_path / "www"
    for mode in ("ok", "corrupt"):
        (root / mode).mkdir(parents=True)
        for f in standins.iterdir():
            data = bytearray(f.read_bytes())
            if mode == "corrupt":
                data[len(data) // 2] ^= 0xFF
            (root / mode / f.name).write_bytes(bytes(data))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user cache, no model folder, online: only the server can supply the files."""
    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", "")
    monkeypatch.delenv("REMOVE_PEOPLE_OFFLINE", raising=False)
    return tmp_path / "home"


def point_at(monkeypatch: pytest.MonkeyPatch, name: str, url: str, md5: str) -> WeightsEntry:
    e = dataclasses.replace(WEIGHTS[name], urls=(url,), md5=md5)
    monkeypatch.setitem(WEIGHTS, name, e)
    return e


def test_entries_carry_the_published_sources_checksums_and_conventions() -> None:
    lama, migan = get_entry("lama"), get_entry("big-lama.pt")
    assert migan is lama  # the file name resolves too
    migan = get_entry("migan")
    assert lama.urls == ("https://github.com/Sanster/models/releases/download/add_big_lama/big-lama.pt",)
    assert lama.md5 == "e3aa4aaa15225a33ec84f9f4bc47e500"  # IOPaint iopaint/model/lama.py LAMA_MODEL_MD5
    assert migan.urls == ("https://github.com/Sanster/models/releases/download/migan/migan_traced.pt",)
    assert migan.md5 == "76eb3b1a71c400ee3290524f7a11b89c"  # IOPaint iopaint/model/mi_gan.py MIGAN_MODEL_MD5
    assert lama.sha256 is None and migan.sha256 is None  # not published; nobody here has the files
    assert lama.license.startswith("Apache-2.0") and migan.license.startswith("MIT")
    assert (lama.preprocessing.value_range, lama.preprocessing.mask_polarity) == ((0.0, 1.0), "1 = hole")
    assert (lama.preprocessing.size_multiple, lama.preprocessing.native_size) == (8, 256)
    assert migan.preprocessing.value_range == (-1.0, 1.0) and migan.preprocessing.native_size == 512
    assert lama.builder == migan.builder == "remove_people.models.loading:load_torchscript"
    with pytest.raises(ValueError, match="md5"):
        dataclasses.replace(lama, md5="E3AA")


def test_download_with_progress_into_the_cache_then_no_request(served: str, home: Path, standins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    e = point_at(monkeypatch, "lama", f"{served}/ok/big-lama.pt", md5_file(standins / "big-lama.pt"))
    out = io.StringIO()
    path = D.download(e, cache_dir(), progress=True, console=Console(file=out, force_terminal=True, width=120))
    assert path == home / "models" / "big-lama.pt"
    assert path.read_bytes() == (standins / "big-lama.pt").read_bytes()
    assert "big-lama.pt" in out.getvalue()  # the bar named the file
    assert resolve_weights("lama", offline=True) == path  # now on disk: offline is fine


def test_models_fetch_cli_downloads_and_checks(served: str, home: Path, standins: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    point_at(monkeypatch, "migan", f"{served}/ok/migan_traced.pt", md5_file(standins / "migan_traced.pt"))
    assert main(["models", "fetch", "migan", "--online"]) == 0
    assert (home / "models" / "migan_traced.pt").is_file()
    assert str(home / "models" / "migan_traced.pt") in capsys.readouterr().out


def test_corrupted_download_is_refused_and_deleted(served: str, home: Path, standins: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    point_at(monkeypatch, "lama", f"{served}/corrupt/big-lama.pt", md5_file(standins / "big-lama.pt"))
    assert main(["models", "fetch", "lama", "--online"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "md5 mismatch" in err and "expected the published" in err and "deleted" in err
    assert sorted(p.name for p in (home / "models").iterdir() if not p.name.endswith(".lock")) == []


def test_a_damaged_file_on_disk_is_refused_before_torch_loads_it(tmp_path: Path, standins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    data = (standins / "big-lama.pt").read_bytes()
    (folder / "big-lama.pt").write_bytes(data[: len(data) // 2])  # a download cut short
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", str(folder))
    monkeypatch.setitem(WEIGHTS, "lama", dataclasses.replace(WEIGHTS["lama"], md5=md5_file(standins / "big-lama.pt")))
    calls: list[str] = []
    real_load = torch.jit.load
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: calls.append(str(a[0])) or real_load(*a, **k))

    inp = build_stage("inpaint", "lama", device="cpu")
    assert inp.weights_path() == folder / "big-lama.pt"
    with pytest.raises(WeightsError) as err:
        inp.model()
    msg = str(err.value)
    assert str(folder / "big-lama.pt") in msg and "refused to load" in msg and "remove-people models fetch lama" in msg
    assert "--set inpaint.lama.trust_weights=true" in msg
    assert calls == []  # nothing of the file ran

    # Trusted, it reaches torch.jit.load, which cannot read the damaged archive: one clear line again.
    trusted = build_stage("inpaint", "lama", device="cpu", trust_weights=True)
    with pytest.raises(WeightsError, match="cannot read as a TorchScript file"):
        trusted.model()
    assert calls == [str(folder / "big-lama.pt")]


def test_an_unpublished_file_loads_only_when_trusted(standins: Path) -> None:
    path = standins / "migan_traced.pt"  # the stand-in: a valid TorchScript file, not MI-GAN's published one
    with pytest.raises(WeightsError, match="is not the published 76eb3b1a71c400ee3290524f7a11b89c of 'migan'"):
        load_torchscript(path, "migan")
    with pytest.raises(WeightsError, match="sha256 is not in the weights table"):
        load_torchscript(path)
    net = load_torchscript(path, "migan", trust=True)
    x = torch.cat([torch.full((1, 1, 512, 512), 0.5), torch.zeros(1, 3, 512, 512)], dim=1)
    assert net(x).shape == (1, 3, 512, 512)


def test_build_goes_through_the_table(standin_table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", str(standin_table))
    net = build("lama", offline=True)  # found by name, MD5 checked (the patched table), then loaded
    image, mask = torch.rand(1, 3, 16, 16), torch.zeros(1, 1, 16, 16)
    assert torch.equal(net(image, mask), image)


def test_offline_and_missing_names_the_file_the_folders_and_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REMOVE_PEOPLE_MODEL_DIR", str(tmp_path / "models"))
    inp = build_stage("inpaint", "migan", device="cpu")
    assert not inp.weights_available()
    with pytest.raises(OfflineWeightsMissing) as err:
        inp.weights_identity()  # the cache key already needs the file
    assert isinstance(err.value, UsageError) and isinstance(err.value, WeightsError)
    msg = str(err.value)
    for part in ("migan_traced.pt", "md5 76eb3b1a71c400ee3290524f7a11b89c", str(tmp_path / "models"),
                 str(tmp_path / "home" / "models"), "https://github.com/Sanster/models/releases/download/migan/migan_traced.pt"):
        assert part in msg, part
    assert "\n" not in msg


def test_models_list_and_verify(standins: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("REMOVE_PEOPLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "300")  # one table row per file
    assert main(["models", "list", "--model-dir", str(standins)]) == 0
    out = capsys.readouterr().out
    assert "lama" in out and "migan" in out and "Apache-2.0" in out and "MIT" in out
    # The stand-ins are not the published files: verify says so by their MD5 (exit 1) ...
    assert main(["models", "verify", "--model-dir", str(standins)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert out.count("MISMATCH") == 2 and "expected md5 e3aa4aaa15225a33ec84f9f4bc47e500" in out
    # ... and with the table's MD5s pointed at them, both are ok.
    for name, fname in (("lama", "big-lama.pt"), ("migan", "migan_traced.pt")):
        monkeypatch.setitem(WEIGHTS, name, dataclasses.replace(WEIGHTS[name], md5=md5_file(standins / fname)))
    assert main(["models", "verify", "--model-dir", str(standins)]) == 0
    assert capsys.readouterr().out.count("published md5") == 2
