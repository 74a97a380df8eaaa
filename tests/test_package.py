"""The wheel carries every shipped model, and an installed (non-editable) copy separates with them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicsep import SOURCES

ROOT = Path(__file__).resolve().parents[1]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The checkout built into a wheel and installed (not editable) into a folder of its own."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", work / "dist", ROOT],
                   check=True, capture_output=True, timeout=600)
    wheel = next((work / "dist").glob("musicsep-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", work / "site", wheel],
                   check=True, capture_output=True, timeout=600)
    return work


def test_wheel_holds_the_shipped_models(installed):
    wheel = next((installed / "dist").glob("musicsep-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in ("best_model.pth", "nmf.npz", "forest.joblib"):
            assert f"musicsep/models/{name}" in names, name
        # the U-Net inside is the checkout's canonical root file, byte for byte
        assert sha256(archive.read("musicsep/models/best_model.pth")) == sha256((ROOT / "best_model.pth").read_bytes())


def run_installed(installed: Path, *args: str) -> subprocess.CompletedProcess:
    """Python with the installed copy first on the path, away from the checkout."""
    env = {**os.environ, "PYTHONPATH": str(installed / "site")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=installed, env=env,
                          timeout=300)


def test_installed_copy_finds_its_models_and_separates(installed, mixture):
    site = installed / "site"
    probe = run_installed(installed, "-c", "import musicsep.api as api, musicsep.separators.unet as unet; "
                                           "print(api.__file__); print(unet.DEFAULT_MODEL_PATH); "
                                           "print(*[m.model for m in api.list_methods() if m.model], sep='\\n')")
    assert probe.returncode == 0, probe.stderr
    lines = probe.stdout.split()
    assert Path(lines[0]).is_relative_to(site)  # the installed package, not the checkout
    assert all(Path(p).is_relative_to(site / "musicsep" / "models") for p in lines[1:])
    assert Path(lines[1]).name == "best_model.pth"

    sf.write(installed / "song.wav", mixture[:44100], 44100)
    result = run_installed(installed, "-m", "musicsep.cli", "separate", "song.wav", "-o", "out")
    assert result.returncode == 0, result.stderr
    stems = {s: sf.read(installed / "out" / "song" / f"{s}.wav")[0] for s in SOURCES}
    assert all(v.shape == (44100, 2) for v in stems.values())
    assert np.abs(sum(stems.values()) - mixture[:44100]).max() < 1e-3  # U-Net stems sum to the mixture
