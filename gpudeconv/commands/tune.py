"""``gpudeconv tune``: find the PSF and the settings by eye, live, in a browser."""

from __future__ import annotations

import errno
import os
import socket
import sys

from ..engine.dispatch import resolve_backend
from ..psf import SPEC_HELP, from_spec
from . import options
from .tune_preview import Settings, Source
from .tune_server import TuneServer, is_loopback

DEFAULT_PORT = 8765


def register(sub, parents) -> None:
    """Add the ``tune`` subcommand; ``parents`` end with ``--debug``."""
    tune = sub.add_parser(
        "tune",
        parents=parents[-1:],
        help="find the PSF and the settings by eye, live, in a browser",
        description="Start a small web server for one photo or video and open its page: "
        "sliders for the PSF, the method, the snr and the border re-restore a view-sized "
        "preview as they move; Estimate guesses the PSF; Save writes the full-resolution "
        "result beside INPUT (never over a file); the page shows the equivalent "
        "'gpudeconv deblur' or 'gpudeconv video' command. The URL printed carries a random "
        "token that every request needs. On a GPU server reached by ssh: run it there "
        "with --no-browser, forward the port (ssh -L 8765:127.0.0.1:8765 SERVER) and open "
        "the URL on your own machine. Ctrl-C stops it.",
    )
    tune.add_argument("input", metavar="INPUT", help="a photo or a video")
    tune.add_argument(
        "--psf",
        metavar="SPEC",
        help=f"the PSF to start from: {SPEC_HELP} (a file adds 'file' to the PSF choices)",
    )
    tune.add_argument(
        "--port",
        type=options.non_negative_int,
        metavar="N",
        help=f"port to listen on (default: {DEFAULT_PORT}, or a free one if it is taken; "
        "0: any free port)",
    )
    tune.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens "
        "it to the network: anyone who can reach the port and has the token can use it)",
    )
    tune.add_argument("--no-browser", action="store_true", help="print the URL only")
    options.add_backend(tune)
    tune.set_defaults(run=run)


def initial_settings(spec: str | None) -> tuple[str | None, Settings]:
    """``(psf_file, settings)`` for the page to start from ``--psf SPEC``."""
    if spec is None:
        return None, Settings()
    from_spec(spec)  # the command line's own checks and messages
    kind, _, rest = spec.partition(":")
    values = rest.split(":")
    kind = kind.lower()
    if kind == "motion" and not os.path.exists(spec):
        if len(values) == 3 and values[2] != "opencv":
            raise ValueError(f"tune draws motion:LENGTH:ANGLE (OpenCV's kernel), got {spec!r}")
        return None, Settings(kind="motion", length=float(values[0]), angle=float(values[1]))
    if kind in ("gaussian", "disk") and not os.path.exists(spec):
        field = "sigma" if kind == "gaussian" else "radius"
        return None, Settings(kind=kind, **{field: float(values[0])})
    return spec, Settings(kind="file")


def serve(source, args, psf_file, settings) -> TuneServer:
    """The server on ``--port``, or on a free port when the default one is taken."""
    port = DEFAULT_PORT if args.port is None else args.port
    make = lambda port: TuneServer(  # noqa: E731
        source, host=args.host, port=port, psf_file=psf_file, initial=settings,
        backend=args.backend,
    )  # fmt: skip
    try:
        return make(port)
    except OSError as exc:
        if args.port is None and exc.errno == errno.EADDRINUSE:
            return make(0)
        raise OSError(f"cannot listen on {args.host}:{port}: {exc.strerror or exc}") from None


def open_browser(url: str) -> bool:
    """Open ``url`` in the default browser when there is a screen to show it on."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False  # a headless server: a text browser would take over the terminal
    import webbrowser

    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def run(args) -> int:
    resolve_backend(args.backend)
    source = Source(args.input)
    psf_file, settings = initial_settings(args.psf)
    server = serve(source, args, psf_file, settings)
    try:
        if not is_loopback(args.host):
            print(
                f"gpudeconv tune: warning: listening on {args.host}: anyone who can reach "
                "this port and has the token can use it (see the README for ssh -L)",
                file=sys.stderr,
            )
        print(f"gpudeconv tune: open {server.url} (Ctrl-C stops)", flush=True)
        if not args.no_browser and not open_browser(server.url):
            port = server.server_address[1]
            print(
                f"gpudeconv tune: no browser opened; from another machine: ssh -L "
                f"{port}:127.0.0.1:{port} {socket.gethostname()}, then open the URL there",
                file=sys.stderr,
            )
        server.serve_forever()
    except KeyboardInterrupt:
        print("gpudeconv tune: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
