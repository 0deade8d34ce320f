"""Serving an ASGI app with uvicorn on a socket bound here: the sandbox and the ui.

The caller binds the socket (so port 0 gives a known free port before anything
starts) and chooses the foreground, until Ctrl-C, or a background thread, for
tests and benchmarks. No access log: requests carry personal data.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import uvicorn
from starlette.applications import Starlette

from importer.errors import UsageError


class _Server(uvicorn.Server):
    """A uvicorn server that says when it accepts connections."""

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


def _server(
    app: Starlette,
    *,
    on_started: Callable[[], None],
    lifespan: Literal["on", "off"],
    shutdown_seconds: float,
    tls: tuple[Path, Path] | None = None,
) -> _Server:
    config = uvicorn.Config(
        app,
        # The protocol and loop the sandbox's dropped connections are verified with:
        # uvicorn would pick uvloop when installed, whose transports work otherwise.
        http="h11",
        loop="asyncio",
        lifespan=lifespan,
        log_config=None,  # leave the host application's logging alone
        log_level="warning",
        access_log=False,  # request lines name files and rows; payloads are personal data
        timeout_graceful_shutdown=int(shutdown_seconds),
        # (certificate chain, private key) in PEM: serve https.
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    return _Server(config, on_started=on_started)


def listening_socket(host: str, port: int, *, hint: str = "") -> socket.socket:
    """A socket listening on host:port (0: a free port); `UsageError` when it cannot."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host, port), family=family)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    # asyncio sets TCP_NODELAY only on sockets whose protocol is IPPROTO_TCP, and
    # create_server makes them with 0; without it every answer waits ~40 ms for a
    # delayed ACK (Nagle). Accepted connections inherit the option on Linux.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def serve_until_interrupted(
    app: Starlette,
    listener: socket.socket,
    *,
    on_started: Callable[[], None],
    lifespan: Literal["on", "off"] = "off",
    shutdown_seconds: float = 1,
    tls: tuple[Path, Path] | None = None,
) -> None:
    """Serve in the foreground; Ctrl-C is the normal end, not an error."""
    server = _server(
        app, on_started=on_started, lifespan=lifespan, shutdown_seconds=shutdown_seconds, tls=tls
    )
    # uvicorn re-raises the SIGINT it handled once it has shut down.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[listener])


@contextlib.contextmanager
def serving_in_thread(
    app: Starlette,
    listener: socket.socket,
    *,
    name: str,
    lifespan: Literal["on", "off"] = "off",
    shutdown_seconds: float = 1,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[None]:
    """Serve in a background thread from when it accepts connections until the block ends."""
    started = threading.Event()
    server = _server(
        app, on_started=started.set, lifespan=lifespan, shutdown_seconds=shutdown_seconds, tls=tls
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name=name, daemon=True
    )
    thread.start()
    try:
        while not started.wait(timeout=0.01):
            if not thread.is_alive():
                raise RuntimeError(f"the {name} server stopped while starting")
        yield
    finally:
        server.should_exit = True
        thread.join()
