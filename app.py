"""The musicsep web page: drop a song, get its drums, bass, other and vocals.

    .venv/bin/streamlit run app.py

Only layout lives here; the work is done by :mod:`musicsep.webapp` (and, through it, the package).
"""

from __future__ import annotations

import logging

import streamlit as st

from musicsep import webapp
from musicsep.api import Separator
from musicsep.audio import AUDIO_EXTENSIONS
from musicsep.errors import UserError

RESULTS_KEPT = 3  # separations remembered per browser session (each holds the stems' audio)
UPLOAD_TYPES = sorted({e.lstrip(".") for e in AUDIO_EXTENSIONS})
MODES = {"all": "Four stems", "vocals": "Karaoke: vocals + accompaniment"}
MODE_NOTES = {"all": "Drums, bass, other and vocals.", "vocals": "Vocals, and everything else as one track."}

log = logging.getLogger("musicsep.app")

st.set_page_config(page_title="musicsep · split a song into stems", page_icon=":material/graphic_eq:", layout="centered")


@st.cache_resource(show_spinner="Loading the separation model…")
def load_separator(method: str) -> Separator:
    """One separator per method per server, shared by every browser session, warmed up so that
    the first song is not charged for one-off start-up work."""
    separator = Separator(method)
    separator.warm_up()
    return separator


@st.cache_resource
def separation_queue() -> webapp.SeparationQueue:
    """One queue per server: separations one at a time, and a stuck one given up (see SeparationQueue)."""
    return webapp.SeparationQueue(webapp.stall_seconds())


def check_method(method: str):
    """The method's separator (loaded once per server), or None after a warning that it is unavailable."""
    try:
        return load_separator(method)
    except UserError as exc:
        message = f"{webapp.method_label(method)} is not available on this server: {exc}"
    except Exception:
        log.exception("loading method %s failed", method)
        message = f"{webapp.method_label(method)} could not be loaded on this server (see its log)"
    st.warning(webapp.plain(message) + ". Please choose another method.", icon=":material/warning:")
    return None


def run_separation(data: bytes, file_name: str, separator, method: str, two_stems: str | None,
                   limit_minutes: float) -> webapp.SeparationResult | str:
    """Separate with a progress bar; on any failure, a friendly message instead of a result."""
    bar = st.progress(0.0, text="Starting…")
    try:
        return separation_queue().run(
            lambda progress: webapp.separate_upload(data, file_name, separator, two_stems,
                                                    progress=progress, limit_minutes=limit_minutes),
            show=lambda f, text: bar.progress(min(1.0, f), text=text))
    except UserError as exc:
        return str(exc)
    except MemoryError:
        return "The server ran out of memory on this song. Please try a shorter one."
    except Exception:  # never a stack trace on the page; the details go to the server's log
        log.exception("separation of %r with %s failed", file_name, method)
        return "Something went wrong while separating this file. Please try another file or method."
    finally:
        bar.empty()


