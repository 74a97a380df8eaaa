"""The U-Net training pieces alone: the learning-rate schedule, batch sampling, the loss, checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import make_stems, page_faults_by_mode

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.separators.unet import UNet, read_checkpoint, save_checkpoint, write_checkpoint
import musicsep.train as train_module
from musicsep.train import (TrackSet, build_parser, check_arguments, compute_loss, group_accompaniment,
                            learning_rate, load_tracks, load_valid_folder, records_as_sources, sample_batch,
                            time_sdr)


def test_learning_rate_warms_up_then_follows_a_cosine_to_a_twentieth():
    base = 3e-3
    assert learning_rate(0.0, base, step=0) == pytest.approx(base / 50)  # step 1 of a 50-step warm-up
    assert learning_rate(0.0, base, step=49) == pytest.approx(base)
    assert learning_rate(0.5, base, step=1000) == pytest.approx((base + base / 20) / 2)
    assert learning_rate(1.0, base, step=1000) == pytest.approx(base / 20)
    assert learning_rate(3.0, base, step=1000) == pytest.approx(base / 20)  # past the end: stays at the floor
    rates = [learning_rate(p, base, step=1000) for p in np.linspace(0, 1, 11)]
    assert all(a > b for a, b in zip(rates, rates[1:]))


def test_sample_batch_draws_excerpts_of_the_tracks():
    rng = np.random.default_rng(0)
    long = rng.standard_normal((4, 1000, 2)).astype(np.float16)
    short = rng.standard_normal((4, 30, 2)).astype(np.float16)
    tracks = TrackSet(["long", "short"], [long, short])
    batch = sample_batch(tracks, 64, 100, np.random.default_rng(1))
    assert batch.shape == (64, len(SOURCES), 2, 100) and batch.dtype == torch.float32
    from_short = 0
    for example in batch.numpy():
        if not example[..., 30:].any():  # the short track, zero-padded to the length
            np.testing.assert_array_equal(example[..., :30], short.transpose(0, 2, 1).astype(np.float32))
            from_short += 1
            continue
        flat = long.transpose(0, 2, 1).astype(np.float32)  # (S, C, n): find where the excerpt starts
        starts = np.flatnonzero(flat[0, 0] == example[0, 0, 0])
        assert any(np.array_equal(example, flat[:, :, s:s + 100]) for s in starts)
    assert 0 < from_short < 16  # tracks are drawn in proportion to their length (30 vs 1000 samples)


def write_split(split: Path, names=("a", "b"), seconds=0.5) -> None:
    """A synthetic split folder: ``split/<song>/<source>.wav`` and the mixture."""
    for i, name in enumerate(names):
        folder = split / name
        folder.mkdir(parents=True)
        stems = make_stems(seconds=seconds, seed=20 + i)
        sf.write(folder / "mixture.wav", sum(stems.values()), SAMPLE_RATE, subtype="FLOAT")
        for s, v in stems.items():
            sf.write(folder / f"{s}.wav", v, SAMPLE_RATE, subtype="FLOAT")


def test_cached_songs_are_memory_mapped_copies_of_the_songs_held_in_memory(tmp_path, monkeypatch):
    write_split(tmp_path / "syn" / "train")
    write_split(tmp_path / "syn" / "valid", names=("v",))
    cache = tmp_path / "cache"
    in_memory, _ = load_tracks(tmp_path / "syn", True, val_fraction=0.0)
    mapped, _ = load_tracks(tmp_path / "syn", True, val_fraction=0.0, cache=cache)
    assert mapped.names == in_memory.names == ["a", "b"]
    for held, mm in zip(in_memory.audio, mapped.audio):
        assert isinstance(mm, np.memmap) and not mm.flags.writeable and mm.dtype == np.float16
        np.testing.assert_array_equal(held, mm)
    np.testing.assert_array_equal(load_valid_folder(tmp_path / "syn" / "valid", cache).audio[0],
                                  load_valid_folder(tmp_path / "syn" / "valid").audio[0])
    assert len(list(cache.glob("*.npy"))) == 3 and not list(cache.glob(".*"))  # no temporary file left

    def no_reading(*_):
        raise AssertionError("a cached song was read again")

    with monkeypatch.context() as m:  # the second run reads the cache, not the wav files
        m.setattr(train_module, "read_song_stems", no_reading)
        again, _ = load_tracks(tmp_path / "syn", True, val_fraction=0.0, cache=cache)
    np.testing.assert_array_equal(again.audio[1], in_memory.audio[1])

    bass = tmp_path / "syn" / "train" / "a" / "bass.wav"  # a song written again is read again
    changed = np.random.default_rng(5).uniform(-0.5, 0.5, sf.info(bass).frames * 2).reshape(-1, 2)
    sf.write(bass, changed, SAMPLE_RATE, subtype="FLOAT")
    fresh, _ = load_tracks(tmp_path / "syn", True, val_fraction=0.0, cache=cache)
    np.testing.assert_array_equal(fresh.audio[0][SOURCES.index("bass")], changed.astype(np.float32).astype(np.float16))  # as written
    np.testing.assert_array_equal(fresh.audio[1], in_memory.audio[1])


FAULTS_PER_STEP = """
import resource, sys, torch
from musicsep.separators.unet import UNet
from musicsep.train import compute_loss
from musicsep.memory import keep_freed_memory
torch.manual_seed(0)
torch.set_num_threads(1)
if sys.argv[1] == "keep":
    assert keep_freed_memory()
