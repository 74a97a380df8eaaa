// The U-Net's signal path around the network, as musicsep runs it in Python
// (musicsep/spectral.py, musicsep/separators/unet.py, musicsep/inference.py):
// centred STFT with a periodic Hann window, masks on the mixture STFT (bins above max_bin take each
// frame's mean mask of the top extend_bins modelled bins), inverse STFT with window-sum
// normalisation, the last source as the mixture minus the others, and chunks of chunk_seconds that
// overlap by overlap_seconds with a linear cross-fade. No browser API here: node runs it too.

/** Iterative radix-2 complex FFT of a fixed power-of-two size, in place on Float64Arrays. */
class ComplexFFT {
  constructor(size) {
    if (size < 2 || (size & (size - 1)) !== 0) throw new Error(`FFT size must be a power of two: ${size}`);
    this.size = size;
    this.reverse = new Uint32Array(size);
    const bits = Math.log2(size);
    for (let i = 0; i < size; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.reverse[i] = r;
    }
    this.cos = new Float64Array(size / 2);
    this.sin = new Float64Array(size / 2);
    for (let i = 0; i < size / 2; i++) {
      this.cos[i] = Math.cos((2 * Math.PI * i) / size);
      this.sin[i] = Math.sin((2 * Math.PI * i) / size);
    }
  }

  /** Forward transform (sign -1); ``inverse`` uses sign +1 and no scaling. */
  transform(re, im, inverse = false) {
    const n = this.size;
    for (let i = 0; i < n; i++) {
      const j = this.reverse[i];
      if (j > i) {
        let t = re[i]; re[i] = re[j]; re[j] = t;
        t = im[i]; im[i] = im[j]; im[j] = t;
      }
    }
    const sign = inverse ? 1 : -1;
    for (let len = 2; len <= n; len <<= 1) {
      const half = len >> 1;
      const step = n / len;
      for (let start = 0; start < n; start += len) {
        for (let k = 0; k < half; k++) {
          const wr = this.cos[k * step];
          const wi = sign * this.sin[k * step];
          const a = start + k;
          const b = a + half;
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr; im[b] = im[a] - xi;
          re[a] += xr; im[a] += xi;
        }
      }
    }
  }
}

/** Real FFT of size n through a complex FFT of size n / 2 (even samples real, odd imaginary). */
export class RealFFT {
  constructor(n) {
    this.n = n;
    this.half = n / 2;
    this.fft = new ComplexFFT(this.half);
    this.zr = new Float64Array(this.half);
    this.zi = new Float64Array(this.half);
    this.wr = new Float64Array(this.half + 1);
    this.wi = new Float64Array(this.half + 1);
    for (let k = 0; k <= this.half; k++) {
      this.wr[k] = Math.cos((2 * Math.PI * k) / n);
      this.wi[k] = -Math.sin((2 * Math.PI * k) / n);
    }
  }

  /** ``input`` (n reals) -> ``outRe``, ``outIm`` (n / 2 + 1 bins), like numpy.fft.rfft. */
  forward(input, outRe, outIm) {
    const { half, zr, zi, wr, wi } = this;
    for (let k = 0; k < half; k++) { zr[k] = input[2 * k]; zi[k] = input[2 * k + 1]; }
    this.fft.transform(zr, zi);
    for (let k = 0; k <= half; k++) {
      const a = k % half;
      const b = (half - k) % half;
      const er = 0.5 * (zr[a] + zr[b]), ei = 0.5 * (zi[a] - zi[b]); // (Z[k] + conj Z[n/2-k]) / 2
      const or = 0.5 * (zi[a] + zi[b]), oi = -0.5 * (zr[a] - zr[b]); // (Z[k] - conj Z[n/2-k]) / 2i
      outRe[k] = er + wr[k] * or - wi[k] * oi;
      outIm[k] = ei + wr[k] * oi + wi[k] * or;
    }
  }

