"""Serving the portal on several worker processes, each with its own listening socket.

uvicorn's own workers share one listening socket and each accepts whatever connections are
waiting when it wakes. Keep-alive connections stay with the worker that accepted them, so a
burst of them (several phones uploading at once, or a reverse proxy opening its pool) can land
mostly on one worker while another idles: in one run of the ingest benchmark, 8 clients'
uploads cost one worker 52 ms of CPU per file and the other 3 ms. Here every worker binds its
own socket to the same address with ``SO_REUSEPORT`` and the kernel spreads new connections
over them (by a hash of the client's address and port). Figures: docs/performance.md.

The parent only supervises: it starts the workers, replaces one that dies, and on SIGINT or
SIGTERM asks each to finish its requests (uvicorn's graceful shutdown) before it exits.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
from multiprocessing.context import SpawnProcess
from typing import Final

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

log = logging.getLogger("uvicorn.error")

POLL_S: Final = 0.5
STOP_TIMEOUT_S: Final = 30.0
"""How long a worker may take to finish its requests after SIGTERM before it is killed."""

_spawn = multiprocessing.get_context("spawn")


def supports_reuse_port() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that other workers of this user may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker_main(config: uvicorn.Config) -> None:
    config.configure_logging()
    try:
        sock = listening_socket(config.host, config.port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        raise SystemExit(STARTUP_FAILURE) from exc
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:  # the app's start-up failed: the supervisor must not retry
        raise SystemExit(STARTUP_FAILURE)


class Supervisor:
    """Keeps ``workers`` processes serving ``config`` until SIGINT or SIGTERM."""

    def __init__(self, config: uvicorn.Config, workers: int) -> None:
        self.config = config
        self.workers = workers
        self.processes: list[SpawnProcess] = []
        self.should_exit = threading.Event()
        self.exit_code = 0

    def _start_one(self) -> SpawnProcess:
        process = _spawn.Process(target=_worker_main, args=(self.config,), daemon=False)
        process.start()
        return process

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("received %s, stopping the workers", signal.Signals(signum).name)
        self.should_exit.set()

    def run(self) -> int:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        self.processes = [self._start_one() for _ in range(self.workers)]
        log.info("started %d workers in parent process [%d]", self.workers, os.getpid())
        while not self.should_exit.wait(POLL_S):
            self._replace_dead()
        self._stop_all()
        return self.exit_code

    def _replace_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive() or self.should_exit.is_set():
                continue
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # The app, the settings or the address is broken: every restart would fail.
                log.error("worker [%s] failed to start; stopping", process.pid)
                self.exit_code = STARTUP_FAILURE
                self.should_exit.set()
                return
            log.warning(
                "worker [%s] died (exit code %s); starting another", process.pid, process.exitcode
            )
            self.processes[index] = self._start_one()

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                log.warning("worker [%s] did not stop in time; killing it", process.pid)
                process.kill()
                process.join()


def serve(config: uvicorn.Config, workers: int) -> int:
    """Serve ``config`` on ``workers`` processes; returns the exit code for the command."""
    if workers <= 1:
        server = uvicorn.Server(config)
        server.run()
        return 0 if server.started else STARTUP_FAILURE
    if not supports_reuse_port():  # not Linux or BSD: uvicorn's workers, one shared socket
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    return Supervisor(config, workers).run()


def serve_granian(host: str, port: int, workers: int) -> int:
    """Serve the app factory on granian's own workers (``toothline run --server granian``):
    Rust HTTP on each worker, the same ``portal.app:create_app`` and its lifespan, access log
    off, no websockets (the portal has none). granian does not read X-Forwarded-* headers;
    the app does, for TOOTHLINE_TRUSTED_PROXIES only. A/B against the supervisor above:
    docs/performance.md."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "portal.app:create_app", address=host, port=port, interface=Interfaces.ASGI,
        workers=workers, factory=True, websockets=False, log_access=False,
        respawn_failed_workers=True,
    ).serve()
    return 0