model = UNet(channels=[4, 8, 8, 8, 8])
stems = torch.randn(3, 4, 2, 3 * 44100) * 0.1
def step():
    loss, _ = compute_loss(model, stems.sum(1), stems, 1.0, 1.0)
    loss.backward()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_training_steps_reuse_freed_memory_instead_of_faulting_fresh_pages_in():
    faults = page_faults_by_mode(FAULTS_PER_STEP)
    assert faults["keep"] * 3 < faults["default"], faults


class ConstantMasks(torch.nn.Module):
    """A stand-in network: the same mask for every bin, one value per source."""

    n_fft, hop_length, max_bin = 256, 64, 96

    def __init__(self, weights):
        super().__init__()
        self.weights = torch.tensor(weights, dtype=torch.float32)

    def forward(self, mag):
        b, c, f, t = mag.shape
        return self.weights.view(1, -1, 1, 1, 1).expand(b, -1, c, f, t)


def test_loss_is_zero_for_the_right_masks_and_grows_with_the_error():
    signal = torch.randn(2, 1, 2, 2048)
    gains = torch.tensor([0.1, 0.2, 0.3, 0.4]).view(1, 4, 1, 1)
    stems = signal * gains  # every stem is the same signal scaled: the gains are the ideal masks
    mixture = stems.sum(1)
    perfect, parts = compute_loss(ConstantMasks([0.1, 0.2, 0.3, 0.4]), mixture, stems, 1.0, 1.0)
    assert float(perfect) < 1e-5 and parts["mse"] < 1e-6 and parts["sc"] < 1e-5
    off, _ = compute_loss(ConstantMasks([0.25] * 4), mixture, stems, 1.0, 1.0)
    worse, _ = compute_loss(ConstantMasks([0.4, 0.3, 0.2, 0.1]), mixture, stems, 1.0, 1.0)
    assert 0 < float(off) < float(worse)
    only_sc, parts = compute_loss(ConstantMasks([0.25] * 4), mixture, stems, 0.0, 1.0)
    assert float(only_sc) == pytest.approx(parts["sc"])


