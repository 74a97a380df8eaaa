"""Speed of the U-Net's backends on the same 30 s clip, in one run: torch, onnxruntime, and
optionally the page in headless Chromium (onnxruntime-web, WebAssembly).

    .venv/bin/python benchmarks/onnx_speed.py [--model best_model.pth] [--threads 2] [--repeats 5]
        [--browser] [--json out.json]

The clip is the first 30 s of a synthetic test song (else the real excerpt tiled). Python backends:
:func:`musicsep.inference.separate` (what ``musicsep separate`` runs: 20 s chunks, 1 s overlap, the
checkpoint's Wiener setting) after one warm-up; torch with its default precision (bfloat16 where
the CPU has it natively) and with float32 forced; onnxruntime with as many threads as torch.
Browser: the page separates the clip written as a 32-bit WAV, from the file's choice to playable
stems (decoding, STFT, network, inverse STFT, WAV encoding), with as many WebAssembly threads as the
page takes (``min(4, cores)``). Realtime factor = clip length / wall time (bigger is faster); best
and median of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicsep import SAMPLE_RATE  # noqa: E402
from musicsep.data.musdb import EXCERPT_NAME, load_tracks  # noqa: E402
from musicsep.inference import separate  # noqa: E402
from musicsep.separators.unet import UNetSeparator  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def summary(name: str, times: list[float], seconds: float) -> dict[str, float]:
    best, median = min(times), statistics.median(times)
    print(f"{name:28s} best {best:.3f} s ({seconds / best:5.1f}x real time), "
          f"median {median:.3f} s ({seconds / median:5.1f}x)", flush=True)
    return {"best_s": best, "median_s": median, "realtime_factor_best": seconds / best,
            "realtime_factor_median": seconds / median, "runs": len(times)}


def python_backend(separator: UNetSeparator, clip: np.ndarray, repeats: int) -> list[float]:
    separate(separator, clip[:SAMPLE_RATE], SAMPLE_RATE)  # warm-up: kernels, thread pools
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        separate(separator, clip, SAMPLE_RATE)
        times.append(time.perf_counter() - start)
    return times


def browser_backend(model: str | None, clip: np.ndarray, repeats: int) -> tuple[list[float], int]:
    """Wall times of the page (headless Chromium) on ``clip``, and the page's WebAssembly threads."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        song = Path(folder) / "clip.wav"
        sf.write(song, clip, SAMPLE_RATE, subtype="FLOAT")
        command = [sys.executable, "-m", "musicsep.cli", "web", "--port", "0"] + (["--model", model] if model else [])
        server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
        try:
            line = server.stdout.readline()
            if "http://" not in line:
                raise SystemExit(f"musicsep web did not start: {line}")
            url = "http://" + line.split("http://")[1].split()[0]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.goto(url)
                page.wait_for_selector("body[data-ready=true]", timeout=300_000)
                threads = int(page.get_attribute("body", "data-threads"))
                times = []
                for run in range(repeats + 1):  # the first is a warm-up
                    start = time.perf_counter()
                    page.set_input_files("#file", str(song))
                    page.wait_for_function("document.body.dataset.speed && !document.getElementById('file').disabled"
                                           " && document.getElementById('progress').hidden", timeout=600_000)
                    elapsed = time.perf_counter() - start
                    page.evaluate("delete document.body.dataset.speed")
                    if run:
                        times.append(elapsed)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return times, threads


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="U-Net checkpoint (default: best_model.pth)")
    p.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    p.add_argument("--json", default=None, help="write the results here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tracks = load_tracks(subset="test")
    synth = [t for t in tracks if t.name != EXCERPT_NAME]
    clip = synth[0].mixture if synth else np.tile(tracks[0].mixture, (5, 1))
    clip = np.ascontiguousarray(clip[: 30 * SAMPLE_RATE], dtype=np.float32)
    seconds = len(clip) / SAMPLE_RATE
    result: dict = {"model": args.model or "best_model.pth", "threads": args.threads, "clip_seconds": seconds,
                    "clip": synth[0].name if synth else f"{EXCERPT_NAME} (tiled)", "cpu_count": os.cpu_count(),
                    "torch": torch.__version__, "backends": {}}
    default = UNetSeparator(args.model)
    runs = {f"torch ({'bfloat16' if default.bfloat16 else 'float32'}, default)": default}
    if default.bfloat16:
        runs["torch (float32)"] = UNetSeparator(args.model, bfloat16=False)
    runs["onnxruntime"] = UNetSeparator(args.model, backend="onnx")
    for name, separator in runs.items():
        result["backends"][name] = summary(name, python_backend(separator, clip, args.repeats), seconds)
    import onnxruntime

    result["onnxruntime"] = onnxruntime.__version__
    if args.browser:
        times, threads = browser_backend(args.model, clip, args.repeats)
        result["backends"]["chromium (onnxruntime-web)"] = summary(f"chromium ({threads} wasm threads)", times, seconds)
        result["browser_threads"] = threads
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
