"""A headless Chromium driven over the DevTools protocol (CDP), for testing HTML pages.

Why CDP and not ``--dump-dom``/``--screenshot``: the protocol reports what the page itself
cannot write into its DOM — console messages, uncaught exceptions, failed loads and every
network request — as events, and answers questions (image sizes) by evaluating JavaScript in
the loaded page; one browser run gives all of them and a screenshot.

How: Chromium starts with ``--remote-debugging-port=0`` and writes the port it chose to
``DevToolsActivePort`` in its profile directory (no race on a fixed port). We connect to the
browser's websocket with the ``websockets`` package (pure Python, from PyPI; no browser
download), open a page target, attach to it in flattened mode, enable the ``Runtime``, ``Log``,
``Page`` and ``Network`` domains, navigate to the file and wait for ``Page.loadEventFired``.
Every network request other than ``file:`` and ``data:`` is recorded (a self-contained page
makes none); the browser is also told to resolve no host names, so nothing leaves the machine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome binary on PATH (``$CHROMIUM`` first), or None."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageReport:
    """What loading a page produced."""

    title: str
    images: list[dict[str, Any]]
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    text: str = ""


class Browser:
    """``with Browser() as b: report = b.load(path, screenshot=png)``."""

    def __init__(self, binary: str | None = None, *, timeout: float = 60.0) -> None:
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise FileNotFoundError("no chromium binary on PATH")
        self.timeout = timeout
        self._id = 0
        self._events: list[dict] = []

    # -- process and connection ---------------------------------------------------------------
    def __enter__(self) -> Browser:
        from websockets.sync.client import connect

        self._profile = tempfile.mkdtemp(prefix="embedcausal-chromium-")
        self._proc = subprocess.Popen(
            [
                self.binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--user-data-dir={self._profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            port, path = self._wait_for_port()
            self._stack = contextlib.ExitStack()
            self._ws = self._stack.enter_context(
                connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=30)
            )
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_for_port(self) -> tuple[int, str]:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"chromium exited with {self._proc.returncode}: {err}")
            try:
                lines = marker.read_text().split()
            except OSError:
                lines = []
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its DevTools port")

    def __exit__(self, *exc: object) -> None:
        try:
            self._stack.close()
        finally:
            self._stop()

    def _stop(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        if self._proc.stderr:
            self._proc.stderr.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol -----------------------------------------------------------------------------
    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command and wait for its answer (events seen meanwhile are kept)."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        deadline = time.monotonic() + self.timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def wait_for(self, method: str) -> dict:
        """Wait for an event (or return one that already came)."""
        for i, ev in enumerate(self._events):
            if ev.get("method") == method:
                return self._events.pop(i)
        deadline = time.monotonic() + self.timeout
        while True:
            ev = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if ev.get("method") == method:
                return ev
            self._events.append(ev)

    # -- the one thing the tests do -------------------------------------------------------------
    def load(
        self, path: str | os.PathLike, *, screenshot: str | os.PathLike | None = None
    ) -> PageReport:
        """Load a local HTML file; return its title, images, console errors and requests."""
        url = Path(path).resolve().as_uri()
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        self._events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired")
        info = self.send(
            "Runtime.evaluate",
            {
                "expression": """JSON.stringify({
                    title: document.title,
                    text: document.body.innerText,
                    images: Array.from(document.images).map(i => ({
                        alt: i.alt, complete: i.complete,
                        width: i.naturalWidth, height: i.naturalHeight,
                        src: i.src.slice(0, 30)}))})""",
                "returnByValue": True,
            },
            session=session,
        )
        page = json.loads(info["result"]["value"])
        if screenshot is not None:
            metrics = self.send("Page.getLayoutMetrics", session=session)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = self.send(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": 1280,
                        "height": min(float(size["height"]), 16000.0),
                        "scale": 1,
                    },
                },
                session=session,
            )
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        errors, requests = [], []
        for ev in self._events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a)) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                errors.append(p.get("exceptionDetails", {}).get("text", "exception"))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append(p["entry"].get("text", ""))
            elif m == "Network.requestWillBeSent":
                u = p.get("request", {}).get("url", "")
                if not u.startswith(("data:", "file:", "about:")):
                    requests.append(u)
        self.send("Target.closeTarget", {"targetId": target})
        return PageReport(
            title=page["title"],
            images=page["images"],
            console_errors=errors,
            requests=requests,
            text=page["text"],
        )