def test_sdr_term_scores_the_waveforms_the_masks_make():
    signal = torch.randn(2, 1, 2, 2048)
    stems = signal * torch.tensor([0.1, 0.2, 0.3, 0.4]).view(1, 4, 1, 1)
    mixture = stems.sum(1)
    right = ConstantMasks([0.1, 0.2, 0.3, 0.4])
    plain, parts = compute_loss(right, mixture, stems, 1.0, 1.0)
    assert "sdr" not in parts  # off by default: the card's loss alone
    with_sdr, parts = compute_loss(right, mixture, stems, 1.0, 1.0, sdr_weight=0.1)
    assert parts["sdr"] > 25  # the right masks give back the stems through the inverse STFT
    assert float(with_sdr) == pytest.approx(float(plain) - 0.1 * parts["sdr"], abs=1e-4)
    _, off = compute_loss(ConstantMasks([0.25] * 4), mixture, stems, 1.0, 1.0, sdr_weight=0.1)
    _, worse = compute_loss(ConstantMasks([0.4, 0.3, 0.2, 0.1]), mixture, stems, 1.0, 1.0, sdr_weight=0.1)
    assert parts["sdr"] > off["sdr"] > worse["sdr"]


def test_teacher_masks_replace_their_share_of_the_target():
    signal = torch.randn(2, 1, 2, 2048)
    stems = signal * torch.tensor([0.1, 0.2, 0.3, 0.4]).view(1, 4, 1, 1)
    mixture = stems.sum(1)
    student = ConstantMasks([0.4, 0.3, 0.2, 0.1])  # wrong against the truth
    teacher = ConstantMasks([0.4, 0.3, 0.2, 0.1])  # ... but what the teacher says
    truth_only, _ = compute_loss(student, mixture, stems, 1.0, 1.0)
    assert float(truth_only) > 0.1
    all_teacher, parts = compute_loss(student, mixture, stems, 1.0, 1.0, teacher=teacher, teacher_weight=1.0)
    assert float(all_teacher) < 1e-5
    half, _ = compute_loss(student, mixture, stems, 1.0, 1.0, teacher=teacher, teacher_weight=0.5)
    assert 1e-3 < float(half) < float(truth_only)
    # the target is the blend: masks halfway between the truth and the teacher score zero
    halfway = ConstantMasks([0.25, 0.25, 0.25, 0.25])
    blended, _ = compute_loss(halfway, mixture, stems, 1.0, 1.0, teacher=teacher, teacher_weight=0.5)
    assert float(blended) < 1e-5
    unused, _ = compute_loss(student, mixture, stems, 1.0, 1.0, teacher=teacher, teacher_weight=0.0)
    assert float(unused) == pytest.approx(float(truth_only))


def test_records_batches_are_scored_on_vocals_and_the_sum_of_the_rest():
    # a voice over a real record: the record sits in the first non-vocal slot, the others are silent
    signal = torch.randn(2, 1, 2, 2048)
    pair = signal * torch.tensor([0.6, 0.4]).view(1, 2, 1, 1)  # accompaniment, vocals
    stems = records_as_sources(pair)
    assert stems.shape == (2, len(SOURCES), 2, 2048)
    assert torch.equal(stems[:, SOURCES.index("vocals")], pair[:, 1]) and torch.equal(stems.sum(1), pair.sum(1))
    mixture = stems.sum(1)
    # any split of the record's 0.6 among drums, bass and other is right when grouped, wrong when not
    split = ConstantMasks([0.1, 0.2, 0.3, 0.4])
    grouped, parts = compute_loss(split, mixture, stems, 1.0, 1.0, sdr_weight=0.1, grouped=True)
    assert parts["mse"] < 1e-6 and parts["sc"] < 1e-5 and parts["sdr"] > 25
    ungrouped, _ = compute_loss(split, mixture, stems, 1.0, 1.0, sdr_weight=0.1)
    assert float(ungrouped) > float(grouped) + 0.1
    wrong_voice, _ = compute_loss(ConstantMasks([0.2, 0.2, 0.3, 0.3]), mixture, stems, 1.0, 1.0, grouped=True)
    assert float(wrong_voice) > 0.01
    np.testing.assert_allclose(group_accompaniment(stems).numpy(), pair.numpy())


