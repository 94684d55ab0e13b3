"""Running the ASGI server (uvicorn) for `recon serve` and `recon demo`.

The address is bound before anything is announced or started: a port in use is one line on
stderr and exit 2, and `recon demo` has then neither started its simulators nor rewritten
`var/demo.toml`. uvicorn is handed the bound socket, so it never binds (nor fails to) itself.
"""

from __future__ import annotations

import errno
import gc
import signal
import socket
from types import FrameType
from typing import TYPE_CHECKING

import click
import msgspec

from recon.errors import ReconError, SettingsError
from recon.settings import Settings

if TYPE_CHECKING:
    import uvicorn

# what uvicorn exits with when its startup (the app's lifespan) fails
UVICORN_STARTUP_FAILURE = 3
BACKLOG = 2048  # uvicorn's default


def bind_listener(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one line saying why there can be none."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError, ValueError) as exc:
        raise SettingsError(f"--host: cannot listen on {host!r}: {_reason(exc)}") from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(BACKLOG)
    except OSError as exc:
        listener.close()
        hint = "; choose another with --port (make run PORT=…)"
        if exc.errno != errno.EADDRINUSE:
            hint = ""
        where = f"{_url_host(host)}:{port}"
        raise SettingsError(f"cannot listen on {where}: {_reason(exc)}{hint}") from None
    return listener


def serve_app(
    settings: Settings,
    listener: socket.socket,
    *,
    host: str,
    port: int,
    as_json: bool = False,
    scheduler: bool = True,
) -> None:
    """Announce the address already bound, then serve on it until stopped."""
    import uvicorn

    from recon.app import create_app
    from recon.system.logs import channel_secrets, configure_logging

    configure_logging(secrets=channel_secrets(settings.secrets))
    app = create_app(settings, scheduler=scheduler)
    url = f"http://{_url_host(host)}:{port}/"
    if as_json:
        click.echo(msgspec.json.encode({"url": url}).decode())
    else:
        click.echo(f"recon is serving at {url}  (API under {url}api/v1, OpenAPI at {url}schema)")
    # httptools and uvloop rather than the pure-Python h11 and asyncio loop: half the server's
    # time per request on /healthz, and each of a request's trips to SQLite's thread costs less
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # uvicorn's own lines go through recon's handler (recon.system.logs)
        access_log=False,
        http="httptools",
        loop="uvloop",
    )
    # what was made to start (modules, routes, the ORM's metadata) lives as long as the
    # process: moved out of the collector's sight, a full collection no longer walks it all
    # (tens of milliseconds added to whichever requests are in flight)
    gc.collect()
    gc.freeze()
    try:
        _server_class()(config).run(sockets=[listener])
    except SystemExit as exc:
        if exc.code == UVICORN_STARTUP_FAILURE:  # logged by uvicorn just above
            raise ReconError("the server failed to start; see the log above") from None
        raise


def _server_class() -> type[uvicorn.Server]:
    import uvicorn

    class StoppedBySigterm(uvicorn.Server):
        """SIGTERM is how an operator (docker, systemd) asks for a stop: after the graceful
        shutdown the process exits 0, as `recon scheduler` does, rather than uvicorn raising
        the signal again on its way out (exit 143)."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            if sig == signal.SIGTERM:
                self._captured_signals.remove(sig)

    return StoppedBySigterm


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
