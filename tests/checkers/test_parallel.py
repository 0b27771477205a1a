"""The parallel linearizability search forks only a process that runs one thread."""

from __future__ import annotations

import _thread
import threading
import time

from pytest_sdconform.checkers.parallel import alone


def test_a_thread_the_threading_module_does_not_know_of_still_forbids_a_fork() -> None:
    known = threading.active_count()
    stop = threading.Event()
    _thread.start_new_thread(stop.wait, (10,))  # as execnet starts its receiver in xdist
    time.sleep(0.05)
    try:
        assert threading.active_count() == known  # invisible to threading
        assert not alone()
    finally:
        stop.set()
