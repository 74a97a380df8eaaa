"""The page under load and abuse (issue 8), on the real Streamlit server driven by headless Chromium.

- Two browser sessions separating at once each get the stems of their own song, and the server
  serves a third visitor afterwards.
- A separation leaves nothing in the server's temporary folder, whether it worked or not; a closed
  tab's session (its results, players and downloads) is released by the server.
- An upload over ``server.maxUploadSize`` is refused with a message (and by the server itself, for a
  client that skips the page's check), and the server goes on serving.

The server and browser helpers come from tests/test_app_browser.py.
"""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import damaged_aac, make_stems
from test_app_browser import (  # noqa: F401 (browser: a fixture)
    BANDPASS_LABEL, CHROMIUM, MODEL_LOAD_TIMEOUT, browser, streamlit_server)

from musicsep import SAMPLE_RATE, SOURCES

SESSION_TTL = 2  # seconds page_server keeps a closed tab's session for a reconnect (Streamlit's default: 120)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


@pytest.fixture(scope="module")
def server(page_server):
    """The server shared by the browser tests (conftest.py): its own empty ``TMPDIR``, a short session TTL."""
    return page_server


def write_song(path: Path, seconds: float, seed: int) -> np.ndarray:
    """A generated song, written as 16-bit WAV; returns the samples as the server will read them."""
    song = sum(make_stems(seconds=seconds, seed=seed).values()).astype(np.float32)
    sf.write(path, song, SAMPLE_RATE, subtype="PCM_16")
    return sf.read(path, dtype="float32")[0]


