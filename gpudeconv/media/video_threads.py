"""The threads of the video pipeline: started, stopped and joined safely.

The reader and writer threads must be finished before the files under them
are closed, whatever interrupts the main thread meanwhile (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import queue
import threading

__all__ = ["DONE", "Worker", "finish", "drain"]

#: The end mark passed along the queues.
DONE = object()


class Worker(threading.Thread):
    """A daemon thread whose end can be waited for again after an interrupt:
    ``Thread.join`` cut short by KeyboardInterrupt may report a running
    thread as finished (CPython gh-90882), and closing files under it crashes."""

    def __init__(self, target, name):
        super().__init__(target=self._run, name=name, daemon=True)
        self.work, self.done = target, threading.Event()

    def _run(self):
        try:
            self.work()
        finally:
            self.done.set()

    def wait(self):
        while not self.done.wait(0.1):
            pass


def finish(stop, put, restored, decoded, writer, reader) -> None:
    """Stop and join both threads. An interrupt arriving meanwhile cannot cut
    this short (the caller closes the files next, which must not happen
    under a running thread): it stops the run and is raised afterwards."""
    pending = None
    while True:
        try:
            # Normally the writer takes the end mark and flushes the encoder;
            # once stopped, it only needs waking up.
            if stop.is_set() or not put(restored, DONE):
                drain(restored)
                restored.put_nowait(DONE)
            writer.wait()
            stop.set()
            drain(decoded)
            reader.wait()
            break
        except KeyboardInterrupt as exc:
            pending = exc
            stop.set()
    if pending is not None:
        raise pending


def drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