def test_time_sdr_pools_each_source_over_the_batch():
    ref = torch.randn(3, 2, 2, 1000)
    ref[1:, 1] = 0  # the second source sounds only in the first example
    mixture = ref.sum(1)
    est = ref.clone()
    est[:, 0] *= 0.9  # error energy 1 % of the stem's: 20 dB
    est[:, 1] *= 0.5  # 25 %: 6 dB
    e = 1e-4 * float(mixture.square().sum())
    first, second = (float(ref[:, j].square().sum()) for j in (0, 1))
    want = (10 * np.log10((first + e) / (0.01 * first + e)) + 10 * np.log10((second + e) / (0.25 * second + e))) / 2
    assert float(time_sdr(ref, est, mixture)) == pytest.approx(want, rel=1e-4)
    assert 12.9 < want < 13.1
    ref[:, 1] = 0  # silent in the whole batch: sound there costs -40 dB at most, never -infinity
    est[:, 1] = mixture  # the mixture, the first source and so e are as before
    want = (10 * np.log10((first + e) / (0.01 * first + e)) - 10 * np.log10(1e4 + 1)) / 2
    assert float(time_sdr(ref, est, mixture)) == pytest.approx(want, rel=1e-4)


def test_checkpoints_are_written_atomically(tmp_path, monkeypatch):
    model = UNet(n_fft=1024, hop_length=256, max_bin=256, channels=[8, 16], patch=[2, 2])
    path = save_checkpoint(tmp_path / "model.pth", model, note="first")
    assert read_checkpoint(path)["note"] == "first"

    def full_disk(self, data):
        Path(self).write_text("half")  # something was written before the disk filled up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError):
        write_checkpoint(path, {**read_checkpoint(path), "note": "second"})
    monkeypatch.undo()
    assert read_checkpoint(path)["note"] == "first"  # the old checkpoint is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth"]  # and no temporary file is left


def test_arguments_are_checked_before_any_data_is_read(tmp_path):
    parse = build_parser().parse_args
    with pytest.raises(UserError, match="exactly one"):
        check_arguments(parse([]))
    with pytest.raises(UserError, match="exactly one"):
        check_arguments(parse(["--root", str(tmp_path), "--synthetic", str(tmp_path)]))
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA"):
            check_arguments(parse(["--root", str(tmp_path), "--device", "cuda"]))
    check_arguments(parse(["--synthetic", str(tmp_path)]))


def test_every_option_keeps_its_default():
    defaults = vars(build_parser().parse_args([]))
    assert defaults == {
        "root": None, "is_wav": False, "synthetic": None, "val_fraction": 0.1, "valid": None, "records": None,
        "cache": None, "max_tracks": None,
        "epochs": 100, "minutes": None, "batch_size": 6, "seq_seconds": 3.0, "samples_per_track": 2, "lr": 3e-3,
        "weight_decay": 0.0, "mse_weight": 1.0, "sc_weight": 1.0, "sdr_weight": 0.0,
        "remix_proba": 0.5, "eq_db": 9.0, "repitch": 2.0,
        "repitch_proba": 0.5, "effects_proba": 0.0, "records_proba": 0.25, "codec_proba": 0.0, "teacher": None, "teacher_weight": 0.5, "no_augment": False, "val_seconds": 10.0, "seed": 0,
        "channels": [12, 24, 32, 48, 64], "max_bin": 1536, "n_fft": 4096, "hop_length": 1024, "patch": [4, 2],
        "out": "best_model.pth", "run_dir": "runs/unet", "resume": False, "snapshots": False, "init": None, "device": "cpu",
        "bf16": False, "threads": 0, "no_wiener_search": False,
    }
