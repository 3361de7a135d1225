"""A third-party inpainter, written exactly as the README shows, installed as its own distribution.

The plugin's module and its entry point are taken from the README's "Plugins" section (so the
example there cannot rot), and installed the way pip leaves a package: the module plus a
``.dist-info`` folder with ``METADATA`` and ``entry_points.txt``, in a folder on ``sys.path``.
The commands run in subprocesses, so entry-point discovery starts fresh. No config file is
given anywhere: the plugin builds from its dataclass defaults.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PHOTO = "000000425989.jpg"  # a small COCO photo with persons


def _readme_blocks() -> tuple[str, str, dict[str, str]]:
    """(module name, its source, {entry point name: target}) from the README's plugin example."""
    section = REPO.joinpath("README.md").read_text(encoding="utf-8").split("## Plugins", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n# (\w+)\.py\n(.*?)```", section, re.S)
    toml = re.search(r"```toml\n(.*?)```", section, re.S)
    assert code and toml, "the README's Plugins section lost its example"
    assert '[project.entry-points."remove_people.inpainters"]' in toml.group(1)
    eps = dict(re.findall(r'^([\w-]+) = "([^"]+)"$', toml.group(1), re.M))  # (no tomllib on Python 3.10)
    return code.group(1), code.group(2), eps


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that holds the plugin as an installed distribution would."""
    module, source, eps = _readme_blocks()
    site = tmp_path_factory.mktemp("site")
    (site / f"{module}.py").write_text(source, encoding="utf-8")
    info = site / "flat_fill-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: flat-fill\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[remove_people.inpainters]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    return site


def _cli(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), "COLUMNS": "200"}
    script = Path(sys.executable).parent / "remove-people"
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_readme_example_is_about_twenty_lines() -> None:
    _, source, eps = _readme_blocks()
    assert len(source.strip().splitlines()) <= 25 and eps == {"flat": "flat_fill:FlatInpainter"}


def test_plugins_lists_the_installed_plugin(site: Path, tmp_path: Path) -> None:
    res = _cli(["plugins"], site, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "flat" in res.stdout and "median (or mean)" in res.stdout
    assert "statistic" in res.stdout  # its parameter, with its choices


def test_run_with_the_plugin_and_no_config_file(site: Path, shared: Path, tmp_path: Path) -> None:
    photo = tmp_path / "in" / PHOTO
    photo.parent.mkdir()
    photo.write_bytes((shared / "data/coco-person/images" / PHOTO).read_bytes())
    common = ["--format", "png", "--save-masks", "--model-dir", str(shared / "weights"), "--offline", "--quiet", "--no-cache"]
    outs = {}
    for stat in ("median", "mean"):
        out = tmp_path / stat
        res = _cli(["run", str(photo.parent), "-o", str(out), "-i", "flat", "--set", f"inpaint.statistic={stat}", *common], site, tmp_path)
        assert res.returncode == 0, res.stderr
        outs[stat] = out
    src = cv2.imread(str(photo))
    mask = cv2.imread(str(outs["median"] / PHOTO.replace(".jpg", ".mask.png")), cv2.IMREAD_GRAYSCALE) > 0
    median = cv2.imread(str(outs["median"] / PHOTO.replace(".jpg", ".png")))
    mean = cv2.imread(str(outs["mean"] / PHOTO.replace(".jpg", ".png")))
    assert mask.any() and np.array_equal(median[~mask], src[~mask])  # only hole pixels changed
    # Each hole window became one colour (a few windows: a few colours), where the photo had thousands.
    assert len(np.unique(median[mask], axis=0)) <= 10 < len(np.unique(src[mask], axis=0))
    assert not np.array_equal(median[mask], mean[mask])  # --set reached the plugin


def test_a_bad_plugin_setting_is_one_line_and_exit_2(site: Path, tmp_path: Path) -> None:
    res = _cli(["run", str(tmp_path), "-i", "flat", "--set", "inpaint.statistic=mode"], site, tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "statistic" in lines[0] and "median" in lines[0] and "Traceback" not in res.stderr