def open_page(browser, url: str):
    """A page in a browser context of its own: a separate Streamlit session, as in another browser."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    return page


def wait_for_the_page(page) -> None:
    """Until the page's first run has finished: the first visit loads the default method's model
    (the U-Net: importing torch alone can take half a minute on a busy machine), hence the long wait.

    The script's state alone ("notRunning") cannot tell a run that has finished from one that has not
    started yet, so the wait is first for what a finished run shows: the hint to drop a file, or the
    Separate button. (Streamlit's status widget, "Running...", never showed in headless Chromium.)
    """
    from playwright.sync_api import expect

    finished = page.get_by_text("Drop a file above").or_(page.get_by_role("button", name="Separate"))
    expect(finished.first).to_be_visible(timeout=MODEL_LOAD_TIMEOUT)
    expect(page.locator("[data-test-script-state]")).to_have_attribute(
        "data-test-script-state", "notRunning", timeout=MODEL_LOAD_TIMEOUT)


def ready_to_separate(page, song: Path, wait_for_page: bool = True) -> None:
    """Upload ``song`` and choose the band-pass method, up to the Separate button.

    With ``wait_for_page`` the file is dropped once the page's first run has finished, and the
    method is chosen once the page has the file. (Dropped just after a click, in the gap before the
    click's rerun starts, a file was ignored by Streamlit 1.67's uploader: no file chip, 3 times in 3
    in CI.) Without it the method is clicked and the file dropped at once, while the page may still
    be running (its first visit, or the rerun of the click), as an impatient user would. Nothing is
    uploaded twice: a lost upload fails the test.
    """
    from playwright.sync_api import expect

    def choose_method():
        page.get_by_text(BANDPASS_LABEL).click()
        expect(page.get_by_role("radio", name=BANDPASS_LABEL)).to_be_checked()

    if wait_for_page:
        wait_for_the_page(page)
    else:
        choose_method()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(song))
    expect(page.get_by_test_id("stFileChip").filter(has_text=song.name)).to_be_visible()  # the browser has it
    expect(page.get_by_role("button", name="Separate"),  # and so has the page
           f"the page lost the upload of {song.name}").to_be_visible(timeout=MODEL_LOAD_TIMEOUT)
    if wait_for_page:
        choose_method()  # the next click (Separate) sends every widget's state, this choice included


def download_zip(page, folder: Path) -> zipfile.ZipFile:
    with page.expect_download() as info:
        page.get_by_test_id("stDownloadButton").filter(has_text=".zip").get_by_role("button").click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return zipfile.ZipFile(path)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def assert_page_serves(browser, url: str) -> None:
    """A fresh visitor gets the whole page."""
    from playwright.sync_api import expect

    page = open_page(browser, url)
    expect(page.get_by_test_id("stFileUploaderDropzoneInput")).to_be_attached(timeout=MODEL_LOAD_TIMEOUT)
    expect(page.get_by_role("radio", name=BANDPASS_LABEL)).to_be_attached()
    assert page.get_by_test_id("stException").count() == 0
    page.context.close()


def test_two_sessions_separating_at_once_get_their_own_stems(server, browser, tmp_path):
    from playwright.sync_api import expect

    songs = {"Song A": write_song(tmp_path / "Song A.wav", 6.0, seed=1),
             "Song B": write_song(tmp_path / "Song B.wav", 3.5, seed=2)}
    pages = {name: open_page(browser, server.url) for name in songs}
    # B drops the file while its page may still be running; A waits for the page first.
    ready_to_separate(pages["Song B"], tmp_path / "Song B.wav", wait_for_page=False)
    ready_to_separate(pages["Song A"], tmp_path / "Song A.wav")

    # Both presses reach the server before the first separation is done (the page runs them one
    # after the other, behind a lock; the second visitor waits for the first).
    pages["Song A"].get_by_role("button", name="Separate").click()
    pages["Song B"].get_by_role("button", name="Separate").click()
    assert pages["Song A"].get_by_test_id("stAudio").count() == 0, "the first separation ended too soon"

    for name, page in pages.items():
        song = songs[name]
        expect(page.get_by_test_id("stAudio")).to_have_count(4, timeout=90_000)
        expect(page.get_by_test_id("stAlert").filter(has_text=f"Separated “{name}.wav”")).to_contain_text(
            BANDPASS_LABEL)  # the method chosen before the upload
        folder = name.replace(" ", "_")
        with download_zip(page, tmp_path) as archive:
            assert sorted(archive.namelist()) == sorted(f"{folder}/{s}.wav" for s in SOURCES)
            total = 0
            for source in SOURCES:
                stem, rate = sf.read(io.BytesIO(archive.read(f"{folder}/{source}.wav")), dtype="float32")
                assert rate == SAMPLE_RATE and stem.shape == song.shape, (name, source, stem.shape)
                total = total + stem
        # Band-pass stems add up to their own mixture (16-bit rounding aside), not to the other song.
        assert np.abs(total - song).max() < 1e-3, name
        assert page.get_by_test_id("stException").count() == 0
        page.context.close()

    assert_page_serves(browser, server.url)  # a third visitor afterwards


def test_damaged_upload_does_not_block_another_session(server, browser, tmp_path):
    """A damaged AAC whose decoder floods its error output used to hang at "Reading the file…" and
    hold the separation queue for every later visitor (issue 14)."""
    from playwright.sync_api import expect

    damaged = damaged_aac(tmp_path / "Damaged song.aac")
    song = write_song(tmp_path / "Song D.wav", 3.0, seed=6)
    pages = {"damaged": open_page(browser, server.url), "song": open_page(browser, server.url)}
    ready_to_separate(pages["damaged"], damaged)
    ready_to_separate(pages["song"], tmp_path / "Song D.wav")
    pages["damaged"].get_by_role("button", name="Separate").click()
    pages["song"].get_by_role("button", name="Separate").click()

    expect(pages["song"].get_by_test_id("stAudio")).to_have_count(4, timeout=120_000)
    with download_zip(pages["song"], tmp_path) as archive:
        stem, _ = sf.read(io.BytesIO(archive.read("Song_D/vocals.wav")), dtype="float32")
        assert stem.shape == song.shape
    # The damaged file: what ffmpeg could decode is separated, or a friendly message; never a hang.
    outcome = pages["damaged"].get_by_test_id("stAudio").or_(pages["damaged"].get_by_test_id("stAlert"))
    expect(outcome.first).to_be_visible(timeout=60_000)
    for page in pages.values():
        assert page.get_by_test_id("stException").count() == 0
        page.context.close()
    assert_page_serves(browser, server.url)


def test_closed_tab_leaves_no_files_and_its_session_is_released(server, browser, tmp_path):
    from playwright.sync_api import expect

    write_song(tmp_path / "Song C.wav", 3.0, seed=3)
    (tmp_path / "junk.wav").write_bytes(b"not a song at all" * 500)
    page = open_page(browser, server.url)
    ready_to_separate(page, tmp_path / "junk.wav")  # a failing separation also cleans up after itself
    page.get_by_role("button", name="Separate").click()
    expect(page.get_by_test_id("stAlert").filter(has_text="junk.wav")).to_contain_text("cannot be read as audio")
    ready_to_separate(page, tmp_path / "Song C.wav")
    expect(page.get_by_test_id("stAlert")).to_have_count(0)  # the page has rerun with the new file
    page.get_by_role("button", name="Separate").click()
    expect(page.get_by_test_id("stAudio")).to_have_count(4, timeout=90_000)
    player = page.get_by_test_id("stAudio").first.get_attribute("src")
    player = player if player.startswith("http") else server.url + player
    assert http_status(player) == 200
    page.context.close()

    # The upload was written to the server's TMPDIR only while it was decoded.
    assert sorted(p.name for p in server.tmp.iterdir()) == []

    # Streamlit keeps a closed tab's session for a reconnect, for server.disconnectedSessionTTL
    # seconds; then, at the next session event, drops it with its session_state, players and
    # downloads. Here another visitor comes and goes once the TTL is over.
    closed = time.monotonic()
    assert http_status(player) == 200
    time.sleep(max(0.0, closed + SESSION_TTL + 0.5 - time.monotonic()))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        other = open_page(browser, server.url)
        expect(other.get_by_test_id("stFileUploaderDropzoneInput")).to_be_attached(timeout=MODEL_LOAD_TIMEOUT)
        other.context.close()
        if http_status(player) == 404:
            break
        time.sleep(0.5)
    assert http_status(player) == 404, "the closed tab's stems are still held by the server"


def test_upload_over_the_limit_is_refused(browser, tmp_path):
    from playwright.sync_api import expect

    big = tmp_path / "Big song.wav"
    write_song(big, 12.0, seed=4)  # 12 s of 16-bit stereo: about 2 MB
    small = tmp_path / "Small song.wav"
    small_song = write_song(small, 1.0, seed=5)
    with streamlit_server(tmp_path, "--server.maxUploadSize", "1") as running:
        page = open_page(browser, running.url)
        expect(page.get_by_text("Up to 1 MB and 15 minutes per song", exact=False).first).to_be_visible(
            timeout=MODEL_LOAD_TIMEOUT)
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(big))
        expect(page.get_by_text("File must be 1.0MB or smaller", exact=False)).to_be_visible()
        expect(page.get_by_role("button", name="Separate")).to_have_count(0)  # (no rerun with a file)

        # The same page, and the server, go on working with a file under the limit.
        with page.expect_request(lambda r: "/_stcore/upload_file/" in r.url and r.method == "PUT") as sent:
            ready_to_separate(page, small)
        # A client that skips the page's check and sends the big file anyway is refused by the server.
        headers = {k: v for k, v in sent.value.all_headers().items() if k.lower() == "x-xsrftoken"}
        refused = page.request.put(sent.value.url, headers=headers, multipart={
            "file": {"name": big.name, "mimeType": "audio/wav", "buffer": big.read_bytes()}})
        assert refused.status == 413, (refused.status, refused.text()[:300])
        page.get_by_role("button", name="Separate").click()
        expect(page.get_by_test_id("stAudio")).to_have_count(4, timeout=90_000)
        expect(page.get_by_test_id("stMetricValue").first).to_have_text("0:01")
        with download_zip(page, tmp_path) as archive:  # the small song's stems, nothing of the big one
            total = sum(sf.read(io.BytesIO(archive.read(f"Small_song/{s}.wav")), dtype="float32")[0] for s in SOURCES)
        assert total.shape == small_song.shape and np.abs(total - small_song).max() < 1e-3
        page.context.close()
        assert_page_serves(browser, running.url)
        assert sorted(p.name for p in running.tmp.iterdir()) == []