def show_result(result: webapp.SeparationResult) -> None:
    st.success(f"Separated “{webapp.plain(result.file_name)}” in {result.total_seconds:.1f} s "
               f"with {webapp.method_label(result.method)}.", icon=":material/check_circle:")
    # A row that wraps two by two on a phone instead of stacking four tall metrics.
    row = st.container(horizontal=True, horizontal_alignment="distribute", gap="medium")
    row.metric("Duration", webapp.format_duration(result.duration), width="content")
    row.metric("Sample rate", f"{result.sample_rate / 1000:g} kHz", width="content")
    row.metric("Channels", {1: "mono", 2: "stereo"}.get(result.channels, str(result.channels)), width="content")
    row.metric("Time taken", f"{result.total_seconds:.1f} s", width="content",
               help=f"Reading, separating and preparing the stems. The separation itself took "
                    f"{result.seconds_taken:.1f} s: {result.realtime_factor:.0f}× faster than real time.")
    st.download_button(f"Download all {len(result.stems)} stems (.zip)", data=result.zip_bytes,
                       file_name=result.zip_name, mime="application/zip", type="primary",
                       icon=":material/folder_zip:", on_click="ignore", key="download-zip",
                       width="stretch")
    with st.expander("Input mixture", expanded=False):
        st.image(result.mixture_picture, width="stretch")
    for stem in result.stems:
        with st.container(border=True):
            head, button = st.columns([3, 2], vertical_alignment="center")
            head.markdown(f"#### {stem.label}")
            # A callable: the bytes are handed over on click, not stored a second time beside the player's.
            button.download_button(f"Download {stem.name}.wav", data=lambda wav=stem.wav: wav,
                                   file_name=result.stem_file_name(stem), mime="audio/wav",
                                   icon=":material/download:", on_click="ignore",
                                   key=f"download-{stem.name}", width="stretch")
            st.audio(stem.wav, format="audio/wav")
            st.image(stem.picture, width="stretch")
    st.caption("Stems are 16-bit WAV at 44.1 kHz. The command line, `musicsep separate`, "
               "also writes 32-bit float WAV and FLAC.")


def main() -> None:
    st.title(":material/graphic_eq: musicsep")
    st.markdown("Split a song into **drums**, **bass**, **other** and **vocals** — or just vocals and "
                "accompaniment, for karaoke.")
    try:
        limit_minutes = webapp.max_minutes()
    except UserError as exc:
        st.error(f"This server is misconfigured: {exc}", icon=":material/error:")
        st.stop()
    upload_mb = st.get_option("server.maxUploadSize")
    limits = (f"Up to {upload_mb} MB and {webapp.format_minutes(limit_minutes)} per song. "
              "WAV, MP3, FLAC, OGG, M4A, or a video (MP4) for its audio track.")

    uploaded = st.file_uploader("Drop a song or a video here", type=UPLOAD_TYPES, key="upload",
                                help=limits)
    st.caption(limits + " Nothing is kept on the server's disk: your song and its stems stay in memory "
               "for this browser session only.")

    choices = webapp.method_choices()
    left, right = st.columns([3, 2])
    method = left.radio("Method", choices, index=webapp.default_method_index(choices),
                        format_func=webapp.method_label, captions=[webapp.method_note(m) for m in choices],
                        key="method")
    mode = right.radio("Stems", list(MODES), format_func=MODES.get, key="mode",
                       captions=[MODE_NOTES[m] for m in MODES])
    two_stems = "vocals" if mode == "vocals" else None
    separator = check_method(method)  # loads the model on the first visit, so the first song waits less

    if uploaded is None:
        st.info("Drop a file above, pick a method, then press **Separate**.", icon=":material/music_note:")
        return

    data = uploaded.getvalue()
    hashes = st.session_state.setdefault("upload_hashes", {})
    if uploaded.file_id not in hashes:  # hash a (possibly large) upload once, not on every rerun
        hashes.clear()
        hashes[uploaded.file_id] = webapp.content_hash(data)
    key = webapp.result_key(hashes[uploaded.file_id], method, two_stems)
    # Outcomes (a result, or the message of a failure) survive reruns: a download click, a widget
    # change and back, or a late uploader event never repeat a separation or hide its error.
    outcomes: dict = st.session_state.setdefault("outcomes", {})
    outcome = outcomes.get(key)
    if isinstance(outcome, webapp.SeparationResult):
        show_result(outcome)
        return
    slot = st.empty()
    if slot.button("Separate", type="primary", icon=":material/graphic_eq:", key="separate",
                   disabled=separator is None):
        slot.empty()  # no second click while it works
        outcomes[key] = run_separation(data, uploaded.name, separator, method, two_stems, limit_minutes)
        while len(outcomes) > RESULTS_KEPT:  # forget the oldest
            outcomes.pop(next(iter(outcomes)))
        st.rerun()  # draw the page from the stored outcome, exactly as any later rerun will
    if isinstance(outcome, str):
        st.error(webapp.plain(outcome), icon=":material/error:")


main()
