"""``musicsep web``: serve the in-browser separation page with the standard library's http.server.

The server sends only static files: the page (this folder), onnxruntime-web's JavaScript and
WebAssembly (``node_modules/onnxruntime-web/dist``, installed by ``npm ci`` at set-up) and the U-Net
as ONNX with its settings as JSON (``/model.onnx``, ``/model.json``). Songs are decoded and separated
by the browser; nothing is ever sent back. Every response carries the cross-origin isolation headers
(COOP/COEP) that let the browser give WebAssembly threads to onnxruntime-web.
"""

from __future__ import annotations

import io
import json
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from musicsep.errors import UserError

WEB_DIR = Path(__file__).resolve().parent
ORT_DIST = WEB_DIR / "node_modules" / "onnxruntime-web" / "dist"
# The onnxruntime-web build the page loads (WebAssembly backend, SIMD, threads) and its worker code.
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
PAGE_FILES = ("index.html", "app.js", "dsp.js", "style.css")
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # a re-exported model or an updated page is picked up on reload
}


def page_routes(model_path: str | Path | None) -> dict[str, Path | bytes]:
    """URL path -> file (or content), for everything the page may load; exports the model first if needed."""
    from musicsep.export import cached_onnx, read_metadata
    from musicsep.separators.unet import DEFAULT_MODEL_PATH

    missing = [name for name in ORT_FILES if not (ORT_DIST / name).is_file()]
    if missing:
        raise UserError(f"onnxruntime-web is not installed ({ORT_DIST / missing[0]} is missing); "
                        f"run `npm ci` in {WEB_DIR} (scripts/setup.sh does)")
    model = Path(model_path) if model_path else DEFAULT_MODEL_PATH
    onnx_path = model if model.suffix.lower() == ".onnx" else cached_onnx(model)
    metadata = read_metadata(onnx_path)
    settings = json.dumps({key: metadata[key] for key in (
        "config", "stft", "sources", "wiener_iterations", "chunk_seconds", "overlap_seconds", "input_level",
        "musicsep_version", "checkpoint_sha256")}, indent=1).encode()
    routes: dict[str, Path | bytes] = {f"/{name}": WEB_DIR / name for name in PAGE_FILES}
    routes["/"] = WEB_DIR / "index.html"
    routes.update({f"/ort/{name}": ORT_DIST / name for name in ORT_FILES})
    routes["/model.onnx"], routes["/model.json"] = onnx_path, settings
    return routes


class PageHandler(SimpleHTTPRequestHandler):
    """GET/HEAD of the routes only (no folder listings, nothing outside them), with isolation headers."""

    extensions_map = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
                      ".css": "text/css", ".wasm": "application/wasm", ".json": "application/json",
                      ".onnx": "application/octet-stream", "": "application/octet-stream"}

    def __init__(self, *args, routes: dict[str, Path | bytes], **kwargs):
        self.routes = routes
        super().__init__(*args, **kwargs)

    def _route(self, path: str) -> Path | bytes | None:
        return self.routes.get(unquote(urlsplit(path).path))

    def send_head(self):
        content = self._route(self.path)
        if not isinstance(content, bytes):
            return super().send_head()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        return io.BytesIO(content)

    def translate_path(self, path: str) -> str:
        target = self._route(path)
        return str(target) if isinstance(target, Path) else str(WEB_DIR / "does-not-exist")

    def end_headers(self) -> None:
        for key, value in ISOLATION_HEADERS.items():
            self.send_header(key, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        if str(args[1] if len(args) > 1 else "").startswith(("4", "5")):  # errors only: the page's files are dull
            sys.stderr.write(f"{self.address_string()} {format % args}\n")


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # the browser left mid-download: nothing to report
            return
        super().handle_error(request, client_address)


def make_server(host: str, port: int, model_path: str | Path | None = None) -> PageServer:
    """Bind first (a taken port is reported at once), then export the model if it is not cached yet."""
    routes: dict[str, Path | bytes] = {}
    try:
        server = PageServer((host, port), partial(PageHandler, routes=routes))
    except OSError as exc:  # port in use or privileged, unknown host name, address not on this machine
        raise UserError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    try:
        routes.update(page_routes(model_path))
    except BaseException:
        server.server_close()
        raise
    return server


def serve(host: str, port: int, model_path: str | Path | None = None) -> int:
    server = make_server(host, port, model_path)
    bound_host, bound_port = server.server_address[:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
    print(f"Serving the musicsep page at http://{shown}:{bound_port}/ (Ctrl+C to stop); "
          "songs are separated in the browser and never leave it", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
