"""Ctrl-C while sending, the same on every system.

The first Ctrl-C calls a function in the event loop (the pipeline stops
starting requests, lets those in flight finish and writes the results); a
second one raises `KeyboardInterrupt` at once.

asyncio's `loop.add_signal_handler` does not exist on Windows, so the handler
is installed with `signal.signal`, which every system has: it hands the call to
the loop with `call_soon_threadsafe` (safe from a signal handler, and it wakes
the loop) and puts Python's default handler back for the second Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


@contextlib.contextmanager
def first_ctrl_c_calls(on_first: Callable[[], None]) -> Iterator[None]:
    """Within the block, the first Ctrl-C runs `on_first` in the running loop."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets signals (a web page's sending thread has Stop)
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        loop.call_soon_threadsafe(on_first)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
