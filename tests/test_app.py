"""The web page: its helpers in musicsep.webapp, and app.py through Streamlit's AppTest."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import make_stems

from musicsep import SAMPLE_RATE, SOURCES, webapp
from musicsep.errors import UserError
from musicsep.api import Separator
from musicsep.separators.base import METHODS, BaseSeparator

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def wav_file(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def song() -> np.ndarray:
    return sum(make_stems(seconds=2.0).values()).astype(np.float32)


@pytest.fixture(scope="module")
def bandpass():
    return Separator("bandpass")


# --- musicsep.webapp --------------------------------------------------------------------------

def test_method_choices_best_first_and_default():
    assert webapp.method_choices({"bandpass": "x", "nmf": "x", "forest": "x", "unet": "x"}) == \
        ["unet", "forest", "nmf", "bandpass"]
    assert webapp.method_choices({"bandpass": "x", "new": "x"}) == ["bandpass", "new"]
    choices = webapp.method_choices()
    assert set(choices) == set(METHODS)
    assert choices[webapp.default_method_index(choices)] == ("unet" if "unet" in METHODS else "bandpass")
    assert webapp.method_label("bandpass").startswith("Frequency bands")
    assert webapp.method_label("mystery") == "mystery"


def test_max_minutes_from_environment():
    assert webapp.max_minutes({}) == 15
    assert webapp.max_minutes({"MUSICSEP_MAX_MINUTES": "2.5"}) == 2.5
    for bad in ("0", "-1", "abc", "nan", "inf"):
        with pytest.raises(UserError, match="MUSICSEP_MAX_MINUTES"):
            webapp.max_minutes({"MUSICSEP_MAX_MINUTES": bad})


def test_names_never_come_from_the_upload_path():
    assert webapp.upload_suffix("Song.MP3") == ".mp3"
    assert webapp.upload_suffix("clip.final.mp4") == ".mp4"
    for bad in ("notes.txt", "song", "../../etc/passwd", "evil.wav/..", ""):
        with pytest.raises(UserError, match="not an audio or video file"):
            webapp.upload_suffix(bad)
    assert webapp.safe_name("My Song (live).mp3") == "My_Song_live"
    assert webapp.safe_name("../../etc/passwd") == "passwd"
    assert webapp.safe_name("...") == "song"
    assert webapp.plain("a*b*_[c](d).wav") == r"a\*b\*\_\[c\]\(d\).wav"
    assert webapp.format_duration(83.4) == "1:23" and webapp.format_duration(3725) == "1:02:05"


def test_upload_key_depends_on_bytes_method_and_mode():
    key = webapp.upload_key(b"abc", "bandpass", None)
    assert key == webapp.upload_key(b"abc", "bandpass", None)
    assert len({key, webapp.upload_key(b"abd", "bandpass", None), webapp.upload_key(b"abc", "nmf", None),
                webapp.upload_key(b"abc", "bandpass", "vocals")}) == 4


def test_separate_upload_four_stems(song, bandpass):
    seen = []
    result = webapp.separate_upload(wav_file(song), "my song.wav", bandpass,
                                    progress=lambda f, text: seen.append((f, text)))
    assert [s.name for s in result.stems] == list(SOURCES)
    assert result.sample_rate == SAMPLE_RATE and result.channels == 2
    assert result.duration == pytest.approx(2.0) and 0 < result.seconds_taken < result.total_seconds
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0 and fractions[-1] == 1
    assert any(text.startswith("Separating") for _, text in seen)
    total = 0
    for stem in result.stems:
        audio, rate = sf.read(io.BytesIO(stem.wav), dtype="float32")
        assert rate == SAMPLE_RATE and audio.shape == song.shape
        assert stem.picture.startswith(b"\x89PNG")
        total = total + audio
    assert np.abs(total - song).max() < 1e-3  # bandpass stems sum to the mixture (16-bit rounding aside)
    assert result.mixture_picture.startswith(b"\x89PNG")
    assert result.stem_file_name(result.stems[0]) == "my_song_drums.wav"

    archive = zipfile.ZipFile(io.BytesIO(result.zip_bytes()))
    assert sorted(archive.namelist()) == sorted(f"my_song/{s}.wav" for s in SOURCES)
    vocals, _ = sf.read(io.BytesIO(archive.read("my_song/vocals.wav")))
    assert vocals.shape == song.shape


def test_separate_upload_karaoke_and_resampled_mono(song, bandpass):
    mono_22k = song[::2, :1]
    result = webapp.separate_upload(wav_file(mono_22k, 22050), "x.wav", bandpass,
                                    two_stems="vocals", pictures=False)
    assert [s.name for s in result.stems] == ["vocals", "no_vocals"]
    assert result.sample_rate == 22050 and result.channels == 1
    vocals, rate = sf.read(io.BytesIO(result.stems[0].wav))
    assert rate == SAMPLE_RATE and vocals.shape == (len(mono_22k) * 2, 2)
    # the accompaniment is the other three stems of the same song mixed together
    four = webapp.separate_upload(wav_file(mono_22k, 22050), "x.wav", bandpass, pictures=False)
    stems = {s.name: sf.read(io.BytesIO(s.wav))[0] for s in four.stems}
    no_vocals, _ = sf.read(io.BytesIO(result.stems[1].wav))
    np.testing.assert_allclose(vocals, stems["vocals"], atol=1e-4)
    np.testing.assert_allclose(no_vocals, stems["drums"] + stems["bass"] + stems["other"], atol=2e-4)
    assert np.abs(no_vocals).max() > 0.05  # not silence


def test_method_failure_names_the_method(song):
    class Untrained(BaseSeparator):

        def separate(self, mixture, sample_rate):
            raise UserError("model file not found")

    with pytest.raises(UserError, match=r"^Frequency bands .* could not separate this song: model file not found"):
        webapp.separate_upload(wav_file(song), "a.wav", Separator.around(Untrained(), "bandpass"))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_separate_upload_video_uses_its_sound_track(tmp_path, song, bandpass):
    sf.write(tmp_path / "sound.wav", song, SAMPLE_RATE)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=blue:s=64x48:d=2", "-i",
                    str(tmp_path / "sound.wav"), "-c:v", "libx264", "-c:a", "aac", "-shortest",
                    str(tmp_path / "clip.mp4")], check=True, timeout=60)
    result = webapp.separate_upload((tmp_path / "clip.mp4").read_bytes(), "Holiday clip.MP4", bandpass, pictures=False)
    assert [s.name for s in result.stems] == list(SOURCES)
    assert result.duration == pytest.approx(2.0, abs=0.1)
    bass, _ = sf.read(io.BytesIO(result.stems[1].wav))
    assert np.abs(bass).max() > 0.05  # the 55 Hz bass line came through the AAC track


@pytest.mark.parametrize("name,data,message", [
    ("notes.txt", b"hello", "not an audio or video file"),
    ("fake.wav", b"this is just text, not a RIFF file" * 20, "fake.wav"),
    ("empty.mp3", b"", "empty"),
    ("truncated.wav", None, "truncated.wav"),
])
def test_bad_uploads_are_user_errors(bandpass, song, name, data, message):
    if data is None:
        data = wav_file(song)[:30]  # a header cut short
    with pytest.raises(UserError, match=message) as info:
        webapp.separate_upload(data, name, bandpass)
    assert "/tmp" not in str(info.value) and "upload." not in str(info.value)  # no server paths


def test_silent_and_too_long_uploads(bandpass):
    with pytest.raises(UserError, match="silent"):
        webapp.separate_upload(wav_file(np.zeros((SAMPLE_RATE, 2), np.float32)), "quiet.wav", bandpass)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (3 * SAMPLE_RATE, 2)).astype(np.float32)
    with pytest.raises(UserError, match="longer than 0.02 minutes"):
        webapp.separate_upload(wav_file(noise), "long.wav", bandpass, limit_minutes=0.02)


def test_temporary_files_are_removed(tmp_path, monkeypatch, song, bandpass):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    webapp.separate_upload(wav_file(song), "../../escape.wav", bandpass, pictures=False)
    with pytest.raises(UserError):
        webapp.separate_upload(b"junk" * 100, "bad.wav", bandpass)
    assert list(tmp_path.iterdir()) == []


# --- app.py through AppTest -------------------------------------------------------------------

def app_test(monkeypatch, minutes: str | None = None):
    from streamlit.testing.v1 import AppTest

    if minutes is None:
        monkeypatch.delenv("MUSICSEP_MAX_MINUTES", raising=False)
    else:
        monkeypatch.setenv("MUSICSEP_MAX_MINUTES", minutes)
    return AppTest.from_file(APP, default_timeout=60).run()


def test_page_renders_with_methods_and_limits(monkeypatch):
    at = app_test(monkeypatch, "7")
    assert not at.exception and not at.error
    assert at.title[0].value.endswith("musicsep")
    methods = at.radio(key="method")
    assert list(methods.options) == [webapp.method_label(m) for m in webapp.method_choices()]
    assert methods.value == webapp.method_choices()[webapp.default_method_index(webapp.method_choices())]
    assert at.radio(key="mode").value == "all"
    uploader = at.file_uploader(key="upload")
    assert {".wav", ".mp4", ".mp3", ".flac", ".ogg", ".m4a"} <= {"." + t.lstrip(".") for t in uploader.allowed_type}
    limits = " ".join(c.value for c in at.caption)
    assert "200 MB" in limits and "7 minutes" in limits
    assert at.info and not at.button  # no Separate button before an upload


def test_misconfigured_limit_is_a_message(monkeypatch):
    at = app_test(monkeypatch, "forever")
    assert not at.exception
    assert "MUSICSEP_MAX_MINUTES" in at.error[0].value


def test_upload_limit_is_configured_and_stated(monkeypatch):
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    megabytes = config["server"]["maxUploadSize"]
    at = app_test(monkeypatch)
    assert at.file_uploader(key="upload").help.startswith(f"Up to {megabytes} MB")


def test_upload_separate_and_rerun_reuses_result(monkeypatch, song):
    import streamlit as st

    from musicsep.separators import base

    calls, loads = [], []
    real, real_get = Separator.separate_array, base.get_separator
    monkeypatch.setattr(Separator, "separate_array", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(base, "get_separator", lambda name: loads.append(name) or real_get(name))
    st.cache_resource.clear()
    at = app_test(monkeypatch)
    at.radio(key="method").set_value("bandpass").run()
    at.file_uploader(key="upload").upload("my *best* [tune].wav", wav_file(song), "audio/wav").run()
    assert not at.exception and not at.error
    at.button(key="separate").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(calls) == 1 and len(at.button) == 0  # the result replaces the Separate button
    assert at.success and r"my \*best\* \[tune\].wav" in at.success[0].value  # shown as typed
    assert [m.label for m in at.metric] == ["Duration", "Sample rate", "Channels", "Time taken"]
    assert at.metric[0].value == "0:02" and at.metric[1].value == "44.1 kHz"
    assert len(at.get("audio")) == 4 and len(at.image) == 5
    labels = [b.label for b in at.get("download_button")]
    assert len(labels) == 5 and any(".zip" in label for label in labels)

    at.run()  # a plain rerun (any widget interaction): the result is shown, not recomputed
    assert len(calls) == 1 and len(at.get("audio")) == 4
    at.radio(key="mode").set_value("vocals").run()  # another mode is another separation...
    assert not at.button(key="separate").value and len(at.get("audio")) == 0
    at.button(key="separate").click().run()
    assert len(calls) == 2 and len(at.get("audio")) == 2
    at.radio(key="mode").set_value("all").run()  # ...and going back reuses the first one
    assert len(calls) == 2 and len(at.get("audio")) == 4
    # Each method's separator was built once (the default one on the first visit), then shared.
    assert loads.count("bandpass") == 1 and len(loads) == len(set(loads))


def test_unavailable_method_is_a_warning(monkeypatch, song):
    import streamlit as st

    from musicsep.separators import base

    real_get = base.get_separator

    def get_separator(name):
        if name == "broken":
            raise UserError("model file not found; train it first")
        return real_get(name)

    monkeypatch.setitem(base.METHODS, "broken", base.MethodInfo("nowhere:Nothing", "a method that cannot load"))
    monkeypatch.setattr(base, "get_separator", get_separator)
    st.cache_resource.clear()
    at = app_test(monkeypatch)
    at.radio(key="method").set_value("broken").run()
    assert not at.exception and "model file not found" in at.warning[0].value
    at.file_uploader(key="upload").upload("a.wav", wav_file(song), "audio/wav").run()
    assert at.button(key="separate").disabled
    at.radio(key="method").set_value("bandpass").run()
    assert not at.warning and not at.button(key="separate").disabled


def test_corrupt_upload_is_a_friendly_error(monkeypatch):
    at = app_test(monkeypatch)
    at.radio(key="method").set_value("bandpass").run()
    at.file_uploader(key="upload").upload("broken.wav", b"not audio at all" * 64, "audio/wav").run()
    at.button(key="separate").click().run()
    assert not at.exception
    assert len(at.error) == 1 and "broken.wav" in at.error[0].value
    assert len(at.get("audio")) == 0
    at.run()  # the message stays through reruns, with the button to try again
    assert len(at.error) == 1 and at.button(key="separate")


def test_a_stuck_separation_does_not_block_the_queue():
    """The queue's watchdog (issue 14): a job that stops reporting progress is given up, its visitor
    gets a message, and the next visitor's job runs without waiting for it."""
    import threading

    queue = webapp.SeparationQueue(stall_limit=0.5, poll_seconds=0.05)
    release = threading.Event()
    stuck_outcome: dict = {}

    def stuck(progress):
        progress(0.01, "Reading the file…")
        release.wait(30)  # a decoder that hangs
        progress(0.5, "Separating…")  # the watchdog has given it up by now: raises Stopped
        return "never"

    def first_visitor():
        try:
            stuck_outcome["result"] = queue.run(stuck, show=lambda f, t: None)
        except UserError as exc:
            stuck_outcome["error"] = str(exc)

    first = threading.Thread(target=first_visitor)
    first.start()
    time.sleep(0.2)  # the stuck job holds the queue
    shown = []
    began = time.monotonic()
    assert queue.run(lambda progress: (progress(1.0, "Done"), "stems")[1], show=lambda f, t: shown.append(t)) == "stems"
    assert time.monotonic() - began < 10
    assert shown[0] == webapp.QUEUE_WAIT_TEXT
    first.join(10)
    assert stuck_outcome == {"error": webapp.STUCK_MESSAGE}
    release.set()


