"""Serving the page on 127.0.0.1: the launch token, the browser, a clean stop.

`serve` is what `captorra-import ui` calls; `running_server` runs the same server
in a thread for tests. Either way uvicorn logs no requests (addresses hold row
numbers and file names; bodies hold leads) and the private folder is removed
when the server stops.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import webbrowser
from collections.abc import Callable, Iterator

import uvicorn
from starlette.applications import Starlette

from importer.errors import UsageError
from importer.posting import check_endpoint
from importer.ui.app import UiConfig, close_workspace, create_app
from importer.ui.security import TOKEN_PARAMETER
from importer.ui.workspace import Workspace

HOST = "127.0.0.1"  # never another interface: the page holds personal data


class _Server(uvicorn.Server):
    """A uvicorn server that says when it accepts connections."""

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()


def _server(app: Starlette, *, on_started: Callable[[], None]) -> _Server:
    config = uvicorn.Config(
        app,
        http="h11",
        lifespan="on",
        log_config=None,  # leave the host application's logging alone
        log_level="warning",
        access_log=False,  # no request lines: they name files and rows
        timeout_graceful_shutdown=5,
    )
    return _Server(config, on_started=on_started)


def _listening_socket(port: int) -> socket.socket:
    try:
        return socket.create_server((HOST, port))
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(
            f"ui: cannot listen on {HOST}:{port}: {reason}; choose another port with --port"
        ) from None


def _prepare(config: UiConfig, listener: socket.socket) -> tuple[Starlette, str]:
    if not config.sandbox:
        check_endpoint(config.endpoint)
    token = secrets.token_urlsafe(32)
    port = listener.getsockname()[1]
    app = create_app(config, token=token, port=port)
    return app, f"http://{HOST}:{port}/?{TOKEN_PARAMETER}={token}"


def serve(config: UiConfig, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the page until Ctrl-C; opens it in the default browser unless told not to.

    `on_ready(url)` is called with the page's address (it holds the launch token)
    once the server accepts connections. Raises `UsageError` when the port is
    taken and `EndpointError` for an endpoint the importer refuses.
    """
    with _listening_socket(config.port) as listener:
        app, url = _prepare(config, listener)

        def ready() -> None:
            if on_ready is not None:
                on_ready(url)
            if config.open_browser:
                webbrowser.open(url)

        try:
            # uvicorn re-raises the SIGINT it handled once it has shut down: being
            # stopped is the normal end of this server, not an error.
            with contextlib.suppress(KeyboardInterrupt):
                _server(app, on_started=ready).run(sockets=[listener])
        finally:
            _close(app)


@contextlib.contextmanager
def running_server(config: UiConfig) -> Iterator[str]:
    """The server in a background thread on a free port; yields the page's address."""
    with _listening_socket(0) as listener:
        app, url = _prepare(config, listener)
        started = threading.Event()
        server = _server(app, on_started=started.set)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [listener]}, name="captorra-ui", daemon=True
        )
        thread.start()
        try:
            while not started.wait(timeout=0.01):
                if not thread.is_alive():
                    raise RuntimeError("the ui server stopped while starting")
            yield url
        finally:
            server.should_exit = True
            thread.join()
            _close(app)


def _close(app: Starlette) -> None:
    workspace = app.state.workspace
    assert isinstance(workspace, Workspace)
    close_workspace(workspace)