  /** ``re``, ``im`` (n / 2 + 1 bins) -> ``output`` (n reals), like numpy.fft.irfft (1 / n scaling;
   * the imaginary parts of the DC and Nyquist bins are ignored). */
  inverse(re, im, output) {
    const { half, zr, zi, wr, wi } = this;
    for (let k = 0; k < half; k++) {
      const j = half - k;
      const ar = re[k], ai = k === 0 ? 0 : im[k];
      const br = re[j], bi = j === half ? 0 : -im[j]; // conj X[n/2-k]
      const er = 0.5 * (ar + br), ei = 0.5 * (ai + bi);
      // O = (X[k] - conj X[n/2-k]) / 2 * e^{+2 pi i k / n}
      const dr = 0.5 * (ar - br), di = 0.5 * (ai - bi);
      const or = dr * wr[k] + di * wi[k], oi = di * wr[k] - dr * wi[k];
      zr[k] = er - oi; zi[k] = ei + or; // Z = E + i O
    }
    this.fft.transform(zr, zi, true);
    const scale = 1 / half;
    for (let k = 0; k < half; k++) { output[2 * k] = zr[k] * scale; output[2 * k + 1] = zi[k] * scale; }
  }
}

/** torch.hann_window(n) (periodic). */
export function hannWindow(n) {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

export function frameCount(length, hop) {
  return 1 + Math.floor(length / hop);
}

/**
 * Centred STFT of channels (Float32Arrays of one length), as musicsep.spectral.stft:
 * reflect padding of n_fft / 2 (zeros when the signal is at most n_fft / 2 long).
 * Returns {re, im} Float32Arrays laid out [channel][bin][frame], with bins and frames.
 */
export function stft(channels, nFft, hop) {
  const length = channels[0].length;
  const bins = nFft / 2 + 1;
  const frames = frameCount(length, hop);
  const pad = nFft / 2;
  const reflect = length > pad;
  const window = hannWindow(nFft);
  const rfft = new RealFFT(nFft);
  const frame = new Float64Array(nFft);
  const fr = new Float64Array(bins), fi = new Float64Array(bins);
  const re = new Float32Array(channels.length * bins * frames);
  const im = new Float32Array(channels.length * bins * frames);
  channels.forEach((x, c) => {
    for (let t = 0; t < frames; t++) {
      for (let i = 0; i < nFft; i++) {
        let p = t * hop + i - pad; // index into x of padded sample t * hop + i
        if (p < 0 || p >= length) {
          if (!reflect) { frame[i] = 0; continue; }
          p = p < 0 ? -p : 2 * (length - 1) - p;
        }
        frame[i] = x[p] * window[i];
      }
      rfft.forward(frame, fr, fi);
      const base = c * bins * frames + t;
      for (let f = 0; f < bins; f++) { re[base + f * frames] = fr[f]; im[base + f * frames] = fi[f]; }
    }
  });
  return { re, im, bins, frames };
}

/**
 * Inverse of stft for one channel: spectrum Float32Arrays [bin][frame] -> Float32Array(length),
 * as musicsep.spectral.istft (window-sum normalisation, centre trimmed).
 */
export function istftChannel(re, im, bins, frames, nFft, hop, length) {
  const window = hannWindow(nFft);
  const rfft = new RealFFT(nFft);
  const span = (frames - 1) * hop + nFft;
  const sum = new Float64Array(span);
  const envelope = new Float64Array(span);
  const fr = new Float64Array(bins), fi = new Float64Array(bins);
  const frame = new Float64Array(nFft);
  for (let t = 0; t < frames; t++) {
    for (let f = 0; f < bins; f++) { fr[f] = re[f * frames + t]; fi[f] = im[f * frames + t]; }
    rfft.inverse(fr, fi, frame);
    const offset = t * hop;
    for (let i = 0; i < nFft; i++) {
      sum[offset + i] += frame[i] * window[i];
      envelope[offset + i] += window[i] * window[i];
    }
  }
  const out = new Float32Array(length);
  const start = nFft / 2;
  const stop = Math.min(start + length, span);
  for (let i = start; i < stop; i++) out[i - start] = sum[i] / Math.max(envelope[i], 1e-11);
  return out;
}

/**
 * The gain that brings a chunk's RMS (over every sample of every channel) into the network's training
 * range of levels (1 inside it), clipped to ``gain_range``: ``input_gain`` of musicsep/separators/unet.py.
 */
export function inputGain(channels, { level_range: [lowest, highest], gain_range: [low, high] }) {
  let sum = 0, count = 0;
  for (const ch of channels) {
    for (let i = 0; i < ch.length; i++) sum += ch[i] * ch[i];
    count += ch.length;
  }
  const rms = count ? Math.sqrt(sum / count) : 0;
  const target = Math.min(Math.max(rms, lowest), highest);
  return Math.min(high, Math.max(low, target / Math.max(rms, 1e-12)));
}

/**
 * One chunk through the U-Net, as UNetSeparator.separate with raw masks (no Wiener filter).
 * ``channels``: two Float32Arrays; ``runNetwork(magnitude, [1, 2, maxBin, frames])`` resolves to the
 * masks (Float32Array, [1, sources, 2, maxBin, frames]). ``step(fraction)`` reports progress within
 * the chunk. Returns [source][channel] Float32Arrays.
 */
export async function separateChunk(channels, settings, runNetwork, step = () => {}) {
  const { n_fft: nFft, hop_length: hop, max_bin: maxBin } = settings.config;
  const extend = settings.stft.extend_bins;
  const nSources = settings.sources.length;
  const nChannels = channels.length;
  const length = channels[0].length;
  const spec = stft(channels, nFft, hop);
  const { bins, frames } = spec;
  const magnitude = new Float32Array(nChannels * maxBin * frames);
  const gain = inputGain(channels, settings.input_level);  // the masks depend on the input level
  for (let c = 0; c < nChannels; c++) {
    for (let f = 0; f < maxBin; f++) {
      const from = (c * bins + f) * frames, to = (c * maxBin + f) * frames;
      for (let t = 0; t < frames; t++) magnitude[to + t] = gain * Math.hypot(spec.re[from + t], spec.im[from + t]);
    }
  }
  step(0.1);
  const masks = await runNetwork(magnitude, [1, nChannels, maxBin, frames]);
  step(0.8);
  const stems = [];
  const re = new Float32Array(bins * frames), im = new Float32Array(bins * frames);
  const top = new Float64Array(frames);
  for (let s = 0; s < nSources - 1; s++) {
    const stem = [];
    for (let c = 0; c < nChannels; c++) {
      const maskBase = (s * nChannels + c) * maxBin * frames;
      const specBase = c * bins * frames;
      top.fill(0);
      for (let f = maxBin - extend; f < maxBin; f++) {
        for (let t = 0; t < frames; t++) top[t] += masks[maskBase + f * frames + t];
      }
      for (let t = 0; t < frames; t++) top[t] /= extend;
      for (let f = 0; f < bins; f++) {
        for (let t = 0; t < frames; t++) {
          const m = f < maxBin ? masks[maskBase + f * frames + t] : top[t];
          const i = f * frames + t;
          re[i] = m * spec.re[specBase + i];
          im[i] = m * spec.im[specBase + i];
        }
      }
      stem.push(istftChannel(re, im, bins, frames, nFft, hop, length));
    }
    stems.push(stem);
  }
  // The masks sum to one, so the last source is the mixture minus the others (as in Python).
  const last = channels.map((x, c) => {
    const out = Float32Array.from(x);
    for (const stem of stems) for (let i = 0; i < length; i++) out[i] -= stem[c][i];
    return out;
  });
  stems.push(last);
  step(1);
  return stems;
}

/** Where the chunks of musicsep.inference.separate_stream start: [{start, end}] over ``length``. */
export function chunkPlan(length, sampleRate, chunkSeconds, overlapSeconds) {
  const chunk = Math.max(1, Math.round(chunkSeconds * sampleRate));
  const overlap = Math.min(Math.round(overlapSeconds * sampleRate), Math.floor(chunk / 2));
  const plan = [];
  for (let start = 0; ; start += chunk - overlap) {
    if (length - start <= chunk) { plan.push({ start, end: length }); break; }
    plan.push({ start, end: start + chunk });
  }
  return { plan, overlap };
}

/**
 * The whole song in overlapping chunks with a linear cross-fade (the fade weights of each sample
 * sum to one). ``separate(channels, chunkIndex)`` resolves to [source][channel] Float32Arrays of
 * the chunk's length; a chunk of digital silence gives silence without calling it.
 */
export async function separateInChunks(channels, nSources, sampleRate, chunkSeconds, overlapSeconds, separate) {
  const length = channels[0].length;
  const { plan, overlap } = chunkPlan(length, sampleRate, chunkSeconds, overlapSeconds);
  const out = Array.from({ length: nSources }, () => channels.map(() => new Float32Array(length)));
  const ramp = new Float32Array(overlap);
  for (let i = 0; i < overlap; i++) ramp[i] = (i + 0.5) / overlap;
  for (let index = 0; index < plan.length; index++) {
    const { start, end } = plan[index];
    const piece = channels.map((x) => x.subarray(start, end));
    if (!piece.some((x) => x.some((v) => v !== 0))) continue; // silence in, silence out
    const stems = await separate(piece, index);
    const last = index === plan.length - 1;
    for (let s = 0; s < nSources; s++) {
      for (let c = 0; c < channels.length; c++) {
        const src = stems[s][c], dst = out[s][c];
        for (let i = 0; i < src.length; i++) {
          let w = 1;
          if (index > 0 && i < overlap) w = ramp[i];
          else if (!last && i >= src.length - overlap) w = ramp[src.length - 1 - i];
          dst[start + i] += src[i] * w;
        }
      }
    }
  }
  return out;
}

/** Any channel count -> two, as musicsep.audio.to_stereo: mono doubled; 5.1 and 7.1 (L R C LFE, then
 * the surround pairs, the order Web Audio decodes to) with the ITU-R BS.775 gains, the LFE dropped;
 * any other count: the mean of the even channels on the left and of the odd ones on the right. */
const ITU_SURROUND = 0.7071;

export function toStereo(channels) {
  if (channels.length === 2) return channels;
  if (channels.length === 1) return [channels[0], Float32Array.from(channels[0])];
  const length = channels[0].length;
  if (channels.length === 6 || channels.length === 8) {
    return [0, 1].map((side) => {
      const out = new Float32Array(length);
      const surround = channels.filter((_, i) => i >= 4 && i % 2 === side);
      for (let i = 0; i < length; i++) {
        let v = channels[side][i] + ITU_SURROUND * channels[2][i];
        for (const x of surround) v += ITU_SURROUND * x[i];
        out[i] = v;
      }
      return out;
    });
  }
  return [0, 1].map((side) => {
    const picked = channels.filter((_, i) => i % 2 === side);
    const out = new Float32Array(length);
    for (const x of picked) for (let i = 0; i < length; i++) out[i] += x[i];
    for (let i = 0; i < length; i++) out[i] /= picked.length;
    return out;
  });
}

/** Stereo Float32Arrays -> a 32-bit float WAV file (what `musicsep separate` writes by default). */
export function encodeWav(channels, sampleRate) {
  const length = channels[0].length;
  const nChannels = channels.length;
  const dataBytes = length * nChannels * 4;
  const buffer = new ArrayBuffer(44 + dataBytes);
  const view = new DataView(buffer);
  const text = (offset, s) => { for (let i = 0; i < s.length; i++) view.setUint8(offset + i, s.charCodeAt(i)); };
  text(0, "RIFF"); view.setUint32(4, 36 + dataBytes, true); text(8, "WAVE");
  text(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 3, true); // IEEE float
  view.setUint16(22, nChannels, true); view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * nChannels * 4, true); view.setUint16(32, nChannels * 4, true);
  view.setUint16(34, 32, true);
  text(36, "data"); view.setUint32(40, dataBytes, true);
  const samples = new Float32Array(buffer, 44);
  for (let i = 0; i < length; i++) for (let c = 0; c < nChannels; c++) samples[i * nChannels + c] = channels[c][i];
  return buffer;
}
