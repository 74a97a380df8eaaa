"""The in-browser page (`musicsep web`), end to end in headless Chromium.

A dropped song is decoded and separated by the page itself (onnxruntime-web, WebAssembly); its four
stems must match the Python U-Net's (torch, float32) within -60 dB, play, download, and come as vocals +
accompaniment in karaoke mode; after the page has loaded no request leaves it. Other formats, a
sample rate other than 44.1 kHz and a file that is not audio; the server's headers, what it refuses
to serve, and its command-line errors.

A screenshot of the page after a separation goes to the test's folder, or to ``$MUSICSEP_WEB_SCREENSHOT``
to refresh the one in the README:

    MUSICSEP_WEB_SCREENSHOT=docs/web_screenshot.png .venv/bin/python -m pytest tests/test_web_page.py
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import make_stems
from test_app_browser import CHROMIUM, browser  # noqa: F401 (browser: a fixture)
from test_cli import assert_one_line_error
from test_onnx import cli, relative_error

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.inference import separate
from musicsep.separators.unet import DEFAULT_MODEL_PATH, UNetSeparator
from musicsep.web.server import ORT_DIST, ORT_FILES

ROOT = Path(__file__).resolve().parents[1]
# The page's stems against the Python U-Net's: the same maths in float64 (JS) and float32 (torch);
# measured about -120 dB apart.
PAGE_BOUND = 1e-6
SERVER_START_TIMEOUT = 240  # s: importing torch and exporting the model on a busy machine
SEPARATION_TIMEOUT = 120_000  # ms

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.skipif(not (ORT_DIST / ORT_FILES[0]).exists(), reason="needs `npm ci` in musicsep/web"),
]


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    """``musicsep web --port 0`` with a cache folder of its own (so it exports the model on start)."""
    folder = tmp_path_factory.mktemp("web")
    env = dict(os.environ, MUSICSEP_CACHE_DIR=str(folder / "cache"))
    log = folder / "server.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "musicsep.cli", "web", "--port", "0"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line = proc.stdout.readline()  # printed once the port is bound and the model exported
        if "http://" not in line:
            proc.kill()
            pytest.fail(f"musicsep web did not start: {line}{log.read_text()[-3000:]}")
        yield line.split("http://")[1].split("/")[0]  # host:port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "Traceback" not in log.read_text()


@pytest.fixture
def page(browser, web_server):  # noqa: F811
    """A fresh page that has loaded the model; ``page.requests`` lists every request it made."""
    context = browser.new_context(viewport={"width": 1100, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.requests = []
    context.on("request", lambda request: page.requests.append(request.url))
    page.goto(f"http://{web_server}/")
    page.wait_for_selector("body[data-ready=true]", timeout=SEPARATION_TIMEOUT)
    yield page
    context.close()


def write_song(path: Path, seconds: float, seed: int) -> np.ndarray:
    song = sum(make_stems(seconds=seconds, seed=seed).values()).astype(np.float32)
    sf.write(path, song, SAMPLE_RATE, subtype="FLOAT")
    return song


def drop_file(page, path: Path) -> None:
    """Drop ``path`` on the page's drop zone, as a person dragging it from their files would."""
    data = page.evaluate_handle("""([b64, name]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name));
        return transfer;
    }""", [base64.b64encode(path.read_bytes()).decode(), path.name])
    page.dispatch_event("#drop", "drop", {"dataTransfer": data})


