"""End to end: the real Streamlit server, driven by a real headless Chromium through Playwright.

Upload a short generated song, separate it with the fast "bandpass" method, check the players and
download buttons, download a stem and read it back, then upload non-audio files and check the
friendly messages. A screenshot of the finished page is saved in the test's temporary folder, or
where ``$MUSICSEP_SCREENSHOT`` says, to refresh the one in the docs:

    MUSICSEP_SCREENSHOT=docs/app_screenshot.png .venv/bin/python -m pytest tests/test_app_browser.py

``streamlit_server``, the ``browser`` fixture and the server (``page_server`` in conftest.py) are shared
with tests/test_app_load.py.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import soundfile as sf
from conftest import make_stems

from musicsep import SAMPLE_RATE, SOURCES

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT_ENV = "MUSICSEP_SCREENSHOT"  # e.g. docs/app_screenshot.png, to refresh the picture in the docs
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
BANDPASS_LABEL = "Frequency bands — fastest (Stage 1)"
# Milliseconds to wait for what follows the page's first visit to a server, which loads the default
# method's model (the U-Net: importing torch alone can take half a minute on a busy machine).
MODEL_LOAD_TIMEOUT = 120_000
EXPECT_TIMEOUT = 30_000  # for any other expect(): Playwright's 5 s is too short on two cores shared with training

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``streamlit run app.py``: its address, its process, its log and its temporary folder."""

    url: str
    proc: subprocess.Popen
    log: Path
    tmp: Path


@contextmanager
def streamlit_server(folder: Path, *options: str) -> Iterator[Server]:
    """``streamlit run app.py`` on a free localhost port, with ``TMPDIR`` set to ``folder/tmp``.

    ``options`` are more ``streamlit run`` options (``"--server.maxUploadSize", "1"``). The server is
    stopped on exit, and its log must hold no traceback.
    """
    port = free_port()
    log = folder / "streamlit.log"
    tmp = folder / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "MUSICSEP_MAX_MINUTES"}
    env["TMPDIR"] = str(tmp)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", *options]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Streamlit server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(url, proc, log, tmp)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]


@pytest.fixture(scope="module")
def server(page_server) -> str:
    """The page's address, on the server shared by the browser tests (``page_server`` in conftest.py)."""
    return page_server.url


def screenshot_path(tmp_path: Path) -> Path:
    """Where the finished page's picture goes: the test's folder, or ``$MUSICSEP_SCREENSHOT`` when set."""
    named = os.environ.get(SCREENSHOT_ENV, "").strip()
    return Path(named) if named else tmp_path / "app_screenshot.png"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=EXPECT_TIMEOUT)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_upload_separate_download_and_errors(server, browser, tmp_path):
    from playwright.sync_api import expect

    song = sum(make_stems(seconds=4.0).values()).astype(np.float32)
    song_path = tmp_path / "Demo song.wav"
    sf.write(song_path, song, SAMPLE_RATE, subtype="PCM_16")

    page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page.set_default_timeout(30_000)
    page.goto(server)
    expect(page.get_by_text("Up to 200 MB and 15 minutes per song", exact=False).first).to_be_visible()

    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(song_path))
    page.get_by_text(BANDPASS_LABEL).click()
    expect(page.get_by_role("radio", name=BANDPASS_LABEL)).to_be_checked()
    separate = page.get_by_role("button", name="Separate")
    expect(separate).to_be_visible(timeout=MODEL_LOAD_TIMEOUT)
    separate.click()

    expect(page.get_by_test_id("stAudio")).to_have_count(4, timeout=60_000)
    expect(page.get_by_test_id("stDownloadButton")).to_have_count(5)
    expect(page.get_by_text("Separated “Demo song.wav”", exact=False)).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("0:04")
    assert page.get_by_test_id("stException").count() == 0

    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="vocals.wav").get_by_role("button").click()
    download = info.value
    assert download.suggested_filename == "Demo_song_vocals.wav"
    saved = tmp_path / "vocals.wav"
    download.save_as(saved)
    vocals, rate = sf.read(saved, dtype="float32")
    assert rate == SAMPLE_RATE and vocals.shape == song.shape
    assert np.abs(vocals).max() > 1e-3

    with page.expect_download() as info:  # the zip is built on the server only when asked for
        page.get_by_test_id("stDownloadButton").filter(has_text=".zip").get_by_role("button").click()
    assert info.value.suggested_filename == "Demo_song_stems.zip"
    info.value.save_as(tmp_path / "stems.zip")
    with zipfile.ZipFile(tmp_path / "stems.zip") as archive:
        assert sorted(archive.namelist()) == sorted(f"Demo_song/{s}.wav" for s in SOURCES)
        drums, _ = sf.read(io.BytesIO(archive.read("Demo_song/drums.wav")))
        assert drums.shape == song.shape

    # The whole page, at a height that shows every stem (Streamlit scrolls inside its own container).
    page.wait_for_load_state("networkidle")
    height = page.evaluate("document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    page.set_viewport_size({"width": 1100, "height": int(height) + 80})
    page.wait_for_timeout(500)
    screenshot = screenshot_path(tmp_path)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG")
    page.set_viewport_size({"width": 1100, "height": 900})

    # Not audio: a .txt is refused by the uploader itself; a text file named .wav by the page.
    text_path = tmp_path / "notes.txt"
    text_path.write_text("These are my lyrics, not a song.\n" * 20)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(text_path))
    expect(page.get_by_text("files are not allowed", exact=False)).to_be_visible()

    fake_path = tmp_path / "notes.wav"
    fake_path.write_text("These are my lyrics, not a song.\n" * 20)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(fake_path))
    expect(page.get_by_test_id("stAudio")).to_have_count(0)  # the page has rerun with the new file
    separate = page.get_by_role("button", name="Separate")
    expect(separate).to_be_visible()
    separate.click()
    alert = page.get_by_test_id("stAlert").filter(has_text="notes.wav")
    expect(alert).to_contain_text("cannot be read as audio")
    page.wait_for_timeout(1000)  # the message stays through any later rerun
    expect(alert).to_be_visible()
    expect(page.get_by_test_id("stAudio")).to_have_count(0)
    assert page.get_by_test_id("stException").count() == 0
    page.close()
