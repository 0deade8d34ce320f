"""Ctrl-C while sending: one code path for every system (no add_signal_handler)."""

from __future__ import annotations

import asyncio
import signal
import threading

import pytest

from importer.interrupts import first_ctrl_c_calls


def test_the_first_ctrl_c_calls_back_in_the_loop_and_the_second_stops_at_once() -> None:
    calls: list[str] = []

    async def sending() -> None:
        stopped = asyncio.Event()

        def stop() -> None:
            calls.append("stop")
            stopped.set()

        with first_ctrl_c_calls(stop):
            signal.raise_signal(signal.SIGINT)
            await asyncio.wait_for(stopped.wait(), timeout=30)
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    asyncio.run(sending())
    assert calls == ["stop"]
    assert signal.getsignal(signal.SIGINT) is before


def test_the_handler_before_the_block_is_put_back() -> None:
    async def block() -> object:
        outer = signal.getsignal(signal.SIGINT)
        with first_ctrl_c_calls(lambda: None):
            assert signal.getsignal(signal.SIGINT) is not outer
        return outer is signal.getsignal(signal.SIGINT)

    assert asyncio.run(block()) is True


def test_outside_the_main_thread_nothing_is_installed() -> None:
    """A web page sends from a worker thread: its Stop button does what Ctrl-C does."""
    seen: list[object] = []

    async def block() -> None:
        with first_ctrl_c_calls(lambda: None):
            seen.append(signal.getsignal(signal.SIGINT))

    before = signal.getsignal(signal.SIGINT)
    worker = threading.Thread(target=asyncio.run, args=(block(),))
    worker.start()
    worker.join()
    assert seen == [before]
