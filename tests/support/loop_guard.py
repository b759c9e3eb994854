"""Watch an app's event loop for blocking work (issue 23): argon2, fpdf2 and Pillow run in
worker threads (or the derivation process), never on the loop that serves requests.

Two checks, on the one loop :meth:`LoopGuard.loop_factory` makes (the loop litestar's test
client then runs the app on: ``backend_options={"loop_factory": guard.loop_factory}``):

* asyncio debug mode's slow-callback warnings. The loop runs with ``set_debug(True)`` and
  ``slow_callback_duration = REPORT_AFTER_S``, so asyncio logs ``Executing <Handle ...> took X
  seconds`` (logger ``asyncio``, WARNING) for every callback over 20 ms; one over
  ``FAIL_AFTER_S`` is a failure. asyncio names only the task (every test-client request is
  the same ``BlockingPortal._call_func`` task), so a sampler thread notes every 10 ms where
  the loop thread is while one callback runs long; the failure names that place.
* a sentinel on the three libraries' entry points (``PasswordHasher.hash``/``verify``,
  ``FPDF()``/``output``, ``PIL.Image.open``, ``Image.save``, ``ImageFile.load``): a call made
  while the watched loop is the thread's running loop fails whatever it took, so a small
  picture or a fast machine cannot slip under the time threshold.

Why 0.05 s: on the 2-core development machine one production argon2id hash or verify
(``portal/accounts/passwords.py``) takes 0.085 s when the machine is idle (0.15-0.2 s under
load), a documentation PDF with pictures seconds; a request's own callbacks (routing, a
query's result, a compiled template's render) stay under 0.035 s in debug mode, also with a
worker thread running fpdf2 (pure Python: it holds the GIL half of the time).

Two exclusions, both measured rather than guessed, both reported by the test:

* garbage collection. A full collection of the test process (hundreds of thousands of
  objects by then) holds the GIL for 0.2-0.8 s in whichever callback happens to allocate; a
  ``gc.callbacks`` hook times the collector's pauses on the loop thread and they are taken off
  the callback's time.
* a loop thread without a core (the machine's other processes had both for a while). A
  callback over the limit fails only when the loop thread was busy in it for half the limit:
  its CPU time, plus the ticks in which the sampler found it sitting in one call asleep in the
  kernel (``time.sleep``, a lock, argon2's own threads, a read). Waiting for a core or for the
  GIL (held by another thread of the process) is not busy, nor is asyncio's debug bookkeeping
  (the source traceback it takes of every new handle stats source files, slow when the disk
  is busy).

The slow first use of things (a template's compile, a module imported on first call, the first
connection) is taken out by a warm-up before :meth:`LoopGuard.arm`, not by a higher threshold.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

import argon2
import fpdf
from PIL import Image, ImageFile

from portal.accounts import passwords

FAIL_AFTER_S: Final = 0.05
REPORT_AFTER_S: Final = 0.02
SAMPLE_EVERY_S: Final = 0.01
ON_TIME_S: Final = 3 * SAMPLE_EVERY_S  # the most one tick counts (a late one: the process slept)
_ROOT: Final = str(Path(__file__).resolve().parents[2]) + "/"

# (owner, attribute, what a failure calls it)
SENTINELS: Final[tuple[tuple[Any, str, str], ...]] = (
    (argon2.PasswordHasher, "hash", "argon2 PasswordHasher.hash"),
    (argon2.PasswordHasher, "verify", "argon2 PasswordHasher.verify"),
    (fpdf.FPDF, "__init__", "fpdf2 FPDF()"),
    (fpdf.FPDF, "output", "fpdf2 FPDF.output"),
    (Image, "open", "Pillow Image.open"),
    (Image.Image, "save", "Pillow Image.save"),
    (ImageFile.ImageFile, "load", "Pillow ImageFile.load"),
)


@dataclass(frozen=True)
class SlowCallback:
    seconds: float
    gc_s: float
    """Time the garbage collector ran on the loop thread during the callback."""
    busy_s: float
    """How long the loop thread was busy in it: the sampler's busy ticks (see
    :meth:`LoopGuard._tick`) or its CPU time less the collector's, whichever is more (a C call
    that keeps the GIL is never sampled, but its time is CPU time)."""
    where: str
    """Where the sampler found the loop thread most often ("" when never sampled)."""
    callback: str
    """The handle as asyncio formats it (the task, and where it was created)."""
    armed: bool

    @property
    def own_s(self) -> float:
        """The callback's time less the collector's."""
        return self.seconds - self.gc_s


@dataclass(frozen=True)
class OnLoopCall:
    what: str
    where: str
    armed: bool


@dataclass
class _Seen:
    gc_s: float = 0.0
    busy_s: float = 0.0
    wheres: list[str] = field(default_factory=list)


def _frames(frame: FrameType | None) -> list[traceback.FrameSummary]:
    """Outermost first; no source lines read (reading them fills ``linecache``, whose every
    file asyncio's debug mode then stats at each new callback)."""
    summary = traceback.StackSummary.extract(traceback.walk_stack(frame), lookup_lines=False)
    return list(reversed(summary))


def _where(frames: list[traceback.FrameSummary], count: int = 3) -> str:
    """``[argon2/low_level.py:102 hash_secret] <- portal/accounts/passwords.py:60 hash_password
    <- ...``: the innermost frame when it is a library's, then the innermost ``count`` frames of
    this repository's code (this module left out)."""
    own = [f for f in frames if f.filename.startswith(_ROOT) and f.filename != __file__
           and "/site-packages/" not in f.filename]
    shown = [f"{f.filename.removeprefix(_ROOT)}:{f.lineno} {f.name}"
             for f in reversed(own[-count:])]
    if frames and (not own or frames[-1] is not own[-1]):
        inner = frames[-1]
        library = inner.filename.split("/site-packages/")[-1].rsplit("/lib/python", 1)[-1]
        shown.insert(0, f"[{library}:{inner.lineno} {inner.name}]")
    return " <- ".join(shown) or "(no frame)"


class LoopGuard(logging.Handler):
    """Use as a context manager around the app's lifetime; :meth:`arm` after the warm-up,
    :meth:`check` at the end."""

    def __init__(self, *, fail_after_s: float = FAIL_AFTER_S) -> None:
        super().__init__(level=logging.WARNING)
        self.fail_after_s = fail_after_s
        self.loop: asyncio.AbstractEventLoop | None = None
        self.armed_at: float | None = None  # time.time(), as log records carry it
        self.slow: list[SlowCallback] = []
        self.on_loop: list[OnLoopCall] = []
        self._thread = 0  # the loop thread: threading ident, its CPU clock, its /proc entry
        self._cpu_clock: int | None = None
        self._proc_stat = ""
        self._seen: dict[int, _Seen] = {}  # id(handle) of a callback running long
        self._gc_started = 0.0
        self._cpu_started = 0.0  # the loop thread's CPU clock when its current callback began
        self._stop = threading.Event()
        self._stack = contextlib.ExitStack()

    def loop_factory(self) -> asyncio.AbstractEventLoop:
        """A new loop in debug mode, the one watched (anyio's ``loop_factory`` option; called
        in the thread that runs the loop)."""
        loop = asyncio.new_event_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = REPORT_AFTER_S
        self.loop, self._thread = loop, threading.get_ident()
        with contextlib.suppress(AttributeError, OSError):
            self._cpu_clock = time.pthread_getcpuclockid(self._thread)
        self._proc_stat = f"/proc/self/task/{threading.get_native_id()}/stat"
        return loop

    def arm(self) -> None:
        """From now on what is found counts; before, it is warm-up. A callback counts when it
        started after this call (the warm-up request's last step may end after its answer
        reached the test)."""
        self.armed_at = time.time()

    @property
    def armed(self) -> bool:
        return self.armed_at is not None

    def _cpu(self) -> float:
        if self._cpu_clock is None:
            return 0.0
        try:
            return time.clock_gettime(self._cpu_clock)
        except OSError:  # the thread is gone
            return 0.0

    def _waiting(self) -> bool:
        """The loop thread sleeps in the kernel (state S or D: a sleep, a lock, a read) rather
        than being runnable (R: running, or waiting for a core)."""
        try:
            with open(self._proc_stat) as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] in ("S", "D")
        except (OSError, IndexError):
            return False

    def _sample(self) -> None:
        """The sampler thread. asyncio sets ``loop._current_handle`` in debug mode."""
        running: object = None
        position: tuple[int, int] | None = None  # the loop thread's innermost frame and opcode
        last, cpu = time.monotonic(), self._cpu()
        while not self._stop.wait(SAMPLE_EVERY_S):
            now, cpu_now = time.monotonic(), self._cpu()
            step, used = min(now - last, ON_TIME_S), min(cpu_now - cpu, ON_TIME_S)
            last, cpu = now, cpu_now
            handle = getattr(self.loop, "_current_handle", None)
            frame = sys._current_frames().get(self._thread)
            before, position = position, (id(frame), frame.f_lasti) if frame else None
            if handle is not running:
                if running is not None:
                    self._seen.pop(id(running), None)  # done (its warning, if any, took it)
                running = handle
                continue
            if handle is not None and frame is not None:
                stuck = position == before and used < step / 4 and self._waiting()
                self._tick(self._seen.setdefault(id(handle), _Seen()), frame,
                           step if stuck else used)

    def _tick(self, seen: _Seen, frame: FrameType, busy: float) -> None:
        """One tick within a long callback. The loop thread was busy for the CPU time it used
        since the last tick, or for the whole tick when it sat in one call asleep in the kernel
        (``time.sleep``, a lock, argon2's own threads, a read): not while it waited for a core
        (the machine's other processes had both) or for the GIL (another thread of this process
        ran Python), nor inside asyncio's debug bookkeeping (the source traceback it takes of
        every new handle)."""
        frames = _frames(frame)
        if any(f.filename.endswith("asyncio/format_helpers.py") for f in frames):
            return
        seen.busy_s += busy
        if len(seen.wheres) < 500:
            seen.wheres.append(_where(frames))

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if not (str(record.msg).startswith("Executing ") and isinstance(args, tuple)
                and len(args) == 2):
            return
        handle, seconds = args
        if not isinstance(seconds, float):
            return
        # logged on the loop thread right after the callback, still the loop's current one
        seen = self._seen.pop(id(getattr(self.loop, "_current_handle", None)), _Seen())
        where = max(set(seen.wheres), key=seen.wheres.count) if seen.wheres else ""
        armed = self.armed_at is not None and record.created - seconds >= self.armed_at
        busy = max(seen.busy_s, time.thread_time() - self._cpu_started - seen.gc_s)
        self.slow.append(SlowCallback(seconds, seen.gc_s, busy, where, str(handle), armed))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        """A ``gc.callbacks`` hook: the collector's pauses on the loop thread, per callback."""
        if threading.get_ident() != self._thread:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        handle = getattr(self.loop, "_current_handle", None)
        if handle is not None:
            seen = self._seen.setdefault(id(handle), _Seen())
            seen.gc_s += time.perf_counter() - self._gc_started

    def _timed(self, run: Callable[[asyncio.Handle], None]) -> Callable[[asyncio.Handle], None]:
        """``Handle._run`` reading the loop thread's CPU clock as each callback of the watched
        loop begins (asyncio's warning is logged right after it ends, on the same thread)."""

        @functools.wraps(run)
        def timed(handle: asyncio.Handle) -> None:
            if threading.get_ident() == self._thread:
                self._cpu_started = time.thread_time()
            run(handle)

        return timed

    def _watch(self, what: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def watched(*args: Any, **kwargs: Any) -> Any:
            if self.loop is not None and asyncio._get_running_loop() is self.loop:
                where = _where(_frames(sys._getframe(1)))
                self.on_loop.append(OnLoopCall(what, where, self.armed))
            return function(*args, **kwargs)

        return watched

    def __enter__(self) -> LoopGuard:
        asyncio_log = logging.getLogger("asyncio")
        asyncio_log.addHandler(self)
        self._stack.callback(asyncio_log.removeHandler, self)
        if asyncio_log.getEffectiveLevel() > logging.WARNING:
            self._stack.callback(asyncio_log.setLevel, asyncio_log.level)
            asyncio_log.setLevel(logging.WARNING)
        sampler = threading.Thread(target=self._sample, name="loop-guard-sampler", daemon=True)
        sampler.start()
        self._stack.callback(sampler.join)
        self._stack.callback(self._stop.set)
        run = asyncio.Handle.__dict__["_run"]
        setattr(asyncio.Handle, "_run", self._timed(run))  # noqa: B010 (a private method)
        self._stack.callback(setattr, asyncio.Handle, "_run", run)
        gc.callbacks.append(self._gc)
        self._stack.callback(gc.callbacks.remove, self._gc)
        for owner, name, what in SENTINELS:
            original = owner.__dict__[name]
            setattr(owner, name, self._watch(what, original))
            self._stack.callback(setattr, owner, name, original)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _over(self) -> list[SlowCallback]:
        return [s for s in self.slow if s.armed and s.own_s >= self.fail_after_s]

    def failures(self) -> list[str]:
        calls = [(c.what, c.where) for c in self.on_loop if c.armed]
        found = [f"{what} ran on the event loop ({calls.count((what, where))}x), from {where}"
                 for what, where in dict.fromkeys(calls)]
        found += [f"a callback took {s.seconds:.3f} s (limit {self.fail_after_s} s; garbage "
                  f"collection {s.gc_s:.3f} s, busy {s.busy_s:.3f} s), in "
                  f"{s.where or '(not sampled)'}: {s.callback}"
                  for s in self._over() if s.busy_s >= self.fail_after_s / 2]
        return found

    def stalled(self) -> list[SlowCallback]:
        """Over the limit (less garbage collection), busy for under half of it: the loop
        thread was waiting for a core. Reported, not failed."""
        return [s for s in self._over() if s.busy_s < self.fail_after_s / 2]

    def check(self) -> None:
        failures = self.failures()
        assert not failures, "blocking work on the event loop:\n" + "\n".join(failures)

    def slowest(self, count: int = 5) -> list[SlowCallback]:
        """The slowest callbacks (over 20 ms, garbage collection taken off) seen while armed."""
        armed = [s for s in self.slow if s.armed]
        return sorted(armed, key=lambda s: s.own_s, reverse=True)[:count]


@contextlib.contextmanager
def production_hasher() -> Iterator[None]:
    """The production argon2id parameters instead of the suite's cheap ones
    (tests/conftest.py): hashes made meanwhile, and checks of them, cost what they cost in
    production (a check uses the parameters stored in the hash)."""
    before = passwords.HASHER
    passwords.use_hasher(passwords.PRODUCTION_HASHER)
    try:
        yield
    finally:
        passwords.use_hasher(before)
