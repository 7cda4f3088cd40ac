"""Simulated people for load benchmarks: browser-like sessions that click through a site's pages, timed click by click.

No Django here: this is the client side, an asyncio program (aiohttp) that runs in the harness's own process and
holds hundreds of sessions on one thread. What it offers:

- :class:`Session` — one person's browser: its own cookie jar (secure cookies sent over loopback HTTP, as the
  production profile sets them), redirects followed, and :meth:`Session.click` that times one click (the request and
  every redirect it follows, as a person waits for it) and checks where it ended and what the page says.
- :func:`forms_of` / :class:`Form` — the forms of a page read as a browser reads them, filled and posted with every
  field the browser would send (hidden fields, checked boxes, selected options, CSRF token).
- :func:`totp` — the authenticator app's six-digit code (RFC 6238, as django-otp checks it).
- :class:`Recorder` — every click and every failure, labelled with the phase it started in; :func:`summarize` turns
  the clicks of a phase into counts and nearest-rank percentiles, overall and per action.
- :func:`sign_in_all` (everyone signs in, a few at a time), :func:`run_paced` (people pausing between clicks, after
  a ramp-up), :func:`run_unpaced` (no pauses, for saturation) and :func:`next_concurrency` (when to stop stepping up).
- :class:`CpuMeter` — CPU seconds of this client, the servers and the database, read from ``/proc``.

Every request goes to a loopback address only, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import math
import os
import random
import re
import resource
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Protocol

#: A click that takes longer than this is an error (the request is abandoned).
CLICK_TIMEOUT_S = 60
MAX_REDIRECTS = 5
_ALERT = re.compile(
    r'<div class="(?:alert alert-(?:danger|warning)|invalid-feedback[^"]*|text-danger small)"[^>]*>(.*?)</div>', re.S
)
_TAGS = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)


def loopback_only(base_url: str) -> str:
    if not re.match(r"^http://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$", base_url):
        raise ValueError(f"load benchmarks send traffic to loopback addresses only, not {base_url}")
    return base_url


# --- the authenticator app ---------------------------------------------------------------------------------


def totp(key: bytes, at: float, *, step: int = 30, digits: int = 6) -> str:
    """The code an authenticator app shows at Unix time ``at`` (RFC 6238: HMAC-SHA1, 30-second steps)."""
    counter = int(at // step)
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return f"{code:0{digits}d}"


# --- forms, as a browser reads and submits them ------------------------------------------------------------

_NOT_SENT = {"submit", "button", "image", "reset", "file"}


@dataclass
class Form:
    """A form of a page: its method, action and the fields a browser would submit as they are."""

    method: str
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    #: Every field name the form has, sent or not (unchecked boxes, buttons): to find the right form.
    names: set[str] = field(default_factory=set)

    def value(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    def filled(self, values: dict[str, str | Sequence[str]]) -> list[tuple[str, str]]:
        """The fields to post: the form's own, with ``values`` replacing (or adding) the named ones."""
        pairs = [(key, value) for key, value in self.fields if key not in values]
        for name, value in values.items():
            if isinstance(value, str):
                pairs.append((name, value))
            else:
                pairs.extend((name, item) for item in value)
        return pairs


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, bool, bool] | None = None  # name, multiple, disabled
        self._options: list[tuple[str, bool]] = []
        self._option: dict | None = None
        self._textarea: tuple[str, bool] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value if value is not None else "" for key, value in attrs}
        if tag == "form":
            self._form = Form(method=a.get("method", "get").lower(), action=a.get("action", ""))
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name")
        if tag in ("input", "button"):
            kind = a.get("type", "text" if tag == "input" else "submit").lower()
            if not name:
                return
            self._form.names.add(name)
            if kind in _NOT_SENT or tag == "button" or "disabled" in a:
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            self._form.fields.append((name, a.get("value", default)))
        elif tag == "select" and name:
            self._form.names.add(name)
            self._select = (name, "multiple" in a, "disabled" in a)
            self._options = []
        elif tag == "option" and self._select is not None:
            self._close_option()
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": []}
        elif tag == "textarea" and name:
            self._form.names.add(name)
            self._textarea = (name, "disabled" in a)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option["text"].append(data)
        elif self._textarea is not None:
            self._text.append(data)

    def _close_option(self) -> None:
        if self._option is not None:
            value = self._option["value"]
            text = "".join(self._option["text"]).strip()
            self._options.append((value if value is not None else text, self._option["selected"]))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "option":
            self._close_option()
        elif tag == "select" and self._select is not None:
            self._close_option()
            name, multiple, disabled = self._select
            self._select = None
            if self._form is None or disabled:
                return
            chosen = [value for value, selected in self._options if selected]
            if not multiple and not chosen and self._options:
                chosen = [self._options[0][0]]  # a single select sends its first option when none is selected
            self._form.fields.extend((name, value) for value in (chosen if multiple else chosen[:1]))
        elif tag == "textarea" and self._textarea is not None:
            name, disabled = self._textarea
            self._textarea = None
            if self._form is not None and not disabled:
                text = "".join(self._text)
                self._form.fields.append((name, text[1:] if text.startswith("\n") else text))


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def form_with(html: str, *names: str, **values: str) -> Form | None:
    """The first POST form of the page that has every field of ``names``, and ``values`` (``{"action": "result"}``:
    a field ``action`` sent with the value ``result``)."""
    for form in forms_of(html):
        if (
            form.method == "post"
            and all(name in form.names for name in names)
            and all(form.value(name) == value for name, value in values.items())
        ):
            return form
    return None


