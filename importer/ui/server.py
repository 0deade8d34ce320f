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

from starlette.applications import Starlette

from importer.posting import check_endpoint
from importer.serving import listening_socket, serve_until_interrupted, serving_in_thread
from importer.ui.app import UiConfig, close_workspace, create_app
from importer.ui.security import CODE_PARAMETER, OneTimeCodes
from importer.ui.workspace import Workspace

HOST = "127.0.0.1"  # never another interface: the page holds personal data
PORT_HINT = "; choose another port with --port"


def _prepare(config: UiConfig, listener: socket.socket) -> tuple[Starlette, str]:
    if not config.sandbox:
        check_endpoint(config.endpoint)
    token = secrets.token_urlsafe(32)
    port = listener.getsockname()[1]
    app = create_app(config, token=token, port=port)
    return app, f"http://{HOST}:{port}/"


def page_address(app: Starlette, base: str) -> str:
    """The page's address with a fresh one-time code (it opens the page once)."""
    codes = app.state.codes
    assert isinstance(codes, OneTimeCodes)
    return f"{base}?{CODE_PARAMETER}={codes.issue()}"


def open_browser(url: str) -> None:
    # In a thread: a $BROWSER that stays open (a text browser) must not hold up the server.
    threading.Thread(
        target=webbrowser.open, args=(url,), name="captorra-ui-browser", daemon=True
    ).start()


def serve(config: UiConfig, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the page until Ctrl-C; opens it in the default browser unless told not to.

    `on_ready(url)` is called with the page's address (with a one-time code that
    opens it once) when the server accepts connections; the browser gets its own
    code. Raises `UsageError` when the port is taken and `EndpointError` for an
    endpoint the importer refuses.
    """
    with listening_socket(HOST, config.port, hint=PORT_HINT) as listener:
        app, base = _prepare(config, listener)

        def ready() -> None:
            if on_ready is not None:
                on_ready(page_address(app, base))
            if config.open_browser:
                open_browser(page_address(app, base))

        try:
            serve_until_interrupted(
                app, listener, on_started=ready, lifespan="on", shutdown_seconds=5
            )
        finally:
            _close(app)


@contextlib.contextmanager
def running_server(config: UiConfig) -> Iterator[str]:
    """The server in a background thread on a free port; yields the page's address.

    The address holds a one-time code: it opens the page once.
    """
    with listening_socket(HOST, 0) as listener:
        app, base = _prepare(config, listener)
        try:
            with serving_in_thread(
                app, listener, name="captorra-ui", lifespan="on", shutdown_seconds=5
            ):
                yield page_address(app, base)
        finally:
            _close(app)


def _close(app: Starlette) -> None:
    workspace = app.state.workspace
    assert isinstance(workspace, Workspace)
    close_workspace(workspace)
