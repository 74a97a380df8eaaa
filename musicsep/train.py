"""Training the Stage 4 U-Net (:mod:`musicsep.separators.unet`).

Data: the ``train`` subset of a MUSDB18 / MUSDB18-HQ root, or a synthetic folder in the same layout
(``--synthetic DIR [DIR ...]`` = ``--root DIR --is-wav``, several folders pooled; wav stems are read
with soundfile, stems files through the ``musdb`` package), held in memory as float16
``(sources, samples, channels)`` arrays (half the memory of float32; its 11-bit mantissa is far
below what the loss can see). With ``--cache DIR`` the
arrays are written once to ``DIR`` as ``.npy`` files and memory-mapped instead: the number of songs is
then bound by disk, not memory (the OS keeps in its page cache what fits), and later runs on the same
songs load in seconds. Validation tracks are held out of that
same training folder: MUSDB18's official validation list when the root is MUSDB18, otherwise a
fixed ``--val-fraction`` of the tracks picked by a hash of their names -- or, with ``--valid DIR [DIR ...]``,
every song of each ``DIR/valid`` (a synthetic ``valid`` split draws held-out instruments and voices as
the test split does, so it measures how the model carries over to timbres it never heard, on songs
that are not test songs), and then every training track is trained on. Test data (MUSDB18 ``test``,
the excerpt inside ``stempeg``, ``data/synth/test``) is never read here. ``--records DIR [DIR ...]``
adds songs of :mod:`musicsep.data.records` (a synthetic voice over a real instrumental record): a
share of the batches (``--records-proba``) is drawn from them, and since only their vocals and
accompaniment are known, the loss compares the vocals and the sum of drums, bass and other.

Each step draws random excerpts (``--seq-seconds`` plus the slack that :class:`Repitch` and
:class:`Shift` consume) and applies the augmentations of :mod:`musicsep.data.augment` (repitch,
shift, channel swap, sign flip, with ``--effects-proba`` drive, chorus, reverb and stereo width per
stem, random EQ, gain, remix across songs), which keep mixture == sum of stems; then, with
``--codec-proba``, :class:`LossyCodec` damages some mixtures (not their stems) the way mp3 and AAC
coding does.

Loss, on magnitude spectrograms up to the model's ``max_bin``, per example::

    mse = mean((|S| - M * |X|)^2) / mean(|X|^2)        (normalised by the mixture's power, so loud
                                                          and quiet excerpts weigh alike)
    sc  = ||  |S| - M * |X|  ||_F / || |S| ||_F          (spectral convergence, all four sources)
    loss = mse_weight * mse + sc_weight * sc - sdr_weight * sdr

where ``sdr`` (``--sdr-weight``, off by default) is the mean time-domain SDR in dB of the masked
complex mixture after the inverse STFT (:func:`time_sdr`): the mixture's phase is what the
separator ships, so this term scores exactly what a user hears.

With ``--teacher MODEL [MODEL ...]`` (distillation) ``|S|`` is the blend
``(1 - w) |S| + w * Mt * |X|`` of the true stems and the teachers' mean masks ``Mt`` on the same
mixture (``w`` = ``--teacher-weight``): what other trained networks find, beside the truth.

An "epoch" is ``--samples-per-track`` excerpts per training track. After each epoch the model is
scored on the validation excerpts with a quick global SDR, ``10 log10(sum ref^2 / sum (ref-est)^2)``
per source, averaged over sources and tracks; the best model is written to ``--out`` (and copied
into the run folder), and ``RUN/last.pth`` keeps everything needed to resume (``--resume``).
``--minutes`` caps the total wall time (over resumes too); the learning rate follows a cosine
from ``--lr`` to ``lr/20`` over the epochs or the time budget, whichever ends first. At the end,
0, 1 and 2 Wiener iterations are compared on the validation tracks with the best model and the
best count is stored in the checkpoint as the separator's default.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.data.augment import LossyCodec, default_augmentation, input_length, mix
from musicsep.arguments import SEED, number
from musicsep.errors import UserError
from musicsep.memory import keep_freed_memory
from musicsep.separators.unet import (DEFAULT_CONFIG, UNet, UNetSeparator, build_model, count_parameters,
                                      load_model, read_checkpoint, save_checkpoint, training_record,
                                      write_checkpoint)


# ------------------------------------------------------------------------------------------ data

VOCALS = SOURCES.index("vocals")
NON_VOCAL = [j for j, s in enumerate(SOURCES) if s != "vocals"]


class TrackSet:
    """Tracks: ``names`` and ``audio`` (list of float16 ``(sources, samples, channels)``, in memory or
    memory-mapped, see :func:`held_stems`)."""

    def __init__(self, names: list[str], audio: list[np.ndarray]):
        self.names, self.audio = names, audio

    def __len__(self) -> int:
        return len(self.names)

    @property
    def seconds(self) -> float:
        return sum(a.shape[1] for a in self.audio) / SAMPLE_RATE

    def extend(self, more: "TrackSet", prefix: str = "") -> None:
        """Pool ``more``'s tracks into this set, their names prefixed (by their folder, when pooling several)."""
        self.names += [prefix + n for n in more.names]
        self.audio += more.audio


Song = tuple[str, list[Path], Callable[[], list[np.ndarray]]]  # name, the files it is read from, its stems


