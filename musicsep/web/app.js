// The page: load the model once, then decode, separate and play songs without sending them anywhere.
import * as ort from "./ort/ort.wasm.min.mjs";
import { chunkPlan, encodeWav, separateChunk, separateInChunks, toStereo } from "./dsp.js";

const SAMPLE_RATE = 44100;
const STEM_LABELS = { drums: "Drums", bass: "Bass", other: "Other", vocals: "Vocals", accompaniment: "Accompaniment" };
const $ = (id) => document.getElementById(id);

const state = { session: null, settings: null, busy: false, urls: [] };

function say(text) {
  $("status").textContent = text;
}

function showError(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

function setProgress(fraction, text) {
  const bar = $("progress");
  bar.hidden = fraction === null;
  if (fraction !== null) bar.value = fraction;
  if (text) say(text);
}

async function loadModel() {
  const settings = await (await fetch("model.json")).json();
  // WebAssembly threads need a cross-origin isolated page (musicsep web sends the headers).
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(navigator.hardwareConcurrency || 1, 4) : 1;
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  const session = await ort.InferenceSession.create("model.onnx", { executionProviders: ["wasm"] });
  return { session, settings };
}

/** The file's audio at 44.1 kHz: the browser's decoder, resampled by an OfflineAudioContext at 44.1 kHz. */
async function decode(file) {
  const bytes = await file.arrayBuffer();
  const context = new OfflineAudioContext({ numberOfChannels: 1, length: 1, sampleRate: SAMPLE_RATE });
  const buffer = await context.decodeAudioData(bytes); // resampled to the context's rate
  return Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
}

function clearResults() {
  for (const url of state.urls) URL.revokeObjectURL(url);
  state.urls = [];
  $("stems").replaceChildren();
  $("karaoke").replaceChildren();
  $("results").hidden = true;
}

function wavUrl(channels) {
  const url = URL.createObjectURL(new Blob([encodeWav(channels, SAMPLE_RATE)], { type: "audio/wav" }));
  state.urls.push(url);
  return url;
}

function stemEntry(name, url, base) {
  const entry = document.createElement("div");
  entry.className = "stem";
  entry.dataset.stem = name;
  const title = document.createElement("h3");
  title.textContent = STEM_LABELS[name] || name;
  const audio = document.createElement("audio");
  audio.controls = true;
  audio.preload = "metadata";
  audio.src = url;
  const link = document.createElement("a");
  link.href = url;
  link.download = `${base} - ${name}.wav`;
  link.textContent = `Download ${name}.wav`;
  entry.append(title, audio, link);
  return entry;
}

function showMode() {
  const karaoke = $("mode-karaoke").checked;
  $("stems").hidden = karaoke;
  $("karaoke").hidden = !karaoke;
}

async function separateFile(file) {
  if (state.busy || !state.session) return;
  state.busy = true;
  $("file").disabled = true;
  showError("");
  clearResults();
  const started = performance.now();
  try {
    setProgress(0, `Decoding “${file.name}”…`);
    let channels;
    try {
      channels = await decode(file);
    } catch (error) {
      throw new Error(`“${file.name}” could not be read as audio. Try a WAV, MP3, FLAC, OGG or M4A file, or an MP4 video.`);
    }
    if (!channels.length || channels[0].length === 0) throw new Error(`“${file.name}” holds no sound.`);
    const stereo = toStereo(channels);
    const { settings, session } = state;
    const seconds = stereo[0].length / SAMPLE_RATE;
    const runNetwork = async (magnitude, shape) => {
      const result = await session.run({ magnitude: new ort.Tensor("float32", magnitude, shape) });
      return result.masks.data;
    };
    const total = chunkPlan(stereo[0].length, SAMPLE_RATE, settings.chunk_seconds, settings.overlap_seconds).plan.length;
    const stems = await separateInChunks(stereo, settings.sources.length, SAMPLE_RATE, settings.chunk_seconds,
      settings.overlap_seconds, async (piece, index) => {
        const report = (fraction) => setProgress((index + fraction) / total,
          `Separating “${file.name}”: ${Math.round((100 * (index + fraction)) / total)} %`);
        report(0);
        await new Promise((resolve) => setTimeout(resolve, 0)); // let the progress bar paint
        return separateChunk(piece, settings, runNetwork, report);
      });
    const base = file.name.replace(/\.[^.]*$/, "") || "song";
    // Karaoke: the vocals and everything else (the sum of the other stems, as --two-stems vocals).
    const accompaniment = stereo.map((x) => new Float32Array(x.length));
    settings.sources.forEach((name, s) => {
      if (name !== "vocals") accompaniment.forEach((out, c) => { for (let i = 0; i < out.length; i++) out[i] += stems[s][c][i]; });
    });
    // Each stem becomes a WAV file and its samples are let go: a long song needs its memory back.
    const urls = {};
    settings.sources.forEach((name, s) => { urls[name] = wavUrl(stems[s]); stems[s] = null; });
    urls.accompaniment = wavUrl(accompaniment);
    $("stems").append(...settings.sources.map((name) => stemEntry(name, urls[name], base)));
    $("karaoke").append(stemEntry("vocals", urls.vocals, base), stemEntry("accompaniment", urls.accompaniment, base));
    showMode();
    $("results").hidden = false;
    const elapsed = (performance.now() - started) / 1000;
    $("result-title").textContent = `Separated “${file.name}”`;
    document.body.dataset.speed = (seconds / elapsed).toFixed(2);
    setProgress(null, `Separated “${file.name}” (${seconds.toFixed(1)} s of audio) in ${elapsed.toFixed(1)} s, ` +
      `here in your browser.`);
  } catch (error) {
    setProgress(null, "Ready. Drop a song here or choose a file.");
    showError(error instanceof RangeError
      ? `“${file.name}” is too long for this browser tab's memory; try a shorter excerpt, or \`musicsep separate\`.`
      : error.message || String(error));
  } finally {
    state.busy = false;
    $("file").disabled = false;
    $("file").value = "";
  }
}

function setUpInput() {
  const zone = $("drop");
  $("file").addEventListener("change", (event) => {
    if (event.target.files.length) separateFile(event.target.files[0]);
  });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) separateFile(event.dataTransfer.files[0]);
  });
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", showMode);
}

async function main() {
  setUpInput();
  say("Loading the model…");
  try {
    Object.assign(state, await loadModel());
  } catch (error) {
    say("The model could not be loaded.");
    showError(`The separation model did not load (${error.message || error}). Is \`musicsep web\` still running?`);
    return;
  }
  const threads = ort.env.wasm.numThreads;
  $("engine").textContent = `onnxruntime-web, WebAssembly, ${threads} thread${threads === 1 ? "" : "s"}; ` +
    `model ${state.settings.checkpoint_sha256.slice(0, 12)}, musicsep ${state.settings.musicsep_version}` +
    (state.settings.wiener_iterations ? `; the Wiener filter of the Python separator is not applied here` : "");
  $("file").disabled = false;
  document.body.dataset.threads = String(threads);
  document.body.dataset.ready = "true";
  say("Ready. Drop a song here or choose a file.");
}

main();
