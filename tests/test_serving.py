"""Serving on loopback: the socket options that keep answers fast."""

from __future__ import annotations

import socket

import pytest

from importer.errors import UsageError
from importer.serving import listening_socket


def test_listening_sockets_disable_nagle() -> None:
    # Without TCP_NODELAY an answer written in two parts waits ~40 ms for a delayed ACK.
    with listening_socket("127.0.0.1", 0) as listener:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_a_taken_port_is_a_usage_error() -> None:
    with listening_socket("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot listen on 127.0.0.1:{port}: .*; try 0"):
            listening_socket("127.0.0.1", port, hint="; try 0")
