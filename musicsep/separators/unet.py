"""Stage 4: an attention U-Net that predicts four soft masks over the mixture magnitude spectrogram.

Signal path (shapes for one clip; ``F`` = 2049 bins, ``T`` = frames, STFT 4096 / 1024, Hann)::

    mixture (samples, 2) --stft--> X (2, F, T) complex --|.|--> |X|
    |X|[:, :max_bin] --log1p, per-bin affine--> (1, 2, 1536, T)       max_bin = 1536 bins = 16.5 kHz
      --patch conv 4x2 / stride 4x2--> (1, 12, 384, T/2)
      --encoder: [residual block -> strided 2x2 conv] x 4 --> bottleneck (2 residual blocks, 64 ch)
      --decoder: [transposed 2x2 conv -> + attention-gated skip -> residual block] x 4
      --transposed 4x2 conv (+ a 1x1 path from the input features)--> logits (1, 4, 2, 1536, T)
      --softmax over the 4 sources--> masks; bins above max_bin get each frame's mean mask
      over the top 64 modelled bins
    masks * |X| = magnitude estimates --multichannel Wiener filter (mixture phase)--> stems

Widths (12, 24, 32, 48, 64) channels per level by default: 349 k parameters, a 1.5 MB checkpoint.
The shipped model is that network widened (musicsep.widen) to (24, 48, 64, 96, 128): 1.38 M
parameters, 5.6 MB, yet at most 20 % slower (docs/unet_speed.json), since the full-resolution input and output stages, not
the convolutions, dominate the time on a CPU.

Choices, and why:

- **STFT 4096 / 1024** rather than 2048 / 512: a quarter of the spectrogram pixels for the same
  audio, so four times the speed at a given width; 10.8 Hz bins still resolve bass harmonics, and
  the oracle ideal ratio mask at this size scores 8.0 dB on the real MUSDB excerpt (docs/compare_excerpt.json).
- **Bins up to 16.5 kHz** (1536 = 24 x 64, so the patch and four halvings divide it): above that
  there is little energy and almost no SDR at stake; those bins copy the mean mask of the top of
  the modelled band.
- **log1p of the magnitude, then a learned per-bin offset and scale** (initialised from training
  statistics, as in Open-Unmix): compresses the dynamic range, keeps silence at zero, and puts
  every frequency on a comparable footing for the first convolution. Loudness robustness comes
  from the random-gain augmentation rather than from normalising each input.
- **A 4x2 (frequency x time) patch convolution first, no 3x3 convolution at full resolution**:
  full-resolution layers are memory-bound on a CPU (a 3x3, 8-channel conv over a 30 s
  spectrogram costs 250 ms here, more than the whole model budget of the 40x-real-time target).
  Per-bin detail comes back through the transposed 4x2 output convolution (each of the 8
  positions of a patch has its own weights) plus a 1x1 path straight from the input features.
- **Residual blocks** (3x3 conv, BN, ReLU, 3x3 conv, BN, + input, ReLU) at every level; widths
  grow by less than 2x per level, so no level dominates the cost.
- **Attention gates** (Oktay et al., 2018) on the skips: the upsampled decoder features decide,
  per pixel, how much of the encoder's skip to let through; the gated skip is *added* to the
  decoder path (cheaper than concatenation at high resolution).
- **Softmax over sources**: the four masks are in [0, 1] and sum to one, so stems sum to the
  mixture; the Wiener filter keeps that property.
- **Wiener filter** (:func:`musicsep.spectral.wiener`, initialised with the model's masks, i.e.
  ``power=1``): the number of iterations used by default is the one that scored best on the
  validation split at the end of training, stored in the checkpoint (0 = raw masks).

For inference BatchNorm is folded into the convolutions (:meth:`UNet.fuse`) and convolutions run
in channels-last memory layout, which oneDNN runs several times faster on a CPU; on CPUs with
native bfloat16 arithmetic (AVX-512 BF16, AMX) they run in bfloat16 (the stems 0.001 dB SDR
from float32's on the valid split). The fourth stem is the mixture minus the other three, which
saves one inverse STFT. Together: 0.70 s -> 0.39 s for 30 s of audio on the 2-core machine.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from musicsep import SAMPLE_RATE, SOURCES
from musicsep.errors import UserError
from musicsep.memory import keep_freed_memory
from musicsep.separators.base import shipped_model
from musicsep.separators.masking import Masks, MaskingSeparator

DEFAULT_MODEL_PATH = shipped_model("best_model.pth")
CHECKPOINT_FORMAT = "musicsep-unet"
CHECKPOINT_VERSION = 1
EXTEND_BINS = 64  # bins above max_bin take the mean mask of this many top modelled bins

DEFAULT_CONFIG: dict[str, Any] = {
    "n_fft": 4096,
    "hop_length": 1024,
    "max_bin": 1536,
    "channels": [12, 24, 32, 48, 64],
    "patch": [4, 2],
    "in_channels": 2,
    "sources": list(SOURCES),
}


# --------------------------------------------------------------------------------------- layers

def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels)


class ConvBN(nn.Module):
    """Convolution (or transposed convolution) followed by BatchNorm; foldable into one conv."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int | tuple[int, int] = 1,
                 transposed: bool = False):
        super().__init__()
        if transposed:
            self.conv = nn.ConvTranspose2d(cin, cout, kernel, stride=stride, bias=False)
        else:
            padding = (kernel - 1) // 2 if stride == 1 and isinstance(kernel, int) else 0
            self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn: nn.Module = _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the (eval-mode) BatchNorm into the convolution's weights and bias."""
        if not isinstance(self.bn, nn.BatchNorm2d):
            return
        bn, conv = self.bn, self.conv
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        bias = bn.bias - bn.running_mean * scale
        if isinstance(conv, nn.ConvTranspose2d):  # weight (cin, cout, kh, kw)
            fused = nn.ConvTranspose2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, bias=True)
            fused.weight.copy_(conv.weight * scale[None, :, None, None])
        else:  # weight (cout, cin, kh, kw)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              bias=True)
            fused.weight.copy_(conv.weight * scale[:, None, None, None])
        fused.bias.copy_(bias)
        self.conv, self.bn = fused, nn.Identity()