def test_stall_limit_from_environment():
    assert webapp.stall_seconds({}) == webapp.DEFAULT_STALL_SECONDS
    assert webapp.stall_seconds({webapp.STALL_SECONDS_ENV: "30"}) == 30.0
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(UserError, match=webapp.STALL_SECONDS_ENV):
            webapp.stall_seconds({webapp.STALL_SECONDS_ENV: bad})


@pytest.mark.parametrize("failure,message", [
    (MemoryError, "The server ran out of memory on this song"),
    (RuntimeError("boom"), "Something went wrong while separating this file"),
])
def test_separation_failures_are_messages_on_the_page(monkeypatch, song, failure, message):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(webapp, "separate_upload", fail)
    at = app_test(monkeypatch)
    at.radio(key="method").set_value("bandpass").run()
    at.file_uploader(key="upload").upload("a.wav", wav_file(song), "audio/wav").run()
    at.button(key="separate").click().run()
    assert not at.exception and message in at.error[0].value
    assert "boom" not in at.error[0].value and "Traceback" not in at.error[0].value
    at.run()  # the message stays on later reruns; nothing is retried behind the user's back
    assert message in at.error[0].value


def test_only_the_last_results_are_kept(monkeypatch, song):
    """RESULTS_KEPT (3) results per session: a fourth separation evicts the oldest one."""
    calls = []
    real = webapp.separate_upload
    monkeypatch.setattr(webapp, "separate_upload", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    at = app_test(monkeypatch)
    at.radio(key="method").set_value("bandpass").run()
    uploads = [wav_file(song * gain) for gain in (1.0, 0.9, 0.8, 0.7)]
    for i, data in enumerate(uploads):
        at.file_uploader(key="upload").upload(f"song{i}.wav", data, "audio/wav").run()
        at.button(key="separate").click().run()
        assert not at.exception and len(at.get("audio")) == 4
    assert len(at.session_state["outcomes"]) == 3
    at.file_uploader(key="upload").upload("song1.wav", uploads[1], "audio/wav").run()  # still kept
    assert len(at.get("audio")) == 4 and len(calls) == 4
    at.file_uploader(key="upload").upload("song0.wav", uploads[0], "audio/wav").run()  # evicted
    assert len(at.get("audio")) == 0 and at.button(key="separate")


def test_a_second_visitor_sees_the_queue_message(monkeypatch, song):
    """While another visitor's song is being separated, a visitor who presses Separate is told to
    wait (webapp.QUEUE_WAIT_TEXT on the page's progress bar), then gets the stems of their own song.

    The other visitor is a job in the server's queue (AppTest runs one page at a time in a process):
    it holds the queue until the page has drawn the message, or 30 s."""
    import threading

    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    shown: list[str] = []  # every progress-bar text the page draws, in order
    queue_message_shown = threading.Event()
    real_progress = DeltaGenerator.progress

    def progress(self, value, text=None):
        shown.append(text)
        if text == webapp.QUEUE_WAIT_TEXT:
            queue_message_shown.set()
        return real_progress(self, value, text=text)

    server_queue = webapp.SeparationQueue(webapp.stall_seconds(), poll_seconds=0.05)
    monkeypatch.setattr(webapp, "SeparationQueue", lambda *args, **kwargs: server_queue)
    monkeypatch.setattr(DeltaGenerator, "progress", progress)
    st.cache_resource.clear()  # the page's separation_queue() now returns server_queue
    at = app_test(monkeypatch)
    at.radio(key="method").set_value("bandpass").run()
    at.file_uploader(key="upload").upload("mine.wav", wav_file(song), "audio/wav").run()

    other_started = threading.Event()

    def other_song(report):
        other_started.set()
        return queue_message_shown.wait(30)

    other = {}
    other_visitor = threading.Thread(target=lambda: other.update(told=server_queue.run(other_song, lambda f, t: None)))
    other_visitor.start()
    assert other_started.wait(30)
    at.button(key="separate").click().run()
    other_visitor.join(30)
    assert other == {"told": True}, "the page never showed the queue message while another song was separated"
    assert shown.count(webapp.QUEUE_WAIT_TEXT) == 1
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "“mine.wav”" in at.success[0].value and len(at.get("audio")) == 4