def listed_songs(root: Path, is_wav: bool) -> list[Song]:
    """The ``train`` songs of ``root``, sorted by name. Wav folders (MUSDB18-HQ, synthetic) are listed
    and read directly with soundfile (``musdb`` would run ffprobe on each, about 90 ms a song, and
    its reader is about 50x slower); stems files go through ``musdb`` / stempeg."""
    if is_wav:
        return [(song.name, [song / f"{s}.wav" for s in SOURCES], lambda song=song: list(read_song_stems(song).values()))
                for song in song_folders(root / "train")]
    import musdb

    try:
        db = musdb.DB(root=str(root), is_wav=False, subsets="train", download=False)
    except Exception as exc:  # noqa: BLE001 - musdb raises a variety of errors for bad roots
        raise UserError(f"cannot open {root} as a MUSDB18 folder: {exc}") from None
    for t in db.tracks:
        if t.rate != SAMPLE_RATE:
            raise UserError(f"track {t.name} is {t.rate} Hz; training expects {SAMPLE_RATE} Hz")
    return [(t.name, [Path(t.path)], lambda t=t: [t.sources[s].audio.astype(np.float32) for s in SOURCES])
            for t in sorted(db.tracks, key=lambda t: t.name)]


def official_validation_names() -> set[str]:
    """MUSDB18's official validation tracks (from the ``musdb`` package's setup; no track is read)."""
    import musdb

    return set(musdb.DB(root=".", subsets=[], download=False).setup.get("validation_tracks", []) or [])


def load_tracks(root: str | Path, is_wav: bool, val_fraction: float = 0.1,
                max_tracks: int | None = None, cache: Path | None = None) -> tuple[TrackSet, TrackSet]:
    """The ``train`` subset of ``root``, split into (training, validation) tracks."""
    root = Path(root)
    if not (root / "train").is_dir():
        raise UserError(f"no 'train' folder under {root} (expected the MUSDB18 / MUSDB18-HQ layout)")
    songs = listed_songs(root, is_wav)[:max_tracks]
    if len(songs) < 2 and val_fraction > 0:
        raise UserError(f"{root}/train holds {len(songs)} track(s); training needs at least 2 "
                        "(one is held out for validation)")
    names = [name for name, _, _ in songs]
    official = official_validation_names()
    if val_fraction <= 0:
        val_names: set[str] = set()
    elif official & set(names):
        val_names = official & set(names)
    else:  # a fixed, name-hashed fraction: the same tracks whatever order the folder lists them in
        n_val = max(1, int(round(val_fraction * len(songs))))
        by_hash = sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
        val_names = set(by_hash[:n_val])
    train, val = TrackSet([], []), TrackSet([], [])
    for name, files, read in songs:
        target = val if name in val_names else train
        target.names.append(name)
        target.audio.append(held_stems(files, read, cache))
    return train, val


def _stems_array(stems: list[np.ndarray]) -> np.ndarray:
    """Per-source ``(n, C)`` arrays -> the stored ``(sources, n, 2)`` float16 array."""
    out = np.stack(stems)
    if out.shape[2] == 1:
        out = np.repeat(out, 2, axis=2)
    return np.ascontiguousarray(out, dtype=np.float16)


