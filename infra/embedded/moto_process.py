"""The embedded moto server in a process of its own, tied to the process that started it.

In ``up``, moto's request threads used to share one GIL with the gateway's event loop, the
fake CSP and the scheduler: on two cores the gateway accepted ~20 POSTs/s in a burst and
the consumers sat idle waiting on moto. In its own process moto gets a core's worth of GIL
to itself. Its patches (``infra.embedded.moto``) are applied in that process, and the
``/_embedded/calls`` and ``/_embedded/faults`` endpoints are served there as before.

    python -m infra.embedded.moto_process [--host 127.0.0.1] [--port 0]

prints the server's URL on its first stdout line once it accepts connections, then serves
until SIGTERM. SIGINT is ignored: Ctrl-C reaches the whole foreground process group, and
the consumers must still reach moto while they drain; the parent stops moto last, with
SIGTERM. On Linux the child also gets SIGTERM when its parent dies (PR_SET_PDEATHSIG), so a
SIGKILLed ``up`` leaves no moto behind.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import threading

from infra.embedded.children import preexec_die_with_parent

#: How long the child may take to import moto and bind its port.
START_TIMEOUT_S = 60.0


class MotoProcess:
    """``EmbeddedMoto``'s interface (``start``, ``url``, ``stop``) for moto in a child process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        assert self._url is not None, "start() first"
        return self._url

    @property
    def pid(self) -> int:
        assert self._process is not None, "start() first"
        return self._process.pid

    def start(self) -> MotoProcess:
        cmd = [sys.executable, "-m", __name__, "--host", self._host, "--port", str(self._port)]
        self._process = subprocess.Popen(  # noqa: S603 - our own module, same interpreter
            cmd, stdout=subprocess.PIPE, preexec_fn=preexec_die_with_parent()
        )
        assert self._process.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(
            target=lambda: line.append(self._process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(START_TIMEOUT_S)
        url = line[0].decode().strip() if line else ""
        if not url.startswith("http"):
            self.stop()
            raise RuntimeError("the embedded moto process did not start")
        self._url = url
        return self

    def stop(self, timeout: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def kill(self) -> None:
        """Stop it at once (SIGKILL), without waiting."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()

    def __enter__(self) -> MotoProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.embedded.moto_process")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    from infra.embedded.moto import EmbeddedMoto  # moto is imported here only, not by `up`

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent says when: SIGTERM, last
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # werkzeug logs every request at INFO to stderr unless told otherwise: thousands of lines
    # (and their cost) in a burst. Warnings and errors still show.
    logging.basicConfig(level=logging.WARNING, format="moto: %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = EmbeddedMoto(args.host, args.port).start()
    sys.stdout.write(server.url + "\n")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
