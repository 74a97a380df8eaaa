"""The page's JavaScript signal path (musicsep/web/dsp.js), run by node, against the Python code it
mirrors: STFT, inverse STFT, chunking with cross-fades, the network's input level, the stereo
down-mix and the WAV writer."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicsep.audio import to_stereo
from musicsep.inference import separate
from musicsep.separators.base import BaseSeparator
from musicsep.separators.unet import GAIN_RANGE, LEVEL_RANGE, input_gain
from musicsep.spectral import istft, stft

DSP = Path(__file__).resolve().parents[1] / "musicsep" / "web" / "dsp.js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="needs node")

# Reads float32 arrays from files, calls dsp.js, writes float32 arrays back; driven by a JSON job.
RUNNER = """
import { readFileSync, writeFileSync } from "node:fs";
import * as dsp from "DSP_URL";
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const load = (path, n, count) => {
  const bytes = readFileSync(path); // may be a view into a shared pool: copy its own range
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return Array.from({ length: count }, (_, i) => all.slice(i * n, (i + 1) * n));
};
const save = (path, arrays) => writeFileSync(path, Buffer.concat(arrays.map((a) => Buffer.from(a.buffer))));
const x = load(job.input, job.length, job.channels);
if (job.op === "stft") {
  const s = dsp.stft(x, job.n_fft, job.hop);
  save(job.output, [s.re, s.im]);
} else if (job.op === "istft") {
  const [re, im] = load(job.input, job.bins * job.frames, 2);
  save(job.output, [dsp.istftChannel(re, im, job.bins, job.frames, job.n_fft, job.hop, job.length)]);
} else if (job.op === "chunks") {
  // The fake separator of the Python side: source s is x * (s + 1) / 10 plus the chunk's mean.
  const fake = async (piece) => [0, 1, 2, 3].map((s) => piece.map((ch) => {
    const mean = ch.reduce((a, b) => a + b, 0) / ch.length;
    return ch.map((v) => v * (s + 1) / 10 + mean);
  }));
  const out = await dsp.separateInChunks(x, 4, 44100, job.chunk, job.overlap, fake);
  save(job.output, out.flat());
} else if (job.op === "stereo") {
  save(job.output, dsp.toStereo(x));
} else if (job.op === "gain") {
  save(job.output, [new Float32Array([dsp.inputGain(x, job.input_level)])]);
} else if (job.op === "wav") {
  writeFileSync(job.output, Buffer.from(dsp.encodeWav(x, 44100)));
}
"""


def run_dsp(tmp_path: Path, op: str, arrays: np.ndarray, **job) -> Path:
    """``arrays`` (count, n) float32 through dsp.js's ``op``; returns the output file."""
    script = tmp_path / "runner.mjs"
    script.write_text(RUNNER.replace("DSP_URL", DSP.as_uri()))
    arrays = np.ascontiguousarray(arrays, dtype=np.float32)
    arrays.tofile(tmp_path / "in.f32")
    output = tmp_path / f"{op}.out"
    spec = {"op": op, "input": str(tmp_path / "in.f32"), "output": str(output), "channels": arrays.shape[0],
            "length": arrays.shape[-1], **job}
    (tmp_path / "job.json").write_text(json.dumps(spec))
    result = subprocess.run([NODE, str(script), str(tmp_path / "job.json")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return output


@pytest.mark.parametrize("length", [1500, 2049, 44100 + 17])  # zero padding (<= n_fft / 2), then reflection
def test_stft_and_istft_match_python(tmp_path, length):
    audio = np.random.default_rng(length).standard_normal((length, 2)).astype(np.float32)
    expected = stft(audio, 4096, 1024)
    got = np.fromfile(run_dsp(tmp_path, "stft", audio.T, n_fft=4096, hop=1024), np.float32)
    got = got.reshape(2, *expected.shape)
    got = got[0] + 1j * got[1]
    assert np.abs(got - expected).max() < 1e-5 * np.abs(expected).max()

    # A masked spectrum (as the separator makes) back to audio.
    mask = np.random.default_rng(1).uniform(size=expected.shape[1:]).astype(np.float32)
    spec = expected[0] * mask
    bins, frames = spec.shape
    out = run_dsp(tmp_path, "istft", np.stack([spec.real.ravel(), spec.imag.ravel()]), bins=bins, frames=frames,
                  n_fft=4096, hop=1024, length=length)
    reference = istft(spec[None], length, 4096, 1024)[:, 0]
    assert np.abs(np.fromfile(out, np.float32) - reference).max() < 1e-5 * np.abs(reference).max()


class FakeSeparator(BaseSeparator):
    """Source s is ``x * (s + 1) / 10`` plus the chunk's mean: the output depends on the chunk."""

    sources = ("a", "b", "c", "d")

    def separate(self, mixture, sample_rate):
        return {s: (mixture * (i + 1) / 10 + mixture.mean(axis=0)).astype(np.float32) for i, s in enumerate(self.sources)}


@pytest.mark.parametrize("length", [1000, 2205, 9000])  # one chunk, exactly one, several
def test_chunks_and_cross_fades_match_python(tmp_path, length):
    audio = np.random.default_rng(length).standard_normal((length, 2)).astype(np.float32)
    audio[3000:6000] = 0  # a chunk of digital silence is skipped on both sides
    chunk, overlap = 0.05, 0.01  # 2205 and 441 samples
    expected = separate(FakeSeparator(), audio, 44100, chunk, overlap)
    got = np.fromfile(run_dsp(tmp_path, "chunks", audio.T, chunk=chunk, overlap=overlap), np.float32)
    got = got.reshape(4, 2, length)
    for i, s in enumerate(FakeSeparator.sources):
        np.testing.assert_allclose(got[i].T, expected[s], atol=2e-6)


@pytest.mark.parametrize("channels", [1, 3, 6])
def test_stereo_down_mix_matches_python(tmp_path, channels):
    audio = np.random.default_rng(channels).standard_normal((500, channels)).astype(np.float32)
    got = np.fromfile(run_dsp(tmp_path, "stereo", audio.T), np.float32).reshape(2, 500).T
    np.testing.assert_allclose(got, to_stereo(audio), atol=1e-6)


def test_wav_writer_round_trip(tmp_path):
    audio = np.random.default_rng(0).uniform(-1.5, 1.5, (1234, 2)).astype(np.float32)  # beyond full scale too
    data, rate = sf.read(run_dsp(tmp_path, "wav", audio.T), dtype="float32")
    info = sf.info(tmp_path / "wav.out")
    assert rate == 44100 and info.subtype == "FLOAT" and info.format == "WAV"
    np.testing.assert_array_equal(data, audio)


@pytest.mark.parametrize("level", [0.0, 1e-6, 0.03, 0.12, 0.5, 5.0])  # silence, clipped, raised, as is, lowered, clipped
def test_the_input_gain_matches_python(tmp_path, level):
    x = np.random.default_rng(1).standard_normal((2, 30000)).astype(np.float32) * np.float32(level)
    out = run_dsp(tmp_path, "gain", x, input_level={"level_range": list(LEVEL_RANGE), "gain_range": list(GAIN_RANGE)})
    assert np.fromfile(out, np.float32)[0] == pytest.approx(input_gain(x.T), rel=1e-5)
