"""The U-Net as ONNX: export, metadata, an onnxruntime runner, and the export cache.

The graph is the network alone, as :class:`musicsep.separators.unet.UNet` runs inside the
separator: mixture magnitudes of the modelled bins ``magnitude (batch, channels, max_bin, frames)``
float32 in, soft masks ``masks (batch, sources, channels, max_bin, frames)`` float32 out; batch and
frames are dynamic. The STFT, the masks of the bins above ``max_bin`` (each frame's mean over the top
``extend_bins`` modelled bins), the optional Wiener filter and the inverse STFT stay outside, in
Python (:class:`UNetSeparator` with ``backend="onnx"``) or JavaScript (the page in ``musicsep/web``).

Exported with the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) at opset
:data:`ONNX_OPSET`, after folding BatchNorm into the convolutions; the newer dynamo exporter would
need onnxscript and buys nothing for this graph of plain convolutions. The model's
``metadata_props`` carry what a runtime needs to rebuild the signal path (see :func:`metadata_for`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from musicsep import SAMPLE_RATE, __version__
from musicsep.errors import UserError

ONNX_OPSET = 17
ONNX_FORMAT = "musicsep-unet-onnx"
ONNX_FORMAT_VERSION = 2  # 2: input_level (the network's input is brought into its training range of levels)
INPUT_NAME, OUTPUT_NAME = "magnitude", "masks"
CACHE_ENV = "MUSICSEP_CACHE_DIR"  # where derived files (the exported model) go; default ~/.cache/musicsep


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def metadata_for(checkpoint: dict[str, Any], checkpoint_sha256: str) -> dict[str, str]:
    """The ONNX ``metadata_props``: strings; structured values as JSON."""
    from musicsep.separators.unet import EXTEND_BINS, GAIN_RANGE, LEVEL_RANGE, UNetSeparator

    config = checkpoint["config"]
    stft = {"n_fft": config["n_fft"], "hop_length": config["hop_length"], "window": "hann (periodic)",
            "center": True, "pad_mode": "reflect (constant when the signal is at most n_fft / 2 long)",
            "sample_rate": SAMPLE_RATE, "max_bin": config["max_bin"], "extend_bins": EXTEND_BINS}
    return {
        "musicsep_format": ONNX_FORMAT,
        "musicsep_format_version": str(ONNX_FORMAT_VERSION),
        "musicsep_version": __version__,
        "checkpoint_version": str(checkpoint.get("version")),
        "checkpoint_sha256": checkpoint_sha256,
        "config": json.dumps(config),
        "stft": json.dumps(stft),
        "sources": json.dumps(list(config["sources"])),
        "wiener_iterations": str(int(checkpoint.get("wiener_iterations", 0))),
        "chunk_seconds": str(UNetSeparator.chunk_seconds),
        "overlap_seconds": str(UNetSeparator.overlap_seconds),
        # a window whose RMS is outside level_range is scaled to the nearer bound (gain clipped to gain_range)
        "input_level": json.dumps({"level_range": list(LEVEL_RANGE), "gain_range": list(GAIN_RANGE)}),
        "opset": str(ONNX_OPSET),
        "io": f"{INPUT_NAME} (batch, channels, max_bin, frames) float32 magnitudes -> "
              f"{OUTPUT_NAME} (batch, sources, channels, max_bin, frames) float32, softmax over sources",
        "validation": json.dumps(checkpoint.get("validation", {}), default=str)[:4000],
    }


def export_onnx(model_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Write the checkpoint's network as ONNX to ``out_path`` (atomically); returns the path."""
    import warnings

    import onnx
    import torch

    from musicsep.audio import atomic_output
    from musicsep.separators.unet import load_model

    model_path, out_path = Path(model_path), Path(out_path)
    model, checkpoint = load_model(model_path)
    model.fuse()
    # Traced at a frame count that needs padding, so the graph keeps the (dynamic) padding to a
    # multiple of the network's time factor; any other length then runs through the same ops.
    frames = 3 * model.factor + 1
    example = torch.rand(1, model.in_channels, model.max_bin, frames)
    with atomic_output(out_path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape arithmetic, expected here
        torch.onnx.export(model, (example,), str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch", 3: "frames"},
                                        OUTPUT_NAME: {0: "batch", 4: "frames"}})
        proto = onnx.load(str(tmp))
        proto.producer_name, proto.producer_version = "musicsep", __version__
        proto.doc_string = f"musicsep U-Net separator network, exported from {model_path.name}"
        for key, value in metadata_for(checkpoint, file_sha256(model_path)).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
    return out_path


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache",
                                                    "musicsep")
    return Path(root)


def cached_onnx(model_path: str | os.PathLike) -> Path:
    """The ONNX export of a checkpoint, made on first use and kept in :func:`cache_dir`.

    Named by the checkpoint's SHA-256 (and the export format), so a retrained model is exported anew.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        from musicsep.separators.unet import read_checkpoint

        read_checkpoint(model_path)  # the usual one-line error for a missing model or a folder
    target = cache_dir() / f"unet-{file_sha256(model_path)[:16]}-v{ONNX_FORMAT_VERSION}-opset{ONNX_OPSET}.onnx"
    if not target.exists():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the cache folder {target.parent}: {exc.strerror or exc}") from None
        export_onnx(model_path, target)
    return target


def read_metadata(session_or_path: Any) -> dict[str, Any]:
    """An exported model's metadata (from an onnxruntime session or a file), JSON values decoded."""
    session = session_or_path if hasattr(session_or_path, "get_modelmeta") else open_session(session_or_path)
    raw = dict(session.get_modelmeta().custom_metadata_map)
    if raw.get("musicsep_format") != ONNX_FORMAT:
        raise UserError("not a musicsep U-Net ONNX model (no musicsep metadata)")
    if raw.get("musicsep_format_version") != str(ONNX_FORMAT_VERSION):
        raise UserError(f"unsupported musicsep ONNX format version {raw.get('musicsep_format_version')!r}")
    meta: dict[str, Any] = dict(raw)
    for key in ("config", "stft", "sources", "validation", "input_level"):
        meta[key] = json.loads(raw[key]) if key in raw else None
    for key in ("wiener_iterations", "opset", "musicsep_format_version"):
        meta[key] = int(raw[key])
    for key in ("chunk_seconds", "overlap_seconds"):
        meta[key] = float(raw[key])
    return meta


def open_session(path: str | os.PathLike, threads: int | None = None):
    """An onnxruntime CPU session for ``path``; a file that is not a model is a one-line UserError."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise UserError(f"ONNX model not found: {path}" if not path.exists() else f"ONNX model path is a folder: {path}")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"not a usable ONNX model: {path} ({reason[:160]})") from None


class OnnxNetwork:
    """Runs the exported network with onnxruntime: same call as the torch module's forward on
    ``(1, channels, max_bin, frames)`` magnitudes, masks as a float32 CPU tensor."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.path = Path(path)
        self.session = open_session(self.path, threads)
        self.metadata = read_metadata(self.session)

    def __call__(self, magnitude):
        import torch

        mag = np.ascontiguousarray(magnitude.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run([OUTPUT_NAME], {INPUT_NAME: mag})[0])


__all__ = ["ONNX_OPSET", "export_onnx", "cached_onnx", "read_metadata", "open_session", "OnnxNetwork", "cache_dir"]