def page_problem(html: str) -> str:
    """What the page says went wrong (its first error alert or field error), or its title: for a failure's report."""
    alert = _ALERT.search(html)
    if alert:
        return " ".join(_TAGS.sub(" ", alert.group(1)).split())[:300]
    title = _TITLE.search(html)
    return " ".join(title.group(1).split())[:120] if title else html[:120].replace("\n", " ")


# --- what was measured ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Click:
    phase: str
    action: str
    started: float  # time.monotonic()
    ms: float
    ok: bool
    requests: int  # HTTP requests: 1 + the redirects followed


@dataclass(frozen=True)
class Failure:
    phase: str
    action: str
    method: str
    url: str
    status: int | None
    problem: str


class Recorder:
    """Every click and failure of a run; ``phase`` names the part of the run the next clicks belong to."""

    def __init__(self, phase: str = "setup"):
        self.phase = phase
        self.clicks: list[Click] = []
        self.failures: list[Failure] = []
        self.counts: dict[str, int] = {}  # things the simulated people did that must show in the database

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def in_phase(self, phase: str) -> list[Click]:
        return [click for click in self.clicks if click.phase == phase]

    def failures_in(self, *phases: str) -> list[Failure]:
        return [failure for failure in self.failures if failure.phase in phases]


def nearest_rank(values: Sequence[float], percent: float) -> float:
    """The nearest-rank percentile (as bench/benchmarks/statistics.py computes it); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


@dataclass(frozen=True)
class Figures:
    clicks: int
    requests: int
    errors: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, clicks: Sequence[Click]) -> Figures:
        times = [click.ms for click in clicks]
        return cls(
            clicks=len(clicks),
            requests=sum(click.requests for click in clicks),
            errors=sum(not click.ok for click in clicks),
            p50=nearest_rank(times, 50),
            p95=nearest_rank(times, 95),
            p99=nearest_rank(times, 99),
            max=max(times, default=0.0),
        )


@dataclass(frozen=True)
class Summary:
    overall: Figures
    actions: dict[str, Figures]
    seconds: float

    @property
    def throughput(self) -> float:
        """Clicks per second started in the phase."""
        return self.overall.clicks / self.seconds if self.seconds else 0.0

    @property
    def request_rate(self) -> float:
        """HTTP requests per second (redirects counted)."""
        return self.overall.requests / self.seconds if self.seconds else 0.0


def summarize(clicks: Sequence[Click], seconds: float) -> Summary:
    by_action: dict[str, list[Click]] = {}
    for click in clicks:
        by_action.setdefault(click.action, []).append(click)
    return Summary(
        overall=Figures.of(clicks),
        actions={action: Figures.of(found) for action, found in sorted(by_action.items())},
        seconds=seconds,
    )


def format_summary(summary: Summary, indent: str = "    ") -> list[str]:
    """A table: per action and overall, clicks, HTTP requests, errors, p50/p95/p99/max ms."""
    rows = [(action, figures) for action, figures in summary.actions.items()] + [("all", summary.overall)]
    width = max(len(action) for action, _figures in rows)
    lines = [f"{indent}{'action':<{width}}  {'clicks':>7} {'requests':>8} {'errors':>6} "
             f"{'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  (ms)"]  # fmt: skip
    for action, f in rows:
        lines.append(
            f"{indent}{action:<{width}}  {f.clicks:>7} {f.requests:>8} {f.errors:>6} "
            f"{f.p50:>7.0f} {f.p95:>7.0f} {f.p99:>7.0f} {f.max:>7.0f}"
        )
    return lines


# --- one person's browser ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    url: str
    path: str  # where the click ended, after the redirects
    text: str


class Session:
    """One person's browser on ``base_url``: cookies of its own, a connection pool shared with the others."""

    def __init__(self, http, base_url: str, recorder: Recorder, *, language: str = "en"):
        self.http = http
        self.base_url = loopback_only(base_url)
        self.recorder = recorder
        self.language = language
        self.current: str = base_url + "/"

    @classmethod
    def open(cls, connector, base_url: str, recorder: Recorder) -> Session:
        import aiohttp

        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[base_url])  # cookies of 127.0.0.1, Secure
        http = aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            cookie_jar=jar,
            timeout=aiohttp.ClientTimeout(total=CLICK_TIMEOUT_S),
            trust_env=False,  # never through a proxy
        )
        return cls(http, base_url, recorder)

    async def close(self) -> None:
        await self.http.close()

    async def click(
        self,
        action: str,
        path: str,
        *,
        data: Iterable[tuple[str, str]] | None = None,
        ends: str | re.Pattern | None = None,
        says: str | None = None,
        counts: str | None = None,
    ) -> Page | None:
        """GET ``path`` (POST ``data`` when given) and follow the redirects; time it all as one click.

        The click fails — recorded with its URL, status and what the page said — unless every hop is a redirect and
        the last answers 200, at ``ends`` (the path asked for, when None; a pattern matched against the path) and,
        with ``says``, with that text on the page. Returns the page, or None when it failed. ``counts`` names what a
        successful click wrote (counted in the recorder), and ``counts + "?"`` counts the clicks that got no answer,
        whose write the server may still have made.
        """
        import aiohttp

        method = "GET" if data is None else "POST"
        url = self.base_url + path
        headers = {"Accept-Language": self.language, "Referer": self.current}
        if data is not None:
            headers["Origin"] = self.base_url
            data = list(data)
        phase = self.recorder.phase
        started = time.monotonic()
        try:
            async with self.http.request(
                method, url, data=data, headers=headers, allow_redirects=True, max_redirects=MAX_REDIRECTS
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
                hops = [hop.status for hop in response.history]
                final = response.url
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            ms = (time.monotonic() - started) * 1000
            self.recorder.clicks.append(Click(phase, action, started, ms, False, 1))
            problem = f"{type(exc).__name__}: {exc}"[:300] or type(exc).__name__
            self.recorder.failures.append(Failure(phase, action, method, url, None, problem))
            if counts:
                self.recorder.count(f"{counts}?")
            return None
        ms = (time.monotonic() - started) * 1000
        final_path = final.path
        expected = path.split("?", 1)[0] if ends is None else ends
        problem = ""
        if status != 200:
            problem = f"answered {status}: {page_problem(text)}"
        elif any(hop not in (301, 302, 303, 307, 308) for hop in hops):
            problem = f"answered {hops} before 200"
        elif (expected.fullmatch(final_path) is None) if isinstance(expected, re.Pattern) else final_path != expected:
            problem = f"ended at {final_path} ({'→'.join(map(str, [*hops, status]))}): {page_problem(text)}"
        elif says is not None and says not in text:
            problem = f"the page does not say {says!r}: {page_problem(text)}"
        self.recorder.clicks.append(Click(phase, action, started, ms, not problem, 1 + len(hops)))
        if problem:
            self.recorder.failures.append(Failure(phase, action, method, url, status, problem))
            return None
        if counts:
            self.recorder.count(counts)
        self.current = str(final)
        return Page(url=str(final), path=final_path, text=text)


# --- running people ------------------------------------------------------------------------------------------


class Person(Protocol):
    """A simulated person: signs in (awaiting ``pause()`` between its clicks; True means stop), then each ``act`` is
    exactly one click. ``signed_in`` tells whether the sign-in succeeded."""

    signed_in: bool

    async def sign_in(self, pause: Callable[[], Awaitable[bool]]) -> bool: ...

    async def act(self) -> None: ...


def _pauser(rng: random.Random, pause_s: tuple[float, float], stop: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    """A pause of ``pause_s`` seconds (uniform, from ``rng``) that ends early when ``stop`` is set; True if stopped."""

    async def pause() -> bool:
        try:
            await asyncio.wait_for(stop.wait(), timeout=rng.uniform(*pause_s))
        except TimeoutError:
            return False
        return True

    return pause


async def _no_pause() -> bool:
    return False


async def sign_in_all(people: Sequence[Person], recorder: Recorder, *, concurrency: int) -> float:
    """Everyone signs in (phase ``"sign-in"``), ``concurrency`` at a time and without pauses, as people arriving at a
    door: signing in is the costliest click (the password hash), and hundreds at once would only queue at the server.
    Returns the seconds it took; a person whose sign-in failed has ``signed_in`` false."""
    recorder.phase = "sign-in"
    gate = asyncio.Semaphore(concurrency)
    started = time.monotonic()

    async def one(person: Person) -> None:
        async with gate:
            await person.sign_in(_no_pause)

    await asyncio.gather(*(one(person) for person in people))
    return time.monotonic() - started


async def run_paced(
    people: Sequence[Person],
    recorder: Recorder,
    *,
    ramp_s: float,
    window_s: float,
    pause_s: tuple[float, float],
    seed: int,
    on_window: Callable[[bool], None] | None = None,
) -> float:
    """Signed-in people start one after another over ``ramp_s`` (phase ``"ramp"``), then each pauses ``pause_s``
    (uniform, seeded per person) before every click. The window (phase ``"window"``) opens at the end of the ramp and
    lasts ``window_s``; then ``"after"``, while the clicks under way end. ``on_window(True)`` / ``on_window(False)``
    is called as the window opens and closes. Returns the window's actual length."""
    stop = asyncio.Event()

    async def one(index: int, person: Person) -> None:
        rng = random.Random(seed * 100_003 + index)
        pause = _pauser(rng, pause_s, stop)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=index * ramp_s / max(1, len(people)))
        while not stop.is_set():
            if await pause():
                break
            await person.act()

    recorder.phase = "ramp"
    tasks = [asyncio.create_task(one(index, person)) for index, person in enumerate(people)]
    try:
        await asyncio.sleep(ramp_s)
        recorder.phase = "window"
        if on_window:
            on_window(True)
        opened = time.monotonic()
        await asyncio.sleep(window_s)
        recorder.phase = "after"
        window = time.monotonic() - opened
        if on_window:
            on_window(False)
    finally:
        stop.set()
        await _finish(tasks)
    return window


async def run_unpaced(
    people: Sequence[Person], recorder: Recorder, *, label: str, warm_s: float, measure_s: float
) -> float:
    """``people`` (signed in already) click without pausing; the clicks of the last ``measure_s`` seconds are phase
    ``label`` (those of the first ``warm_s``, ``"warm " + label``). Returns the measured window's actual length."""
    stop = asyncio.Event()

    async def one(person: Person) -> None:
        while not stop.is_set():
            await person.act()
            await asyncio.sleep(0)  # let the others run even when a click fails at once

    recorder.phase = f"warm {label}"
    tasks = [asyncio.create_task(one(person)) for person in people]
    try:
        await asyncio.sleep(warm_s)
        recorder.phase = label
        opened = time.monotonic()
        await asyncio.sleep(measure_s)
        recorder.phase = "after"
        return time.monotonic() - opened
    finally:
        stop.set()
        await _finish(tasks)


async def _finish(tasks: list[asyncio.Task]) -> None:
    """Let the clicks under way end (each is bounded by CLICK_TIMEOUT_S), then cancel whatever is left."""
    _done, pending = await asyncio.wait(tasks, timeout=CLICK_TIMEOUT_S + 5)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()


def next_concurrency(done: Sequence[tuple[int, float]], steps: Sequence[int], *, gain: float = 1.05) -> int | None:
    """The next concurrency to try after the steps ``done`` ((concurrency, throughput), in order), or None to stop:
    at the end of ``steps``, or once a step (from the third on) brings less than ``gain`` × the best before it."""
    if len(done) >= 3:
        best_before = max(throughput for _concurrency, throughput in done[:-1])
        if done[-1][1] < best_before * gain:
            return None
    remaining = [step for step in steps if step > (done[-1][0] if done else 0)]
    return remaining[0] if remaining else None


def best_step(done: Sequence[tuple[int, float]]) -> tuple[int, float]:
    """The step of highest throughput (the lower concurrency when two are equal)."""
    return max(done, key=lambda step: (step[1], -step[0]))


# --- CPU ---------------------------------------------------------------------------------------------------


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: str) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _ticks()  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds used between :meth:`start` and :meth:`stop`: by this process (the client), by each group of
    processes whose command line contains all of its strings (a server's bind address, a database's name …), by the
    other processes of the machine (the busiest named), and by the whole machine (busy and total, ``/proc/stat``). A
    process that ends in between loses its share (gunicorn recycles a worker after ``--max-requests``): the groups'
    figures are a lower bound."""

    def __init__(self, groups: dict[str, Sequence[str]]):
        self.groups = groups
        self._start: tuple[float, dict[str, float], tuple[float, float]] | None = None
        #: After :meth:`stop`: the busiest other processes, (command line, CPU seconds), busiest first.
        self.others: list[tuple[str, float]] = []

    @staticmethod
    def _self_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    @staticmethod
    def _processes() -> dict[str, float]:
        me = str(os.getpid())
        found = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit() and pid != me and (cpu := _process_cpu(pid)) is not None:
                found[pid] = cpu
        return found

    def _group(self, line: str) -> str | None:
        for group, needles in self.groups.items():
            if all(needle in line for needle in needles):
                return group
        return None

    @staticmethod
    def _machine() -> tuple[float, float]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return (sum(values) - idle) / _ticks(), sum(values) / _ticks()

    def start(self) -> None:
        self._start = (self._self_cpu(), self._processes(), self._machine())

    def stop(self) -> dict[str, float]:
        """CPU seconds since :meth:`start`: ``client``, each group, ``others``, ``machine busy``, ``machine total``."""
        if self._start is None:
            raise RuntimeError("CpuMeter.stop() before start()")
        client0, processes0, (busy0, total0) = self._start
        used = {"client": self._self_cpu() - client0, **dict.fromkeys(self.groups, 0.0), "others": 0.0}
        others: dict[str, float] = {}
        for pid, cpu in self._processes().items():
            delta = cpu - processes0.get(pid, 0.0)
            if delta <= 0:
                continue
            line = _cmdline(pid)
            group = self._group(line)
            if group is None:
                used["others"] += delta
                name = " ".join(line.split()[:3])[:80] or f"pid {pid}"
                others[name] = others.get(name, 0.0) + delta
            else:
                used[group] += delta
        busy, total = self._machine()
        used["machine busy"], used["machine total"] = busy - busy0, total - total0
        self.others = sorted(others.items(), key=lambda pair: -pair[1])[:3]
        return used
