"""The web server of ``gpudeconv tune``: the standard library's threading
HTTP server, a random token, loopback Host names only.

It answers a fixed set of paths (the page, the two previews, the PSF picture,
the command line, Estimate and Save) and reads no file but the one input;
Save writes only a new file beside it. Every request must carry the token
(403 otherwise), and its Host header must name this machine's loopback
address (or, when the server listens beyond loopback, an IP address or the
name given with ``--host``), which defeats DNS rebinding.
"""

from __future__ import annotations

import argparse
import dataclasses
import hmac
import ipaddress
import json
import secrets
import socket
import sys
import threading
import traceback
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qsl, urlsplit

from . import deblur, options, video
from .tune_preview import (
    Settings,
    Source,
    command_argv,
    command_line,
    encode,
    output_path,
    psf_picture,
    restored_view,
)

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
_CSP = (
    "default-src 'none'; img-src 'self' blob: data:; connect-src 'self' blob:; "
    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class TuneServer(ThreadingHTTPServer):
    """Serves one input to the tune page; ``url`` carries the access token.

    Previews are computed one at a time (``compute_lock``); a preview request
    that a newer one of the same page has overtaken while it waited is
    dropped with 204 instead of being computed.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, source: Source, *, host="127.0.0.1", port=0, psf_file=None,
                 initial: Settings | None = None, backend="auto"):  # fmt: skip
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)
        self.source, self.psf_file, self.backend = source, psf_file, backend
        self.initial = initial or Settings()
        self.initial.check(source.frames, psf_file)
        self.token = secrets.token_urlsafe(18)
        self.compute_lock, self.save_lock = threading.Lock(), threading.Lock()
        self._newest: OrderedDict[str, int] = OrderedDict()
        self._newest_lock = threading.Lock()
        self.hosts = {"localhost", "127.0.0.1", "::1"}
        self.any_ip = not is_loopback(host)
        if host not in ("", "0.0.0.0", "::"):
            self.hosts.add(host.strip("[]").lower())

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", "::", ""):  # any address: this machine's own works
            host = "127.0.0.1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/?token={self.token}"

    def host_allowed(self, header: str | None) -> bool:
        try:
            name = urlsplit(f"//{header or ''}").hostname or ""
        except ValueError:  # a malformed Host, such as "[::1"
            return False
        if name in self.hosts or is_loopback(name):
            return True
        if self.any_ip:
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False

    def announce(self, session: str, seq: int) -> None:
        """Record that page ``session`` asked for preview number ``seq``."""
        with self._newest_lock:
            if seq > self._newest.get(session, -1):
                self._newest[session] = seq
                self._newest.move_to_end(session)
            while len(self._newest) > 64:
                self._newest.popitem(last=False)

    def is_stale(self, session: str, seq: int) -> bool:
        with self._newest_lock:
            return seq < self._newest.get(session, -1)

    def config(self) -> dict:
        """What the page starts from."""
        source, first = self.source, self.source.frame(0)
        return {
            "name": source.path.name,
            "video": source.is_video,
            "frames": source.frames,
            "rows": first.shape[0],
            "cols": first.shape[1],
            "file": self.psf_file,
            "settings": dataclasses.asdict(self.initial),
        }


def run_command(argv: list[str]) -> None:
    """Run ``gpudeconv deblur`` or ``video`` in this process, as the command line
    would (its parser, its code), quietly."""
    parser = argparse.ArgumentParser(prog="gpudeconv")
    sub = parser.add_subparsers(dest="command", required=True)
    restore = options.restore_options()
    for command in (deblur, video):
        command.register(sub, [restore])
    args = parser.parse_args([*argv, "--quiet"])
    if args.run(args) != 0:
        raise RuntimeError(f"gpudeconv {argv[0]} failed")


def page(config: dict) -> bytes:
    html = resources.files("gpudeconv.commands").joinpath("tune_page.html").read_text("utf-8")
    data = json.dumps(config).replace("<", "\\u003c")
    return html.replace("/*CONFIG*/{}", data).encode("utf-8")


def _box(query: dict) -> tuple[tuple[int, int], tuple[float, float] | None]:
    try:
        rows, cols = int(query.get("h", 540)), int(query.get("w", 960))
        centre = None
        if query.get("zoom") == "1":
            centre = tuple(round(min(max(float(query[k]), 0.0), 1.0), 3) for k in ("cr", "cc"))
    except (ValueError, KeyError):
        raise ValueError("w, h, zoom, cr and cc must be numbers") from None
    return (min(max(rows, 16), 4096), min(max(cols, 16), 4096)), centre


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TuneServer

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 16))
        self.route("POST")

    def send(self, status: int, body: bytes = b"", kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        if kind.startswith("text/html"):
            self.send_header("Content-Security-Policy", _CSP)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, data: dict, status: int = 200) -> None:
        self.send(status, json.dumps(data).encode("utf-8"))

    def route(self, method: str) -> None:
        server = self.server
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if not server.host_allowed(self.headers.get("Host")):
            return self.send_json({"error": "Host header not allowed"}, 403)
        token = query.pop("token", "")
        if not hmac.compare_digest(token.encode(), server.token.encode()):
            return self.send_json({"error": "missing or wrong token"}, 403)
        routes = {
            ("GET", "/"): self.page,
            ("GET", "/original"): self.original,
            ("GET", "/preview"): self.preview,
            ("GET", "/psf"): self.psf,
            ("GET", "/command"): self.command_json,
            ("POST", "/estimate"): self.estimate,
            ("POST", "/save"): self.save,
        }
        action = routes.get((method, parts.path))
        if action is None:
            return self.send_json({"error": f"no such page: {method} {parts.path}"}, 404)
        try:
            action(query)
        except ConnectionError:  # the page went away or dropped the request
            self.close_connection = True
        except (ValueError, TypeError, FileExistsError) as exc:
            self.send_json({"error": str(exc)}, 400)
        except Exception as exc:  # one message for the page; the server keeps running
            traceback.print_exc()
            self.send_json({"error": f"{type(exc).__name__}: {exc}"}, 500)

    def settings(self, query: dict) -> Settings:
        server = self.server
        return Settings.from_query(query, frames=server.source.frames, psf_file=server.psf_file)

    def page(self, query):
        self.send(200, page(self.server.config()), "text/html; charset=utf-8")

    def image(self, pixels, query):
        fmt = "png" if query.get("fmt") == "png" else "jpeg"
        self.send(200, encode(pixels, fmt), f"image/{fmt}")

    def original(self, query):
        box, centre = _box(query)
        frame = self.settings({"frame": query.get("frame", "0")}).frame
        self.image(self.server.source.view(frame, box, centre)[0], query)

    def preview(self, query):
        server = self.server
        session = query.get("session", "")[:64]
        try:
            seq = int(query.get("seq", 0))
        except ValueError:
            raise ValueError(f"seq must be an integer, got {query['seq']!r}") from None
        settings, (box, centre) = self.settings(query), _box(query)
        server.announce(session, seq)
        with server.compute_lock:
            if server.is_stale(session, seq):
                return self.send(204)
            restored = restored_view(
                server.source, settings, box, centre, server.psf_file, server.backend
            )
        self.image(restored, query)

    def psf(self, query):
        kernel = self.settings(query).psf(self.server.psf_file)
        self.send(200, psf_picture(kernel), "image/png")

    def command_json(self, query):
        server, settings = self.server, self.settings(query)
        output = output_path(server.source)
        argv = command_argv(server.source, settings, output, server.psf_file, server.backend)
        self.send_json({"command": command_line(argv), "output": str(output)})

    def estimate(self, query):
        import gpudeconv

        estimate_psf = getattr(gpudeconv, "estimate_psf", None)
        if estimate_psf is None:
            message = "this gpudeconv has no estimate_psf: PSF estimation is not installed"
            return self.send_json({"error": message}, 501)
        frame = self.server.source.frame(self.settings(query).frame)
        found = estimate_psf(frame, channel_axis=-1 if frame.ndim == 3 else None)
        self.send_json(
            {
                "kind": found.kind,
                "params": {k: float(v) for k, v in dict(found.params).items()},
                "spec": found.spec,
                "confidence": float(found.confidence),
                "reason": str(found.reason),
            }
        )

    def save(self, query):
        server, settings = self.server, self.settings(query)
        with server.save_lock:  # one Save at a time: each gets its own new name
            output = output_path(server.source)
            argv = command_argv(server.source, settings, output, server.psf_file, server.backend)
            run_command(argv)
        self.send_json({"path": str(output), "command": command_line(argv)})
