"""A tiny Chrome DevTools Protocol client: open a page in headless Chromium, collect what the
console and the browser log said, evaluate an expression, take a screenshot.

Used by ``tests/test_html_chromium.py``; also a script that writes the README's screenshot::

    .venv/bin/python tests/_chromium.py reports/report.html docs/report.png

It drives Debian's ``chromium`` (``/usr/bin/chromium``, installed by ``make test`` through ``.ci/test-deps``) through its
remote-debugging websocket with ``aiohttp`` (a dependency of DVC, declared in the dev extra): no
browser download, no Selenium, no Playwright.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("POISONGUARD_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--no-first-run",
         "--no-default-browser-check", "--mute-audio", "--hide-scrollbars", "--remote-debugging-port=0"]


@dataclasses.dataclass
class PageReport:
    """What happened while the page loaded."""

    console: list[dict[str, Any]]       # Runtime.consoleAPICalled: type, text
    exceptions: list[str]               # Runtime.exceptionThrown
    log: list[dict[str, Any]]           # Log.entryAdded: level, source, text (CSP, failed loads, ...)
    dialogs: list[str]                  # Page.javascriptDialogOpening (alert, confirm...)
    requests: list[str]                 # every URL the page requested
    value: Any                          # the evaluated expression
    screenshot: bytes | None

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error-level log entries."""
        out = [f"console.{c['type']}: {c['text']}" for c in self.console if c["type"] in ("error", "assert")]
        out += [f"exception: {x}" for x in self.exceptions]
        out += [f"log {e['source']}: {e['text']}" for e in self.log if e["level"] == "error"]
        return out


def _wait_for_port(user_data: Path, proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    marker = user_data / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with code {proc.returncode} before opening its debugging port")
        if marker.is_file():
            lines = marker.read_text().split()
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its debugging port in time")


async def _session(port: int, url: str, expression: str, width: int, screenshot: bool, settle: float,
                   timeout: float) -> PageReport:
    import aiohttp

    rep = PageReport([], [], [], [], [], None, None)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
            targets = await r.json(content_type=None)
        page = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 1_000_000))
            pending: dict[int, asyncio.Future] = {}
            loaded = asyncio.Event()
            dialog_tasks: list[asyncio.Task] = []

            async def reader() -> None:
                async for msg in ws:
                    data = json.loads(msg.data)
                    if "id" in data and data["id"] in pending:
                        pending.pop(data["id"]).set_result(data)
                        continue
                    method, params = data.get("method"), data.get("params", {})
                    if method == "Runtime.consoleAPICalled":
                        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                        rep.console.append({"type": params.get("type"), "text": text})
                    elif method == "Runtime.exceptionThrown":
                        d = params.get("exceptionDetails", {})
                        rep.exceptions.append(str(d.get("exception", {}).get("description") or d.get("text")))
                    elif method == "Log.entryAdded":
                        e = params.get("entry", {})
                        rep.log.append({"level": e.get("level"), "source": e.get("source"), "text": e.get("text")})
                    elif method == "Page.javascriptDialogOpening":
                        rep.dialogs.append(str(params.get("message")))
                        # answered from another task: this reader must keep reading the reply
                        dialog_tasks.append(asyncio.create_task(send("Page.handleJavaScriptDialog", accept=True)))
                    elif method == "Network.requestWillBeSent":
                        rep.requests.append(str(params.get("request", {}).get("url")))
                    elif method == "Page.loadEventFired":
                        loaded.set()

            async def send(method: str, **params: Any) -> dict[str, Any]:
                i = next(ids)
                fut: asyncio.Future = asyncio.get_running_loop().create_future()
                pending[i] = fut
                await ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
                res = await asyncio.wait_for(fut, timeout)
                if "error" in res:
                    raise RuntimeError(f"{method}: {res['error']}")
                return res.get("result", {})

            task = asyncio.create_task(reader())
            try:
                for domain in ("Runtime", "Log", "Page", "Network"):
                    await send(f"{domain}.enable")
                await send("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
                           mobile=False)
                await send("Page.navigate", url=url)
                await asyncio.wait_for(loaded.wait(), timeout)
                await asyncio.sleep(settle)
                res = await send("Runtime.evaluate", expression=expression, returnByValue=True)
                rep.value = res.get("result", {}).get("value")
                if screenshot:
                    shot = await send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                    rep.screenshot = base64.b64decode(shot["data"])
            finally:
                task.cancel()
    return rep


def open_page(path: str | Path, expression: str = "document.title", *, width: int = 1200, screenshot: bool = False,
              settle: float = 0.5, timeout: float = 60.0) -> PageReport:
    """Load ``path`` in headless Chromium; return the console, log, dialogs, the expression's value."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        raise FileNotFoundError(CHROMIUM)
    user_data = Path(tempfile.mkdtemp(prefix="pg-chromium-"))
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={user_data}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port, _ = _wait_for_port(user_data, proc, timeout)
        url = Path(path).resolve().as_uri()
        return asyncio.run(_session(port, url, expression, width, screenshot, settle, timeout))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(user_data, ignore_errors=True)


if __name__ == "__main__":  # screenshot for the README
    src, dest = sys.argv[1], sys.argv[2]
    rep = open_page(src, screenshot=True, width=int(sys.argv[3]) if len(sys.argv) > 3 else 1200)
    if rep.errors:
        sys.exit("page errors: " + "; ".join(rep.errors))
    assert rep.screenshot is not None
    Path(dest).write_bytes(rep.screenshot)
    print(f"wrote {dest} ({len(rep.screenshot)} bytes)")
