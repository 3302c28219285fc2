"""Headless Chromium for tests: what a page really shows, and every URL it asks for.

The analysts' report and the DPO report must open from a file on a closed machine, so the
tests render them in a real browser rather than trusting a regular expression over the HTML.
Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: no port,
nothing listening): one launch gives the DOM after the load event, a screenshot, and every
request the page made, ``file://`` sub-resources included (Chromium's ``--log-net-log`` does
not see those, and it also logs the browser's own background traffic). The net log is still
written and read as a second witness: a request it saw that was initiated by a page origin is
added too. Host names resolve to nothing (``--host-resolver-rules``), so a page that does try
the network fails there instead of leaving the machine; the attempt is still reported.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recours.errors import RecoursError

CANDIDATES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
    "headless_shell",
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
)
TIMEOUT = 60.0
# Schemes that are no request to anything: the page's own inline content.
INLINE_SCHEMES = ("data:", "about:", "blob:")


class BrowserError(RecoursError):
    """Chromium is missing, or did not render the page in time."""


@dataclass
class Rendered:
    """What the browser made of a page: the DOM after load and the URLs it requested."""

    dom: str
    requests: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def chromium_path() -> str | None:
    """The Chromium (or Chrome) executable, or None: ``RECOURS_CHROMIUM`` first, then PATH."""
    explicit = os.environ.get("RECOURS_CHROMIUM")
    if explicit and Path(explicit).is_file() and os.access(explicit, os.X_OK):
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    for fixed in ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium"):
        if Path(fixed).is_file() and os.access(fixed, os.X_OK):
            return fixed
    return None


class _Pipe:
    """The DevTools protocol over two pipes: JSON messages ended by a NUL byte."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd, self.read_fd = write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _read_one(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("Chromium ne répond pas (délai dépassé)")
            ready, _, _ = select.select([self.read_fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium s'est arrêté pendant le rendu")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(
        self, method: str, params: dict | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command and wait for its answer; events met meanwhile are kept."""
        number = self.send(method, params, session)
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._read_one(deadline)
            if message.get("id") == number:
                if "error" in message:
                    raise BrowserError(f"Chromium : {method} a échoué ({message['error']})")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, deadline: float) -> None:
        if any(event.get("method") == method for event in self.events):
            return
        while True:
            message = self._read_one(deadline)
            self.events.append(message)
            if message.get("method") == method:
                return


def _net_log_requests(path: Path) -> list[str]:
    """URLs of the net log's URL_REQUEST events that a page origin initiated (not the
    browser's own background traffic, whose initiator is "not an origin")."""
    try:
        log = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    constants = log.get("constants", {})
    request_type = constants.get("logSourceType", {}).get("URL_REQUEST")
    start = constants.get("logEventTypes", {}).get("URL_REQUEST_START_JOB")
    urls = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if (
            event.get("type") == start
            and event.get("source", {}).get("type") == request_type
            and "url" in params
            and params.get("initiator") not in (None, "not an origin")
        ):
            urls.append(params["url"])
    return urls


def _launch(executable: str, profile: Path, net_log: Path) -> tuple[subprocess.Popen, _Pipe]:
    to_browser_read, to_browser_write = os.pipe()
    from_browser_read, from_browser_write = os.pipe()

    def plumbing() -> None:  # in the child: the protocol's fixed descriptors 3 and 4
        os.dup2(to_browser_read, 3)
        os.dup2(from_browser_write, 4)

    process = subprocess.Popen(
        [
            executable,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--log-net-log={net_log}",
            "about:blank",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(3, 4),
        preexec_fn=plumbing,  # only dup2, before exec
    )
    os.close(to_browser_read)
    os.close(from_browser_write)
    return process, _Pipe(to_browser_write, from_browser_read)


def render(
    html: Path,
    screenshot: Path | None = None,
    width: int = 1280,
    height: int = 2000,
) -> Rendered:
    """Open ``html`` in headless Chromium; its DOM after load and the URLs it requested.

    ``requests`` lists every URL other than the page itself, in order, without duplicates
    (inline ``data:`` and ``about:`` content excepted). With ``screenshot``, a PNG of the first
    ``width`` × ``height`` pixels is written there. Raises ``BrowserError`` when Chromium is
    missing or does not finish within a minute.
    """
    executable = chromium_path()
    if executable is None:
        raise BrowserError("Chromium introuvable : installer le paquet chromium")
    page = Path(html).resolve()
    url = page.as_uri()
    with tempfile.TemporaryDirectory(prefix="recours-chromium-") as scratch:
        profile, net_log = Path(scratch) / "profil", Path(scratch) / "net.json"
        process, pipe = _launch(executable, profile, net_log)
        try:
            dom, image = _drive(pipe, url, width, height, screenshot is not None)
            with contextlib.suppress(BrowserError, OSError):
                pipe.send("Browser.close")
            process.wait(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            os.close(pipe.write_fd)
            os.close(pipe.read_fd)
        seen = [
            event["params"]["request"]["url"]
            for event in pipe.events
            if event.get("method") == "Network.requestWillBeSent"
        ]
        seen += _net_log_requests(net_log)
    requests = []
    for address in seen:
        if address != url and not address.startswith(INLINE_SCHEMES) and address not in requests:
            requests.append(address)
    if screenshot is not None and image is not None:
        Path(screenshot).write_bytes(image)
    return Rendered(dom=dom, requests=requests, screenshot=screenshot)


def _drive(
    pipe: _Pipe, url: str, width: int, height: int, capture: bool
) -> tuple[str, bytes | None]:
    targets = pipe.call("Target.getTargets")["targetInfos"]
    page = next((t for t in targets if t.get("type") == "page"), None)
    if page is None:
        target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    else:
        target = page["targetId"]
    session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    pipe.call("Network.enable", session=session)
    pipe.call("Page.enable", session=session)
    pipe.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    pipe.events.clear()  # about:blank's own events are not the page's
    pipe.call("Page.navigate", {"url": url}, session=session)
    pipe.wait_for("Page.loadEventFired", time.monotonic() + TIMEOUT)
    result = pipe.call(
        "Runtime.evaluate",
        {"expression": "document.documentElement.outerHTML", "returnByValue": True},
        session=session,
    )
    dom = result.get("result", {}).get("value", "")
    image = None
    if capture:
        shot = pipe.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
            session=session,
        )
        image = base64.b64decode(shot["data"])
    return dom, image
