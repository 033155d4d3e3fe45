"""A daemon thread that calls one function every `interval` seconds: how local mode's event source mappings poll."""

import threading
from collections.abc import Callable


class Polling:
    """Calls `tick` every `interval` seconds until stopped; an exception goes to `on_error` and polling goes on."""

    def __init__(
        self, tick: Callable[[], object], interval: float, on_error: Callable[[Exception], None], name: str
    ) -> None:
        self._tick, self._interval, self._on_error = tick, interval, on_error
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._tick()
            except Exception as error:
                self._on_error(error)

    def stop(self) -> None:
        """Stop polling, after the call under way (if any): nothing is called once this returns."""
        self._stop.set()
        self._thread.join()