def held_stems(files: Sequence[Path], read: Callable[[], list[np.ndarray]], cache: Path | None) -> np.ndarray:
    """The stored float16 array of one song whose stems ``read()`` returns (per-source ``(n, C)``).

    Without a ``cache`` folder it is held in memory. With one it is kept there as a ``.npy`` file
    named by a hash of ``files`` (paths, sizes, modification times: a changed song is read again) and
    memory-mapped read-only, so the data is bound by disk and page cache rather than memory.
    """
    if cache is None:
        return _stems_array(read())
    key = hashlib.sha1()
    for f in files:
        st = Path(f).stat()
        key.update(f"{Path(f).resolve()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    path = Path(cache) / f"{key.hexdigest()}.npy"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            with open(part, "wb") as fh:  # np.save on a path would append ".npy" to the temporary name
                np.save(fh, _stems_array(read()))
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")


def song_folders(folder: str | Path) -> list[Path]:
    """The song folders of a synthetic split folder (``<folder>/<track>/<source>.wav``), sorted."""
    folder = Path(folder)
    songs = sorted(d for d in folder.iterdir() if d.is_dir()) if folder.is_dir() else []
    if not songs:
        raise UserError(f"no songs under {folder} (expected <track>/{{{','.join(SOURCES)}}}.wav)")
    return songs


def read_song_stems(song: Path, names: Sequence[str] = SOURCES) -> dict[str, np.ndarray]:
    """One song folder's stems (``<name>.wav`` for each of ``names``), float32 ``(samples, channels)``, at 44.1 kHz."""
    import soundfile as sf

    stems = {}
    for s in names:
        try:
            audio, rate = sf.read(song / f"{s}.wav", dtype="float32", always_2d=True)
        except (OSError, RuntimeError) as exc:
            raise UserError(f"cannot read the stems of {song}: {exc}") from None
        if rate != SAMPLE_RATE:
            raise UserError(f"{song} is not {SAMPLE_RATE} Hz")
        stems[s] = audio
    return stems


def load_valid_folder(folder: str | Path, cache: Path | None = None) -> TrackSet:
    """Every song of a synthetic ``valid`` folder, held like training tracks."""
    out = TrackSet([], [])
    for song in song_folders(folder):
        out.names.append(song.name)
        files = [song / f"{s}.wav" for s in SOURCES]
        out.audio.append(held_stems(files, lambda song=song: list(read_song_stems(song).values()), cache))
    return out


def load_valid_folders(folders: Sequence[str | Path], cache: Path | None = None) -> TrackSet:
    """The ``valid`` songs of every synthetic folder, pooled (names prefixed by their folder when several)."""
    out = TrackSet([], [])
    for folder in folders:
        out.extend(load_valid_folder(Path(folder) / "valid", cache), f"{Path(folder).name}/" if len(folders) > 1 else "")
    return out


def load_records_folder(folder: str | Path, cache: Path | None = None) -> TrackSet:
    """Every song of a records split (:mod:`musicsep.data.records`): ``(2, samples, 2)`` arrays of
    accompaniment and vocals."""
    from musicsep.data.records import STEMS, read_records_song

    out = TrackSet([], [])
    for song in song_folders(folder):
        out.names.append(song.name)
        files = [song / f"{s}.wav" for s in STEMS]
        out.audio.append(held_stems(files, lambda song=song: list(read_records_song(song)), cache))
    return out


def records_as_sources(pair: torch.Tensor) -> torch.Tensor:
    """``(batch, 2, C, n)`` accompaniment and vocals -> ``(batch, sources, C, n)``: the record in
    the first non-vocal slot, silence in the others (the loss then compares their sum only)."""
    out = pair.new_zeros((pair.shape[0], len(SOURCES), *pair.shape[2:]))
    out[:, NON_VOCAL[0]] = pair[:, 0]
    out[:, VOCALS] = pair[:, 1]
    return out


def sample_batch(tracks: TrackSet, batch: int, length: int, rng: np.random.Generator) -> torch.Tensor:
    """Random excerpts -> stems ``(batch, sources, channels, length)`` float32 (zero-padded if short)."""
    out = np.zeros((batch, tracks.audio[0].shape[0], 2, length), dtype=np.float32)
    weights = np.array([a.shape[1] for a in tracks.audio], dtype=np.float64)
    picks = rng.choice(len(tracks), size=batch, p=weights / weights.sum())
    for b, k in enumerate(picks):
        audio = tracks.audio[k]
        n = audio.shape[1]
        start = int(rng.integers(0, max(1, n - length + 1)))
        piece = audio[:, start:start + length]  # (S, l, C)
        out[b, :, :, : piece.shape[1]] = piece.transpose(0, 2, 1)
    return torch.from_numpy(out)


# ------------------------------------------------------------------------------------------ loss

def batch_stft(audio: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """``(..., samples)`` -> complex ``(..., bins, frames)``; the same transform as spectral.stft."""
    lead = audio.shape[:-1]
    spec = torch.stft(audio.reshape(-1, audio.shape[-1]), n_fft, hop_length,
                      window=torch.hann_window(n_fft, device=audio.device), center=True, pad_mode="reflect",
                      return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def group_accompaniment(x: torch.Tensor) -> torch.Tensor:
    """``(B, sources, ...)`` -> ``(B, 2, ...)``: drums + bass + other, then vocals."""
    return torch.stack([x[:, NON_VOCAL].sum(1), x[:, VOCALS]], 1)


class Teacher:
    """Trained U-Nets whose mean masks become part of the target (``--teacher``): distillation.

    Each is loaded as for inference (BatchNorm folded, eval mode, no gradients) and runs under
    bfloat16 autocast with ``bf16``. Called on magnitudes ``(B, C, max_bin, T)`` -> masks ``(B, S, C, max_bin, T)``.
    """

    def __init__(self, paths: Sequence[str | Path], like: UNet, device: torch.device, bf16: bool):
        self.models = []
        for path in paths:
            model, _ = load_model(path, device)
            if (model.n_fft, model.hop_length, model.max_bin, model.sources) != (
                    like.n_fft, like.hop_length, like.max_bin, like.sources):
                raise UserError(f"teacher {path} has another STFT, band or sources than the model trained")
            self.models.append(model.fuse().to(memory_format=torch.channels_last))
        self.device, self.bf16 = device, bf16

    @torch.no_grad()
    def __call__(self, magnitude: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return sum(model(magnitude).float() for model in self.models) / len(self.models)


def compute_loss(model: UNet, mixture: torch.Tensor, stems: torch.Tensor, mse_weight: float,
                 sc_weight: float, bf16: bool = False, sdr_weight: float = 0.0,
                 grouped: bool = False, teacher: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 teacher_weight: float = 0.0) -> tuple[torch.Tensor, dict[str, float]]:
    """``mixture`` (B, C, n), ``stems`` (B, S, C, n) -> (loss, {"mse":, "sc":[, "sdr":]}).

    With ``bf16`` the network (only) runs under bfloat16 autocast; transforms and loss stay float32.
    With ``sdr_weight`` the masks of every bin are also applied to the complex mixture, inverted to
    waveforms and scored with :func:`time_sdr` (dB, higher is better; the loss subtracts it).
    With ``grouped`` (a batch of real records under a voice) only the vocals and the sum of the other
    stems are known: masks and stems are summed over drums, bass and other before any comparison.
    With a ``teacher`` (masks from magnitudes) the magnitude target is ``(1 - teacher_weight)`` times
    the true stems' plus ``teacher_weight`` times the teacher's masked mixture; the time-domain SDR
    term keeps the true stems.
    """
    if grouped:
        stems = group_accompaniment(stems)
    fb = model.max_bin
    mix_spec = batch_stft(mixture, model.n_fft, model.hop_length)
    mix_mag = mix_spec.abs()  # (B, C, F, T)
    ref = batch_stft(stems, model.n_fft, model.hop_length).abs()[..., :fb, :]  # (B, S, C, Fm, T)
    with torch.autocast(mixture.device.type, dtype=torch.bfloat16, enabled=bf16):
        # the network sees only its modelled bins; above them it extends its masks (all bins for sdr)
        masks = model(mix_mag if sdr_weight else mix_mag[..., :fb, :])
    masks = masks.float()
    if grouped:
        masks = group_accompaniment(masks)
    if teacher is not None and teacher_weight > 0:
        taught = teacher(mix_mag[..., :fb, :])
        taught = group_accompaniment(taught) if grouped else taught
        ref = (1 - teacher_weight) * ref + teacher_weight * taught * mix_mag[:, None, :, :fb]
    est = masks[..., :fb, :] * mix_mag[:, None, :, :fb]
    dims = tuple(range(1, est.ndim))
    power = mix_mag[..., :fb, :].square().mean(dim=(1, 2, 3)).clamp_min(1e-8)
    mse = ((est - ref).square().mean(dim=dims) / power).mean()
    sc = (torch.linalg.vector_norm(ref - est, dim=dims)
          / torch.linalg.vector_norm(ref, dim=dims).clamp_min(1e-8)).mean()
    loss = mse_weight * mse + sc_weight * sc
    parts = {"mse": float(mse.detach()), "sc": float(sc.detach())}
    if sdr_weight:
        waves = batch_istft(masks * mix_spec[:, None], model.n_fft, model.hop_length, stems.shape[-1])
        sdr = time_sdr(stems, waves, mixture)
        loss = loss - sdr_weight * sdr
        parts["sdr"] = float(sdr.detach())
    return loss, parts


def batch_istft(spec: torch.Tensor, n_fft: int, hop_length: int, length: int) -> torch.Tensor:
    """Inverse of :func:`batch_stft`: complex ``(..., bins, frames)`` -> ``(..., length)``."""
    lead = spec.shape[:-2]
    audio = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft, hop_length,
                        window=torch.hann_window(n_fft, device=spec.device), center=True, length=length)
    return audio.reshape(*lead, length)


def time_sdr(stems: torch.Tensor, estimates: torch.Tensor, mixture: torch.Tensor,
             floor: float = 1e-4) -> torch.Tensor:
    """SDR in dB of waveforms ``(B, S, C, n)`` per source over the whole batch, averaged over sources:
    ``10 log10((sum s^2 + e) / (sum (s - est)^2 + e))``, the sums over examples, channels and time.

    Pooling over the batch is what the validation's global SDR does over a song: an excerpt where a
    stem is silent adds its errors but cannot divide by zero. ``e`` is ``floor`` times the batch
    mixture's energy, so a source silent in the whole batch costs at most ``-10 log10(1/floor)``.
    """
    e = floor * mixture.square().sum() + 1e-8
    ref = stems.square().sum(dim=(0, 2, 3))
    err = (stems - estimates).square().sum(dim=(0, 2, 3))
    return (10 * torch.log10((ref + e) / (err + e))).mean()


# ------------------------------------------------------------------------------------ validation

def global_sdr(ref: np.ndarray, est: np.ndarray) -> float | None:
    """``10 log10(sum ref^2 / sum (ref - est)^2)``; None for a silent reference."""
    energy = float(np.sum(np.square(ref, dtype=np.float64)))
    if energy < 1e-6:
        return None
    err = float(np.sum(np.square(ref - est, dtype=np.float64)))
    return 10.0 * math.log10(energy / max(err, 1e-12))


def validation_excerpts(val: TrackSet, seconds: float) -> list[np.ndarray]:
    """One fixed excerpt per validation track (its middle ``seconds``), ``(sources, n, channels)``:
    views of the stored float16 audio (whole songs on several valid folders would double the memory
    as float32 copies; :func:`validate` converts one excerpt at a time)."""
    out = []
    length = int(seconds * SAMPLE_RATE)
    for audio in val.audio:
        n = audio.shape[1]
        start = max(0, (n - length) // 2)
        out.append(audio[:, start:start + length])
    return out


def validate(model: UNet, excerpts: list[np.ndarray], wiener_iterations: int = 0,
             device: str | torch.device = "cpu") -> dict[str, float]:
    """Quick global SDR per source (mean over tracks) and its average over sources, ``"avg"``."""
    sep = UNetSeparator(model=model, device=str(device), wiener_iterations=wiener_iterations)
    scores: dict[str, list[float]] = {s: [] for s in SOURCES}
    for stems in excerpts:
        stems = stems.astype(np.float32)
        out = sep.separate(stems.sum(0), SAMPLE_RATE)
        for j, s in enumerate(SOURCES):
            v = global_sdr(stems[j], out[s])
            if v is not None:
                scores[s].append(v)
    result = {s: float(np.mean(v)) if v else float("nan") for s, v in scores.items()}
    result["avg"] = float(np.nanmean([result[s] for s in SOURCES]))
    return result


@torch.no_grad()
def init_input_stats(model: UNet, tracks: TrackSet, rng: np.random.Generator, n: int = 64) -> None:
    """Set the per-bin input affine to the mean / 1/std of log1p magnitudes of training mixtures."""
    stems = sample_batch(tracks, n, 6 * SAMPLE_RATE, rng)
    mag = batch_stft(mix(stems), model.n_fft, model.hop_length).abs()[..., : model.max_bin, :]
    logmag = torch.log1p(mag).transpose(0, 2).reshape(model.max_bin, -1)  # (F, everything else)
    model.input_mean.copy_(logmag.mean(1))
    model.input_scale.copy_(1.0 / logmag.std(1).clamp_min(1e-3))


# --------------------------------------------------------------------------------------- driver

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="musicsep train", description="Train the Stage 4 U-Net.")
    data = p.add_argument_group("data")
    data.add_argument("--root", help="MUSDB18 / MUSDB18-HQ root (its 'train' subset is used)")
    data.add_argument("--is-wav", action="store_true", help="the root is MUSDB18-HQ (wav) rather than stems")
    data.add_argument("--synthetic", metavar="DIR", nargs="+",
                      help="synthetic folder(s) (DIR/train/<track>/*.wav); several are pooled")
    data.add_argument("--val-fraction", type=number(float, 0.0, 0.9), default=0.1, help="held-out share of tracks (non-MUSDB)")
    data.add_argument("--valid", metavar="DIR", nargs="+", default=None,
                      help="validate on every song of each DIR/valid instead (synthetic layout); all train tracks train")
    data.add_argument("--records", metavar="DIR", nargs="+", default=None,
                      help="also train on DIR/train songs of musicsep.data.records (a voice over a real record)")
    data.add_argument("--cache", metavar="DIR", type=Path, default=None,
                      help="keep the songs as float16 .npy files in DIR, memory-mapped, instead of in memory "
                           "(written on the first run; lifts the memory cap on the number of songs)")
    data.add_argument("--max-tracks", type=number(int, 1, 100_000), default=None, help="use only the first N tracks (debugging)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=number(int, 1, 100_000), default=100)
    t.add_argument("--minutes", type=number(float, 0.0, 1e6, low_open=True), default=None, help="wall-time budget in minutes (keeps the best)")
    t.add_argument("--batch-size", type=number(int, 1, 4096), default=6)
    t.add_argument("--seq-seconds", type=number(float, 0.1, 600.0), default=3.0, help="excerpt length")
    t.add_argument("--samples-per-track", type=number(int, 1, 10_000), default=2, help="excerpts per track per epoch")
    t.add_argument("--lr", type=number(float, 0.0, 10.0, low_open=True), default=3e-3)
    t.add_argument("--weight-decay", type=number(float, 0.0, 10.0), default=0.0)
    t.add_argument("--mse-weight", type=number(float, 0.0, 1e6), default=1.0)
    t.add_argument("--sc-weight", type=number(float, 0.0, 1e6), default=1.0)
    t.add_argument("--sdr-weight", type=number(float, 0.0, 1e6), default=0.0,
                   help="weight per dB of time-domain SDR after the inverse STFT (0 = off)")
    t.add_argument("--remix-proba", type=number(float, 0.0, 1.0), default=0.5, help="chance a batch is remixed across songs")
    t.add_argument("--eq-db", type=number(float, 0.0, 40.0), default=9.0, help="random EQ range per stem in dB (0 = off)")
    t.add_argument("--repitch", type=number(float, 0.0, 12.0), default=2.0, metavar="SEMITONES",
                   help="speed/pitch change per stem up to +-SEMITONES (0 = off)")
    t.add_argument("--repitch-proba", type=number(float, 0.0, 1.0), default=0.5, help="chance a stem is repitched")
    t.add_argument("--effects-proba", type=number(float, 0.0, 1.0), default=0.0,
                   help="share of stems given drive, reverb and stereo width (chorus: 2/3 of it); 0 = off")
    t.add_argument("--records-proba", type=number(float, 0.0, 1.0), default=0.25,
                   help="chance a batch is drawn from the --records songs")
    t.add_argument("--codec-proba", type=number(float, 0.0, 1.0), default=0.0,
                   help="chance an example's mixture (only) goes through the simulated lossy coder (0 = off)")
    t.add_argument("--teacher", metavar="MODEL", nargs="+", default=None,
                   help="distil: trained U-Net(s) whose mean masks enter the target (see --teacher-weight)")
    t.add_argument("--teacher-weight", type=number(float, 0.0, 1.0), default=0.5,
                   help="share of the magnitude target from the teacher's masks (the rest: the true stems)")
    t.add_argument("--no-augment", action="store_true")
    t.add_argument("--val-seconds", type=number(float, 0.5, 600.0), default=10.0, help="validation excerpt per held-out track")
    t.add_argument("--seed", type=SEED, default=0)
    m = p.add_argument_group("model")
    m.add_argument("--channels", type=number(int, 1, 4096), nargs="+", default=DEFAULT_CONFIG["channels"])
    m.add_argument("--max-bin", type=number(int, 8, 65536), default=DEFAULT_CONFIG["max_bin"])
    m.add_argument("--n-fft", type=number(int, 64, 65536), default=DEFAULT_CONFIG["n_fft"])
    m.add_argument("--hop-length", type=number(int, 16, 65536), default=DEFAULT_CONFIG["hop_length"])
    m.add_argument("--patch", type=number(int, 1, 64), nargs=2, default=DEFAULT_CONFIG["patch"])
    o = p.add_argument_group("output")
    o.add_argument("--out", default="best_model.pth", help="where the best model goes")
    o.add_argument("--run-dir", default="runs/unet", help="checkpoints and logs (last.pth, best.pth)")
    o.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pth")
    o.add_argument("--snapshots", action="store_true",
                   help="also keep every epoch's weights as RUN_DIR/epoch-NNN.pth (to average: python -m musicsep.average)")
    o.add_argument("--init", default=None, help="start from these weights (fine-tuning)")
    o.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    o.add_argument("--bf16", action="store_true",
                   help="run the network under bfloat16 autocast while training (about 1.7x faster on CPUs with "
                        "AVX-512 BF16; ignored on CPUs without native bfloat16; inference stays float32)")
    o.add_argument("--threads", type=number(int, 0, 1024), default=0, help="torch CPU threads (0 = torch's default)")
    o.add_argument("--no-wiener-search", action="store_true", help="skip choosing Wiener iterations at the end")
    return p


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (oneDNN's own check: AVX-512 BF16 or AMX)."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _log(msg: str) -> None:
    print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {msg}", flush=True)


def learning_rate(progress: float, base: float, step: int, warmup: int = 50) -> float:
    """Cosine from ``base`` to ``base / 20`` over ``progress`` 0..1, after a linear warm-up of ``warmup`` steps."""
    lr = base / 20 + 0.5 * (base - base / 20) * (1 + math.cos(math.pi * min(1.0, progress)))
    return lr * min(1.0, (step + 1) / warmup)


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse what cannot work before any data is read."""
    if bool(args.root) == bool(args.synthetic):
        raise UserError("give exactly one of --root DIR or --synthetic DIR")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but torch sees no CUDA GPU")


def data_roots(args: argparse.Namespace) -> tuple[list[str], bool]:
    """The training roots and whether they hold wav stems."""
    return (list(args.synthetic), True) if args.synthetic else ([args.root], args.is_wav)


def pool_tracks(args: argparse.Namespace) -> tuple[TrackSet, TrackSet]:
    """Training and validation tracks of every root, pooled (names prefixed by their root when
    several), or validation from every ``DIR/valid`` of ``--valid`` instead of held-out training tracks."""
    roots, is_wav = data_roots(args)
    train_set, val_set = TrackSet([], []), TrackSet([], [])
    val_fraction = 0.0 if args.valid else args.val_fraction
    for one_root in roots:
        more_train, more_val = load_tracks(one_root, is_wav, val_fraction, args.max_tracks, args.cache)
        prefix = f"{Path(one_root).name}/" if len(roots) > 1 else ""
        train_set.extend(more_train, prefix)
        val_set.extend(more_val, prefix)
    if args.valid:
        val_set = load_valid_folders(args.valid, args.cache)
    if len(train_set) == 0 or len(val_set) == 0:
        raise UserError(f"need training and validation tracks; got {len(train_set)} and {len(val_set)}")
    return train_set, val_set


def model_config(args: argparse.Namespace) -> dict[str, Any]:
    return {**DEFAULT_CONFIG, "channels": list(args.channels), "max_bin": args.max_bin, "n_fft": args.n_fft,
            "hop_length": args.hop_length, "patch": list(args.patch)}


def save_copy(source: Path, target: Path) -> None:
    """Copy a finished checkpoint to ``target`` atomically (skipped when it is the same file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.resolve() != source.resolve():
        tmp = target.with_name(f".{target.name}.part")
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


class Trainer:
    """One training run as configured by :func:`build_parser`'s options: data, model, loop, checkpoints.

    ``Trainer(args).run()`` is :func:`train`. The pieces (the learning rate at a point of the run,
    one step, one epoch, validation, saving, the Wiener choice) are methods that can be used alone.
    """

    def __init__(self, args: argparse.Namespace):
        check_arguments(args)
        keep_freed_memory()
        if args.threads:
            torch.set_num_threads(args.threads)
        if args.bf16 and args.device == "cpu" and not cpu_has_native_bf16():
            # Emulated bfloat16 is several times slower than float32 (10.8 against 1.7 s per step
            # of step 19 on an AVX2-only EPYC), so the flag would only cost time here.
            _log("--bf16: this CPU has no native bfloat16 (AVX-512 BF16 or AMX); training in float32")
            args.bf16 = False
        self.args = args
        self.device = torch.device(args.device)
        self.run_dir = Path(args.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.out_path, self.last_path, self.best_path = Path(args.out), self.run_dir / "last.pth", self.run_dir / "best.pth"

        t_load = time.time()
        self.train_set, self.val_set = pool_tracks(args)
        self.records = TrackSet([], [])
        for root in args.records or []:
            self.records.extend(load_records_folder(Path(root) / "train", args.cache), f"{Path(root).name}/")
        with_records = f", {len(self.records)} records songs ({self.records.seconds / 60:.1f} min)" if args.records else ""
        _log(f"data {self.root_label}: {len(self.train_set)} training tracks ({self.train_set.seconds / 60:.1f} min)"
             f"{with_records}, {len(self.val_set)} validation tracks ({self.val_set.seconds / 60:.1f} min), "
             f"loaded in {time.time() - t_load:.0f} s")
        self.val_excerpts = validation_excerpts(self.val_set, args.val_seconds)

        torch.manual_seed(args.seed)
        self.rng = np.random.default_rng(args.seed)
        self.state: dict[str, Any] = {"epoch": 0, "step": 0, "elapsed": 0.0, "best_sdr": -float("inf"), "history": []}
        self.initialised_from: dict[str, Any] | None = None  # the starting checkpoint's record, when fine-tuning
        self.model, self.optimizer = self.build()
        _log(f"model: {count_parameters(self.model):,} parameters, config {self.model.config()}")
        self.teacher = Teacher(args.teacher, self.model, self.device, args.bf16) if args.teacher else None

        self.gen = torch.Generator().manual_seed(args.seed + self.state["step"])
        max_shift = 0 if args.no_augment else SAMPLE_RATE // 2
        self.augment = None if args.no_augment else default_augmentation(
            max_shift, args.remix_proba, args.eq_db, args.repitch, args.repitch_proba, args.effects_proba)
        self.codec = LossyCodec(args.codec_proba) if args.codec_proba > 0 and not args.no_augment else None
        self.excerpt = input_length(self.augment, int(args.seq_seconds * SAMPLE_RATE))  # drawn so that seq remain
        self.steps_per_epoch = max(1, math.ceil(len(self.train_set) * args.samples_per_track / args.batch_size))
        self.budget = args.minutes * 60 if args.minutes else None
        self.facts = self.describe()
        self.lr = args.lr

    @property
    def root_label(self) -> str:
        return " + ".join(str(r) for r in data_roots(self.args)[0])

    # --- model -------------------------------------------------------------------------------------

    def new_optimizer(self, model: UNet) -> torch.optim.Optimizer:
        return torch.optim.Adam(model.parameters(), lr=self.args.lr, weight_decay=self.args.weight_decay)

    def build(self) -> tuple[UNet, torch.optim.Optimizer]:
        """The model and optimizer: resumed from RUN_DIR/last.pth (``--resume``), started from
        ``--init`` weights, or new (with input statistics from the training data)."""
        args = self.args
        model = build_model(model_config(args))  # drawn first in every case: the seed's random state follows it
        optimizer = self.new_optimizer(model)
        if args.resume and self.last_path.exists():
            ckpt = read_checkpoint(self.last_path)
            model = self.restore(ckpt)
            optimizer = self.new_optimizer(model)
            optimizer.load_state_dict(ckpt["optimizer"])
            self.state.update(ckpt["train_state"])
            self.initialised_from = ckpt.get("initialised_from")
            self.rng = np.random.default_rng([args.seed, self.state["step"]])
            torch.manual_seed(args.seed + self.state["step"])
            _log(f"resumed from {self.last_path}: epoch {self.state['epoch']}, step {self.state['step']}, "
                 f"{self.state['elapsed'] / 60:.1f} min, best val SDR {self.state['best_sdr']:.2f} dB")
        elif args.init:
            ckpt = read_checkpoint(args.init)
            model = self.restore(ckpt)
            optimizer = self.new_optimizer(model)
            self.initialised_from = training_record(ckpt)
            _log(f"initialised from {args.init}")
        else:
            init_input_stats(model, self.train_set, self.rng)
        model.to(self.device)
        if self.device.type == "cpu":
            model = model.to(memory_format=torch.channels_last)
        for group in optimizer.state.values():
            for k, v in group.items():
                if isinstance(v, torch.Tensor):
                    group[k] = v.to(self.device)
        return model, optimizer

    @staticmethod
    def restore(ckpt: dict[str, Any]) -> UNet:
        model = build_model(ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
        return model

    def describe(self) -> dict[str, Any]:
        """What the checkpoints record about the data, settings, hardware and command."""
        args, (_, is_wav) = self.args, data_roots(self.args)
        facts = {
            "data": {"root": self.root_label, "is_wav": is_wav, "kind": "synthetic" if args.synthetic else "musdb",
                     "train_tracks": len(self.train_set), "train_minutes": round(self.train_set.seconds / 60, 2),
                     "records_songs": list(self.records.names),
                     "validation_tracks": list(self.val_set.names)},
            "hyperparameters": {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in vars(args).items()
                                if isinstance(v, (int, float, str, bool, list, tuple)) or v is None},
            "augmentation": repr(self.augment) + (f" + {self.codec!r}" if self.codec is not None else ""),
            "hardware": {"device": str(self.device), "torch_threads": torch.get_num_threads(),
                         "cpu_count": os.cpu_count(), "machine": platform.machine(), "torch": torch.__version__},
            "command": " ".join(sys.argv),
        }
        if self.initialised_from is not None:
            facts["initialised_from"] = {"path": str(args.init), **self.initialised_from}
        if args.teacher:
            from musicsep.export import file_sha256

            facts["teachers"] = [{"path": str(p), "sha256": file_sha256(Path(p))} for p in args.teacher]
        return facts

    # --- checkpoints -------------------------------------------------------------------------------

    def save(self, path: Path, scores: dict[str, float] | None, with_optimizer: bool) -> None:
        """A checkpoint of the current model (atomically); ``with_optimizer`` adds what ``--resume`` needs."""
        state, model = self.state, self.model
        extra: dict[str, Any] = {**self.facts, "sources": list(SOURCES),
                                 "stft": {"n_fft": model.n_fft, "hop_length": model.hop_length, "window": "hann"},
                                 "training": {"epochs": state["epoch"], "steps": state["step"],
                                              "minutes": round(state["elapsed"] / 60, 2),
                                              "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                                 "validation": scores or {}, "history": state["history"],
                                 "wiener_iterations": 0}
        if with_optimizer:
            extra["optimizer"] = self.optimizer.state_dict()
            extra["train_state"] = dict(state)
        save_checkpoint(path, model, **extra)

    # --- the loop ----------------------------------------------------------------------------------

    def progress(self, steps_this_epoch: int, elapsed: float) -> float:
        """How far the run is, 0..1: by epochs, or by the time budget when that is further."""
        epochs = self.args.epochs
        done = self.state["epoch"] / epochs + 1 / epochs * steps_this_epoch / self.steps_per_epoch
        return max(done, elapsed / self.budget) if self.budget is not None else done

    def train_step(self) -> float:
        """One optimizer step on a fresh augmented batch at ``self.lr``; returns the loss."""
        args = self.args
        for g in self.optimizer.param_groups:
            g["lr"] = self.lr
        # a records batch only when asked for, so that runs without records draw as they always did
        grouped = bool(self.records) and self.rng.random() < args.records_proba
        if grouped:
            stems = records_as_sources(sample_batch(self.records, args.batch_size, self.excerpt, self.rng))
        else:
            stems = sample_batch(self.train_set, args.batch_size, self.excerpt, self.rng)
        stems = stems.to(self.device)
        mixture = mix(stems)
        if self.augment is not None:
            mixture, stems = self.augment(mixture, stems, self.gen)
        if self.codec is not None:  # last: the coded mixture is no longer the sum of the stems
            mixture, stems = self.codec(mixture, stems, self.gen)
        loss, _ = compute_loss(self.model, mixture, stems, args.mse_weight, args.sc_weight, args.bf16,
                               args.sdr_weight, grouped, self.teacher, args.teacher_weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        self.state["step"] += 1
        return float(loss.detach())

    def train_epoch(self, start: float) -> tuple[list[float], bool]:
        """Up to ``steps_per_epoch`` steps; returns their losses and whether the time budget ran out."""
        from tqdm import tqdm

        self.model.train()
        losses: list[float] = []
        bar = tqdm(range(self.steps_per_epoch), desc=f"epoch {self.state['epoch'] + 1}", leave=False,
                   file=sys.stderr, mininterval=2.0 if sys.stderr.isatty() else 60.0, dynamic_ncols=True)
        try:
            for _ in bar:
                elapsed = time.time() - start
                if self.budget is not None and elapsed > self.budget:
                    return losses, True
                self.lr = learning_rate(self.progress(len(losses), elapsed), self.args.lr, self.state["step"])
                losses.append(self.train_step())
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}", lr=f"{self.lr:.1e}")
        finally:
            bar.close()
        return losses, False

    def end_epoch(self, losses: list[float], start: float) -> None:
        """Validate, record, keep the best model and the resumable last state."""
        state = self.state
        state["epoch"] += 1
        state["elapsed"] = time.time() - start
        scores = validate(self.model, self.val_excerpts, 0, self.device)
        improved = scores["avg"] > state["best_sdr"]
        if improved:
            state["best_sdr"] = scores["avg"]
        state["history"].append({"epoch": state["epoch"], "step": state["step"], "loss": float(np.mean(losses)),
                                 "val_sdr": scores["avg"], "minutes": round(state["elapsed"] / 60, 2)})
        if improved:
            self.save(self.best_path, scores, with_optimizer=False)
        self.save(self.last_path, scores, with_optimizer=True)
        if self.args.snapshots:
            self.save(self.run_dir / f"epoch-{state['epoch']:03d}.pth", scores, with_optimizer=False)
        per_source = " ".join(f"{s} {scores[s]:.2f}" for s in SOURCES)
        _log(f"epoch {state['epoch']}/{self.args.epochs} step {state['step']} loss {np.mean(losses):.4f} "
             f"val SDR {scores['avg']:.2f} dB ({per_source}) best {state['best_sdr']:.2f}"
             f"{' *' if improved else ''} lr {self.lr:.1e} {state['elapsed'] / 60:.1f} min")

    def choose_wiener(self, final: dict[str, Any]) -> None:
        """Score 0, 1 and 2 Wiener iterations on validation with the best model; store the best count."""
        best_model = self.restore(final)
        best_model.eval()
        by_iterations = {}
        for it in (0, 1, 2):
            by_iterations[str(it)] = validate(best_model, self.val_excerpts, it, "cpu")["avg"]
            _log(f"validation with {it} Wiener iteration(s): {by_iterations[str(it)]:.2f} dB")
        choice = max(by_iterations, key=lambda k: (round(by_iterations[k], 2), -int(k)))
        final["wiener_iterations"] = int(choice)
        final["validation"] = {**final["validation"], "wiener_search": by_iterations}

    def run(self) -> dict[str, Any]:
        """Train until ``--epochs`` or ``--minutes``; write the best model to ``--out``; a summary."""
        start = time.time() - self.state["elapsed"]
        stop = False
        while self.state["epoch"] < self.args.epochs and not stop:
            losses, stop = self.train_epoch(start)
            if not losses:
                break
            self.end_epoch(losses, start)
        return self.finish()

    def finish(self) -> dict[str, Any]:
        if not self.best_path.exists():
            raise UserError("training stopped before the first epoch ended; nothing to save (raise --minutes)")
        final = read_checkpoint(self.best_path)
        if not self.args.no_wiener_search:
            self.choose_wiener(final)
            write_checkpoint(self.best_path, final)
        save_copy(self.best_path, self.out_path)
        state = self.state
        _log(f"best model (val SDR {state['best_sdr']:.2f} dB, Wiener iterations {final.get('wiener_iterations', 0)}) "
             f"written to {self.out_path}")
        return {"best_sdr": state["best_sdr"], "out": str(self.out_path), "steps": state["step"],
                "epochs": state["epoch"], "minutes": state["elapsed"] / 60,
                "wiener_iterations": final.get("wiener_iterations", 0)}


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Run training as configured by :func:`build_parser`'s options; returns a summary dict."""
    return Trainer(args).run()


def main(argv: list[str] | None = None) -> int:
    """``musicsep train`` / ``python U-Net.py train``: parse ``argv``, train, return the exit status."""
    args = build_parser().parse_args(argv)
    train(args)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted (resume with --resume)", file=sys.stderr)
        sys.exit(130)