class ResBlock(nn.Module):
    """``x -> relu(x + bn(conv3(relu(bn(conv3(x))))))``, channels unchanged. (B, C, H, W) -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.a = ConvBN(channels, channels, 3)
        self.b = ConvBN(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.b(F.relu(self.a(x), inplace=True)), inplace=True)


class AttentionGate(nn.Module):
    """Additive attention gate: ``skip * sigmoid(psi(relu(Wx skip + Wg gate)))``.

    ``skip`` and ``gate`` are (B, C, H, W) at the same resolution (the gate is the upsampled decoder
    signal); the coefficient map is (B, 1, H, W).
    """

    def __init__(self, channels: int):
        super().__init__()
        inter = max(4, channels // 2)
        self.wx = ConvBN(channels, inter, 1)
        self.wg = ConvBN(channels, inter, 1)
        self.psi = ConvBN(inter, 1, 1)

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return skip * torch.sigmoid(self.psi(F.relu(self.wx(skip) + self.wg(gate))))


class UNet(nn.Module):
    """Mixture magnitude ``(B, C, F, T)`` (all STFT bins) -> masks ``(B, S, C, F, T)`` summing to 1 over S."""

    def __init__(self, n_fft: int = 4096, hop_length: int = 1024, max_bin: int = 1536,
                 channels: list[int] | tuple[int, ...] = (12, 24, 32, 48, 64), patch: list[int] | tuple[int, int] = (4, 2),
                 in_channels: int = 2, sources: list[str] | tuple[str, ...] = SOURCES):
        super().__init__()
        channels = [int(c) for c in channels]
        self.n_fft, self.hop_length, self.max_bin = int(n_fft), int(hop_length), int(max_bin)
        self.in_channels, self.sources = int(in_channels), list(sources)
        self.channels = channels
        self.channels_last = True  # NHWC convolutions: several times faster on CPU (oneDNN)
        self.patch_size = (int(patch[0]), int(patch[1]))
        self.depth = len(channels) - 1
        f_factor, self.factor = self.patch_size[0] * 2 ** self.depth, self.patch_size[1] * 2 ** self.depth
        if self.max_bin > n_fft // 2 + 1 or self.max_bin % f_factor or self.max_bin < EXTEND_BINS:
            raise ValueError(f"max_bin must be a multiple of {f_factor} and at most {n_fft // 2 + 1}")
        n_out = len(self.sources) * in_channels

        self.input_mean = nn.Parameter(torch.zeros(self.max_bin))
        self.input_scale = nn.Parameter(torch.ones(self.max_bin))
        self.patch = ConvBN(in_channels, channels[0], self.patch_size, stride=self.patch_size)
        self.enc = nn.ModuleList(ResBlock(c) for c in channels[:-1])
        self.down = nn.ModuleList(ConvBN(channels[i], channels[i + 1], 2, stride=2) for i in range(self.depth))
        self.bottleneck = nn.Sequential(ResBlock(channels[-1]), ResBlock(channels[-1]))
        self.up = nn.ModuleList(ConvBN(channels[i + 1], channels[i], 2, stride=2, transposed=True)
                                for i in range(self.depth))
        self.gates = nn.ModuleList(AttentionGate(c) for c in channels[:-1])
        self.dec = nn.ModuleList(ResBlock(c) for c in channels[:-1])
        self.head = nn.ConvTranspose2d(channels[0], n_out, self.patch_size, stride=self.patch_size)
        self.direct = nn.Conv2d(in_channels, n_out, 1)  # full-resolution path from the input features

    def config(self) -> dict[str, Any]:
        return {"n_fft": self.n_fft, "hop_length": self.hop_length, "max_bin": self.max_bin,
                "channels": list(self.channels), "patch": list(self.patch_size), "in_channels": self.in_channels, "sources": list(self.sources)}

    def features(self, mag: torch.Tensor) -> torch.Tensor:
        """``(B, C, F, T)`` magnitudes -> normalised log features ``(B, C, max_bin, T)``."""
        x = torch.log1p(mag[:, :, : self.max_bin])
        return (x - self.input_mean[:, None]) * self.input_scale[:, None]

    def forward(self, mag: torch.Tensor) -> torch.Tensor:
        b, c, n_bins, frames = mag.shape
        x = self.features(mag)
        pad = (-frames) % self.factor
        if pad:
            x = F.pad(x, (0, pad))
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        h = F.relu(self.patch(x), inplace=True)
        skips = []
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = F.relu(down(h), inplace=True)
        h = self.bottleneck(h)
        for i in reversed(range(self.depth)):
            h = F.relu(self.up[i](h), inplace=True)
            h = self.dec[i](h + self.gates[i](skips[i], h))
        # Output stage at full resolution, where memory traffic is the cost: one copy back to the
        # plain layout, the 1x1 input path as a single batched matrix product, the softmax over the
        # source axis of a contiguous tensor (the fastest form of it on a CPU).
        n_src = len(self.sources)
        bias = self.head.bias + self.direct.bias
        logits = F.conv_transpose2d(h, self.head.weight, bias, stride=self.patch_size)
        logits = logits[..., :frames].contiguous().view(b, n_src * c, self.max_bin * frames)
        feats = x[..., :frames].contiguous().view(b, c, self.max_bin * frames)
        weight = self.direct.weight.view(1, n_src * c, c).expand(b, -1, -1)
        logits = torch.baddbmm(logits, weight, feats).view(b, n_src, c, self.max_bin, frames)
        masks = torch.softmax(logits.float(), dim=1)  # float32 even under bfloat16 autocast
        if n_bins > self.max_bin:
            top = masks[:, :, :, self.max_bin - EXTEND_BINS:].mean(dim=3, keepdim=True)
            masks = torch.cat([masks, top.expand(-1, -1, -1, n_bins - self.max_bin, -1)], dim=3)
        return masks

    def fuse(self) -> "UNet":
        """Fold every BatchNorm into its convolution (inference only); returns self."""
        self.eval()
        for m in self.modules():
            if isinstance(m, ConvBN):
                m.fuse()
        return self


# ---------------------------------------------------------------------------------- checkpoints

def _plain(value: Any) -> Any:
    """Only what ``torch.load(weights_only=True)`` accepts: tensors, dicts, lists, str, int, float, bool, None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, str):  # str subclasses (torch.__version__ is one) are not loadable
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    return value