def wait_for_stems(page, name: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#result-title")).to_have_text(f"Separated “{name}”", timeout=SEPARATION_TIMEOUT)


def durations(page, selector: str) -> list[float]:
    """The players' durations once their audio has loaded (so: playable WAV data)."""
    return page.evaluate("""(selector) => Promise.all([...document.querySelectorAll(selector)].map((a) =>
        a.readyState >= 1 ? a.duration : new Promise((resolve, reject) => {
            a.addEventListener("loadedmetadata", () => resolve(a.duration));
            a.addEventListener("error", () => reject(new Error("cannot play " + a.src)));
        })))""", selector)


def download(page, selector: str, folder: Path) -> tuple[str, np.ndarray]:
    with page.expect_download() as info:
        page.click(selector)
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    data, rate = sf.read(path, dtype="float32")
    assert rate == SAMPLE_RATE
    return info.value.suggested_filename, data


def test_dropped_song_gives_four_stems_matching_python_and_nothing_leaves_the_page(page, web_server, tmp_path):
    from playwright.sync_api import expect

    song = write_song(tmp_path / "Demo song.wav", 5.0, seed=3)
    origin = f"http://{web_server}/"
    loaded = list(page.requests)
    served = {"", "style.css", "app.js", "dsp.js", "model.json", "model.onnx", *(f"ort/{n}" for n in ORT_FILES)}
    assert all(url.startswith(origin) and url[len(origin):] in served for url in loaded), loaded
    assert {f"{origin}model.onnx", f"{origin}ort/ort-wasm-simd-threaded.wasm"} <= set(loaded)
    assert page.evaluate("crossOriginIsolated"), "no COOP/COEP: WebAssembly would run on one thread"

    drop_file(page, tmp_path / "Demo song.wav")
    wait_for_stems(page, "Demo song.wav")
    expect(page.locator("#stems .stem")).to_have_count(4)
    assert [e.get_attribute("data-stem") for e in page.locator("#stems .stem").all()] == list(SOURCES)
    assert durations(page, "#stems audio") == pytest.approx([5.0] * 4, abs=1e-3)
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#message")).to_be_hidden()

    expected = separate(UNetSeparator(DEFAULT_MODEL_PATH, bfloat16=False), song, SAMPLE_RATE)
    for source in SOURCES:
        name, stem = download(page, f"#stems [data-stem={source}] a", tmp_path)
        assert name == f"Demo song - {source}.wav" and stem.shape == song.shape
        assert relative_error(stem, expected[source]) < PAGE_BOUND, source

    # Karaoke: vocals and the sum of the other three stems (as `musicsep separate --two-stems vocals`).
    page.get_by_label("Karaoke (vocals + accompaniment)").check()
    expect(page.locator("#stems")).to_be_hidden()
    expect(page.locator("#karaoke .stem")).to_have_count(2)
    assert durations(page, "#karaoke audio") == pytest.approx([5.0] * 2, abs=1e-3)
    name, accompaniment = download(page, "#karaoke [data-stem=accompaniment] a", tmp_path)
    assert name == "Demo song - accompaniment.wav"
    rest = expected["drums"] + expected["bass"] + expected["other"]
    assert relative_error(accompaniment, rest) < PAGE_BOUND
    page.get_by_label("Four stems").check()
    expect(page.locator("#stems")).to_be_visible()
    screenshot = Path(os.environ.get("MUSICSEP_WEB_SCREENSHOT", "").strip() or tmp_path / "web_screenshot.png")
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG")

    after = page.requests[len(loaded):]
    assert after and all(url.startswith(f"blob:{origin[:-1]}") for url in after), after  # the page's own stems only


def test_other_formats_and_rates_and_a_file_that_is_not_audio(page, tmp_path):
    from playwright.sync_api import expect

    song = write_song(tmp_path / "song.wav", 1.0, seed=7)
    files = {}
    for name, options in {"song.mp3": [], "song.flac": [], "song 48k.ogg": ["-ar", "48000", "-c:a", "libvorbis"],
                          "song.m4a": ["-c:a", "aac"], "clip.mp4": ["-c:a", "aac"]}.items():
        subprocess.run(["ffmpeg", "-v", "error", "-i", tmp_path / "song.wav", *options, tmp_path / name], check=True)
        files[name] = tmp_path / name
    (tmp_path / "notes.wav").write_text("These are my lyrics, not a song.\n" * 20)

    page.set_input_files("#file", str(tmp_path / "notes.wav"))
    expect(page.locator("#message")).to_contain_text("“notes.wav” could not be read as audio")
    expect(page.locator("#status")).to_contain_text("Ready")
    expect(page.locator("#stems .stem")).to_have_count(0)

    for name, path in files.items():
        page.set_input_files("#file", str(path))
        wait_for_stems(page, name)
        expect(page.locator("#message")).to_be_hidden()
        # Encoders add a little padding or delay; resampled 48 kHz audio comes back at 44.1 kHz.
        assert durations(page, "#stems audio") == pytest.approx([len(song) / SAMPLE_RATE] * 4, abs=0.1), name


def http_get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def test_server_headers_and_what_it_refuses(web_server):
    status, headers = http_get(f"http://{web_server}/")
    assert status == 200 and headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    status, headers = http_get(f"http://{web_server}/ort/ort-wasm-simd-threaded.wasm")
    assert status == 200 and headers["Content-Type"] == "application/wasm"
    for path in ("server.py", "package.json", "node_modules/onnxruntime-web/dist/ort.min.js", "ort/../server.py",
                 "..%2fserver.py", "ort/ort.min.js", "model.pth"):
        assert http_get(f"http://{web_server}/{path}")[0] == 404, path


def test_web_command_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MUSICSEP_CACHE_DIR", str(tmp_path / "cache"))
    assert_one_line_error(cli(capsys, "web", "--port", "70000"), "between 0 and 65535")
    assert_one_line_error(cli(capsys, "web", "--port", "http"), "invalid int value")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert_one_line_error(cli(capsys, "web", "--port", taken.getsockname()[1]), "cannot serve on")
    assert_one_line_error(cli(capsys, "web", "--port", "0", "--model", tmp_path / "nope.pth"), "not found")
    assert not (tmp_path / "cache").exists()  # nothing exported for a server that did not start