def save_checkpoint(path: str | Path, model: UNet, **extra: Any) -> Path:
    """Write weights + config (+ anything in ``extra``: training facts, scores) atomically."""
    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = _plain({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": model.config(), **extra})
    payload["state_dict"] = state
    return write_checkpoint(path, payload)


def write_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """``torch.save`` a checkpoint dict to a temporary file beside ``path``, then rename it into place:
    a crash or a full disk never leaves a half-written checkpoint under the real name."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint dict safely (``weights_only=True``); any problem is a one-line UserError."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"U-Net model not found: {path} (train one with `musicsep train`)")
    if path.is_dir():
        raise UserError(f"U-Net model path is a folder: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling can raise almost anything
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"not a usable U-Net model file: {path} ({type(exc).__name__}: {reason[:160]})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"not a musicsep U-Net checkpoint: {path}")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"unsupported U-Net checkpoint version {payload.get('version')!r} in {path}")
    if not isinstance(payload.get("config"), dict) or not isinstance(payload.get("state_dict"), dict):
        raise UserError(f"U-Net checkpoint {path} lacks its config or weights")
    return payload


def training_record(payload: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint says about how it was made (command, data, training, validation, its own
    starting point): what a model made from it records of it."""
    keys = ("command", "data", "training", "validation", "initialised_from", "widened_from", "averaged_from")
    return {k: payload[k] for k in keys if payload.get(k) is not None}


def build_model(config: dict[str, Any]) -> UNet:
    known = {k: config[k] for k in DEFAULT_CONFIG if k in config}
    return UNet(**known)


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[UNet, dict[str, Any]]:
    """Rebuild the network from a checkpoint -> (model in eval mode on ``device``, checkpoint dict)."""
    payload = read_checkpoint(path)
    try:
        model = build_model(payload["config"])
        model.load_state_dict(payload["state_dict"], strict=True)
    except (RuntimeError, ValueError, TypeError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"U-Net checkpoint {path} does not match the network: {reason[:160]}") from None
    return model.to(device).eval(), payload


# ------------------------------------------------------------------------------------ separator

def _cpu_has_bfloat16() -> bool:
    """Whether this CPU does bfloat16 arithmetic natively (elsewhere oneDNN emulates it, slowly)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


BACKENDS = ("torch", "onnx")


class TorchNetwork:
    """Runs the torch module: magnitudes ``(1, channels, max_bin, frames)`` -> float32 CPU masks."""

    def __init__(self, model: UNet, device: torch.device, bfloat16: bool):
        self.model, self.device, self.bfloat16 = model, device, bfloat16

    @torch.inference_mode()
    def __call__(self, magnitude: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bfloat16):
            return self.model(magnitude.to(self.device)).float().cpu()


# The input levels the network trained on: the 10th and 90th percentiles of the RMS of the synthetic
# training songs' 20 s windows (-21.1 and -12.8 dBFS, docs/unet.md "Step 23"). Its masks depend
# on the input level (log magnitudes); a window outside this range is brought to the nearer bound.
LEVEL_RANGE = (10 ** (-21 / 20), 10 ** (-13 / 20))
GAIN_RANGE = (10 ** (-12 / 20), 10 ** (24 / 20))  # a near-silent window is not blown up further


def input_gain(mixture: np.ndarray) -> float:
    """The gain that brings ``mixture``'s RMS into :data:`LEVEL_RANGE` (1 inside it), clipped to
    :data:`GAIN_RANGE`."""
    rms = float(np.sqrt(np.mean(np.square(mixture, dtype=np.float64)))) if mixture.size else 0.0
    target = min(max(rms, LEVEL_RANGE[0]), LEVEL_RANGE[1])
    return float(np.clip(target / max(rms, 1e-12), *GAIN_RANGE))


class UNetSeparator(MaskingSeparator):
    """The trained U-Net behind the separator contract (see :mod:`musicsep.separators.masking`).

    Parameters
    ----------
    model_path : checkpoint file; default the shipped ``best_model.pth`` (see :func:`shipped_model`).
        With ``backend="onnx"`` also an exported ``.onnx`` file (``musicsep export``).
    device : ``"cpu"`` or ``"cuda"`` (the STFT and Wiener filter run on the CPU either way).
    wiener_iterations : multichannel Wiener filter iterations after the masks; 0 = raw masks.
        ``None`` (default) uses the number stored in the checkpoint, chosen on the validation split.
    bfloat16 : run the network's convolutions in bfloat16 (softmax and everything after in float32).
        ``None`` (default): on a CPU with native bfloat16 arithmetic (AVX-512 BF16 or AMX), for a
        loaded model; never for a live (training) model. Torch backend only.
    backend : what runs the network: ``"torch"`` (default), or ``"onnx"``: onnxruntime on the CPU,
        with the checkpoint's ONNX export (made on first use and cached, :func:`musicsep.export.cached_onnx`).
        Everything around the network (STFT, masks, Wiener, inverse STFT, chunking) is the same code.
    level_normalisation : feed the network each window within the training songs' range of levels
        (:data:`LEVEL_RANGE`; the masks depend on the input level); the stems keep the input's level.
    """

    chunk_seconds = 20.0  # preferred chunking for musicsep.inference: peak memory ~0.75 GB whatever the length
    overlap_seconds = 1.0
    wiener_power = 1.0  # the Wiener filter starts from the masked magnitudes themselves (as trained)
    residual_last_stem = True  # one inverse STFT fewer: an eighth of the run time

    def __init__(self, model_path: str | Path | None = None, device: str = "cpu",
                 wiener_iterations: int | None = None, model: UNet | None = None,
                 bfloat16: bool | None = None, backend: str = "torch", level_normalisation: bool = True):
        if backend not in BACKENDS:
            raise UserError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise UserError("device cuda asked for, but torch sees no CUDA GPU")
        self.device = torch.device(device)
        self.backend = backend
        keep_freed_memory()  # every window allocates and frees MB-sized arrays
        self.level_normalisation = bool(level_normalisation)
        path = Path(model_path) if model_path is not None else DEFAULT_MODEL_PATH
        if backend == "onnx":
            self.network, config, self.checkpoint = self._onnx_network(path, model)
            self.model = None
        else:
            if path.suffix.lower() == ".onnx" and model is None:
                raise UserError(f"{path} is an ONNX model: run it with the onnx backend")
            if model is not None:  # a live model (training's validation): used as is, never fused
                self.model, self.checkpoint = model, {}
            else:
                self.model, self.checkpoint = load_model(path, self.device)
                self.model.fuse()
            config = self.model.config()
            if bfloat16 is None:
                bfloat16 = model is None and self.device.type == "cpu" and _cpu_has_bfloat16()
            self.network = TorchNetwork(self.model, self.device, bool(bfloat16))
        if wiener_iterations is None:
            wiener_iterations = int(self.checkpoint.get("wiener_iterations", 0))
        if wiener_iterations < 0:
            raise UserError("wiener_iterations must be 0 or more")
        self.wiener_iterations = int(wiener_iterations)
        self.sources: tuple[str, ...] = tuple(config["sources"])
        self.n_fft, self.hop_length = int(config["n_fft"]), int(config["hop_length"])
        self.max_bin = int(config["max_bin"])

    @property
    def bfloat16(self) -> bool:
        """Whether the network's convolutions run in bfloat16 (settable; the onnx backend: never)."""
        return isinstance(self.network, TorchNetwork) and self.network.bfloat16

    @bfloat16.setter
    def bfloat16(self, value: bool) -> None:
        if isinstance(self.network, TorchNetwork):
            self.network.bfloat16 = bool(value)

    def _onnx_network(self, path: Path, model: UNet | None):
        """The onnxruntime runner for ``path`` (an .onnx file, or a checkpoint exported to the cache),
        the network config and the checkpoint facts the separator uses, from the ONNX metadata."""
        from musicsep.export import OnnxNetwork, cached_onnx

        if model is not None:
            raise UserError("a live (training) model runs on the torch backend only")
        if self.device.type != "cpu":
            raise UserError("the onnx backend runs on the CPU; use --backend torch for a GPU")
        # as many threads as torch uses (its default: the machine's cores), so both backends compare fairly
        network = OnnxNetwork(path if path.suffix.lower() == ".onnx" else cached_onnx(path), torch.get_num_threads())
        meta = network.metadata
        return network, meta["config"], {"wiener_iterations": meta["wiener_iterations"]}

    def stft_size(self) -> tuple[int, int]:
        return self.n_fft, self.hop_length

    def wiener_count(self) -> int:
        return self.wiener_iterations

    @torch.inference_mode()
    def mask_spectrogram(self, mixture: np.ndarray, spec: np.ndarray, sample_rate: int) -> "NetworkMasks":
        """The network's masks of the modelled bins ``(sources, channels, max_bin, frames)`` and, for the
        bins above, each frame's mean mask over the top modelled band ``(sources, channels, 1, frames)``."""
        fm = self.max_bin
        magnitudes = torch.from_numpy(np.ascontiguousarray(spec[:, :fm])).abs()
        if self.level_normalisation:
            magnitudes *= input_gain(mixture)
        masks = self.network(magnitudes[None])[0]  # torch (or onnxruntime): float32 CPU masks
        return NetworkMasks(masks, masks[:, :, fm - EXTEND_BINS:].mean(dim=2, keepdim=True))

    def separate(self, mixture: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        mixture = np.asarray(mixture, dtype=np.float32)
        if mixture.ndim != 2:
            raise UserError(f"mixture must be (samples, channels), got shape {mixture.shape}")
        if sample_rate != SAMPLE_RATE:
            raise UserError(f"the U-Net expects {SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
        n, channels = mixture.shape
        if n == 0:
            return {s: np.zeros_like(mixture) for s in self.sources}
        if channels not in (1, 2):
            raise UserError(f"the U-Net takes mono or stereo input, got {channels} channels")
        stems = super().separate(np.repeat(mixture, 2, axis=1) if channels == 1 else mixture, sample_rate)
        if channels == 1:
            stems = {k: np.ascontiguousarray(v.mean(axis=1, keepdims=True)) for k, v in stems.items()}
        return stems


class NetworkMasks(Masks):
    """The U-Net's masks: the modelled bins' own, and one mask per frame for all the bins above.

    Applied without ever building a full-band mask; complex values are multiplied as (re, im)
    pairs, so no complex copy of the masks is made either.
    """

    def __init__(self, masks: torch.Tensor, top: torch.Tensor):
        self.masks, self.top = masks, top

    def apply(self, values: np.ndarray, source: int | None = None) -> np.ndarray:
        values_t = torch.from_numpy(np.ascontiguousarray(values))
        if source is None:
            return self._masked(values_t, self.masks, self.top)
        return self._masked(values_t, self.masks[source], self.top[source])

    @staticmethod
    def _masked(values: torch.Tensor, masks: torch.Tensor, top: torch.Tensor) -> np.ndarray:
        """Masks x ``values`` ``(channels, bins, frames)``, real or complex: ``(..., channels, bins, frames)``."""
        fm, bins = masks.shape[-2], values.shape[1]
        out = torch.empty((*masks.shape[:-3], *values.shape), dtype=values.dtype)
        axis = masks.dim() - 2  # the bins axis of out
        if values.is_complex():
            values, out_view, masks, top = (torch.view_as_real(values), torch.view_as_real(out),
                                            masks[..., None], top[..., None])
        else:
            out_view = out
        torch.mul(masks, values[:, :fm], out=out_view.narrow(axis, 0, fm))
        torch.mul(top, values[:, fm:], out=out_view.narrow(axis, fm, bins - fm))
        return out.numpy()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["UNet", "UNetSeparator", "BACKENDS", "save_checkpoint", "write_checkpoint", "load_model", "read_checkpoint", "build_model",
           "DEFAULT_MODEL_PATH", "DEFAULT_CONFIG", "count_parameters"]

