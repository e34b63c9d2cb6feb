"""The supervisor dashboard in a real browser: Debian's Chromium driven by Playwright.

`linje serve` runs in its own process on a loopback port and a virtual clock
(Monday 2021-11-15 from 15:29:00, five times real speed, so the 15:30
handover comes about twelve seconds after start). The test posts events as the
carrier adapter would and reads the page as a supervisor would. Screenshots go
to ``artifacts/dashboard/`` (git-ignored).

Chromium is never downloaded: the test uses ``/usr/bin/chromium`` and installs
Debian's package with apt-get if it is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from adapters.config_file import load_config
from tests import serve_process
from tests.conftest import ROOT, VO_LINJEN
from tests.http_helpers import TOKENS, TZ
from tests.serve_process import Server, write_auth

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = ROOT / "artifacts" / "dashboard"
SPEED = 5.0
START = "2021-11-15T15:29:00+01:00"


def ensure_chromium() -> Path:
    """Debian's Chromium, installed with apt-get if missing (never a downloaded browser)."""
    if CHROMIUM.exists():
        return CHROMIUM
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log = ""
    for cmd in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"],
                ["apt-get", "install", "-y", "chromium"]):  # fmt: skip
        done = subprocess.run(
            [*sudo, *cmd], env=env, capture_output=True, text=True, timeout=900, check=False
        )
        log = (done.stdout + done.stderr)[-2000:]
        if CHROMIUM.exists():
            return CHROMIUM
    pytest.fail(f"Chromium is needed at {CHROMIUM}; `apt-get install -y chromium` failed:\n{log}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = ensure_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(path), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert errors == [], errors  # no uncaught script errors on the page


class Service:
    """`linje serve` on the virtual clock, and an adapter posting carrier events to it."""

    def __init__(
        self, tmp: Path, port: int | None = None, start: str = START, speed: float = SPEED
    ) -> None:
        self.tmp = tmp
        self.speed = speed
        self.auth = write_auth(tmp / "auth.toml")
        self.data = tmp / "data"
        args = ("--clock-start", start, "--clock-speed", str(speed))
        if port is None:
            self.server = Server(self.data, self.auth, *args)
        else:
            real = serve_process.free_port
            serve_process.free_port = lambda: port  # type: ignore[assignment]
            try:
                self.server = Server(self.data, self.auth, *args)
            finally:
                serve_process.free_port = real  # type: ignore[assignment]
        self.server.wait_ready()
        self.base = self.server.base
        state = self.get("/v1/state")
        self.t0, self.mono = state["server_time"], time.monotonic()
        self.n = 0

    def now(self) -> float:
        """The server's clock, extrapolated from its last answer."""
        return self.t0 + (time.monotonic() - self.mono) * self.speed

    def local(self) -> str:
        return dt.datetime.fromtimestamp(self.now(), TZ).strftime("%H:%M:%S")

    def request(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {TOKENS[who]}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def get(self, path: str, who: str = "supervisor") -> Any:
        status, body = self.request("GET", path, who)
        assert status == 200, body
        return body

    def post(self, type_: str, **fields: Any) -> dict[str, Any]:
        self.n += 1
        at = dt.datetime.fromtimestamp(round(self.now(), 3), dt.UTC).isoformat()
        event = {"event_id": f"carrier-{self.n}", "type": type_, "at": at,
                 "source": "carrier", **fields}  # fmt: skip
        status, body = self.request("POST", "/v1/events", "carrier", event)
        assert status == 200, body
        result: dict[str, Any] = body["results"][0]
        assert result["status"] == "accepted", result
        return result

    def wait_until(self, local: str) -> None:
        target = dt.datetime.fromisoformat(f"2021-11-15T{local}").replace(tzinfo=TZ).timestamp()
        time.sleep(max(0.0, (target - self.now()) / self.speed))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    s = Service(tmp_path)
    yield s
    # A throwaway log: no need to wait for the graceful stop (open streams hold it 5 s).
    s.server.kill()


def sign_in(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.keyboard.press("Enter")


def seconds(text: str) -> int:
    """ "1:05" -> 65, "1:02:05" -> 3725."""
    total = 0
    for part in text.strip().split(":"):
        total = total * 60 + int(part)
    return total


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_only_a_supervisor_token_opens_the_dashboard(service: Service, page: Page) -> None:
    page.goto(service.base + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#token")).to_be_focused()
    sign_in(page, "wrong-token-1234567890")
    expect(page.locator("#signin-error")).to_have_text(re.compile("not recognised"))
    expect(page.locator("#dashboard")).to_be_hidden()
    shot(page, "01-wrong-token")
    for who in ("planner", "carrier"):
        sign_in(page, TOKENS[who])
        expect(page.locator("#signin-error")).to_have_text(re.compile("supervisor token"))
        expect(page.locator("#dashboard")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    shot(page, "02-planner-token")

    sign_in(page, TOKENS["supervisor"])
    expect(page.locator("#conn")).to_have_text(re.compile("Live"))
    expect(page.get_by_role("heading", name="Queues")).to_be_visible()
    assert page.evaluate("Object.values(sessionStorage)") == [TOKENS["supervisor"]]
    assert TOKENS["supervisor"] not in page.url
    assert page.evaluate("localStorage.getItem('linje.supervisor-token')") is None

    # Keyboard only: reach the language switch and choose Norwegian.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.lang") == "nb":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Køer")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    expect(page.locator("#conn")).to_have_text(re.compile("Direkte"))
    # A reload keeps the session (tab storage) and the language.
    page.reload()
    expect(page.get_by_role("heading", name="Medarbeidere")).to_be_visible()
    shot(page, "03-norwegian-1280x800")

    page.set_viewport_size({"width": 768, "height": 1024})
    expect(page.get_by_role("heading", name="Varsler")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "04-tablet-768")
    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_shift_seen_live_through_the_handover(
    service: Service, page: Page, tmp_path: Path
) -> None:
    page.goto(service.base + "/")
    sign_in(page, TOKENS["supervisor"])
    expect(page.locator("#conn")).to_have_text(re.compile("Live"))
    phone = page.locator('article.queue[data-queue="phone"]')
    assert service.local() < "15:29:45", "the server's clock ran ahead of the script"
    expect(phone.locator(".owner")).to_have_text("KSS")
    expect(phone.locator(".handover")).to_contain_text("15:30 to OK")
    answered = page.locator('td[data-metric="answered"][data-channel="phone"]')

    # A call arrives while nobody is logged in on the phone: it waits, and the wait grows.
    service.post("agent.logged_in", agent_id="ok-c", team="ok", channels=["chat"])
    service.post("contact.arrived", contact_id="c1", channel="phone", queue="phone")
    row = page.locator('tr[data-contact="c1"]')
    expect(row).to_contain_text("Waiting")
    expect(answered).to_have_text("0")
    first = seconds(row.locator("td.wait").inner_text())
    page.wait_for_timeout(1200)  # six seconds on the server's clock
    later = seconds(row.locator("td.wait").inner_text())
    assert later >= first + 4, (first, later)
    shot(page, "10-waiting")

    # kss-1 logs in: the call rings there, then kss-1 answers and is busy.
    kss1 = page.locator('tr[data-agent="kss-1"] td[data-channel="phone"]')
    result = service.post("agent.logged_in", agent_id="kss-1", team="kss", channels=["phone"])
    assert [(c["type"], c["agent_ids"]) for c in result["commands"]] == [
        ("offer", ["kss-1"]),
        ("set_members", ["kss-1"]),  # the phone queue's ring group: kss-1 now
    ]
    expect(kss1).to_have_attribute("data-state", "offered")
    expect(kss1).to_contain_text("Ringing")
    expect(row).to_contain_text("Ringing: kss-1")
    shot(page, "11-ringing")
    service.post("contact.answered", contact_id="c1", agent_id="kss-1")
    expect(kss1).to_have_attribute("data-state", "busy")
    expect(kss1).to_contain_text("Busy")
    expect(row).to_have_count(0)
    expect(answered).to_have_text("1")
    expect(page.locator('td[data-metric="answer_rate"][data-channel="phone"]')).to_have_text("100%")
    shot(page, "12-busy")

    # 15:30: the phone passes to OK, who has nobody logged in. The next caller
    # waits (kss-1 is busy) and a handover-gap alert is raised.
    service.wait_until("15:30:01")
    expect(phone.locator(".owner")).to_have_text("OK", timeout=10_000)
    expect(phone.locator(".handover")).to_contain_text("08:30 to KSS")
    service.post("contact.arrived", contact_id="c2", channel="phone", queue="phone")
    gap = page.locator('li.alert.urgent[data-kind="handover_gap"]')
    expect(gap).to_have_count(1)
    expect(gap).to_contain_text("OK has nobody logged in")
    expect(gap).to_contain_text("KSS: kss-1")
    expect(page.locator("#alert-count")).to_have_text("1")
    expect(phone.locator(".warn")).to_contain_text("KSS also answer")
    shot(page, "13-handover-gap")

    gap_id = gap.get_attribute("data-alert-id")
    gap.get_by_role("button", name="Acknowledge").focus()
    page.keyboard.press("Enter")
    done = page.locator(f'li.alert[data-alert-id="{gap_id}"]')
    expect(done).to_contain_text("Acknowledged by supervisor")
    expect(done).to_have_class(re.compile("acknowledged"))
    expect(page.locator("#alert-count")).to_be_hidden()
    acked = next(a for a in service.get("/v1/state")["alerts"] if a["alert_id"] == gap_id)
    assert acked["acknowledged_by"] == "supervisor"
    shot(page, "14-acknowledged")

    # The service dies: the page says it is disconnected, then reconnects by itself.
    port, restart_at = service.server.port, service.now() + 2
    service.server.kill()
    expect(page.locator("#conn")).to_have_attribute("data-state", "disconnected", timeout=10_000)
    expect(page.locator("#conn")).to_contain_text("Disconnected")
    expect(page.locator("#stale")).to_be_visible()
    shot(page, "15-disconnected")
    start = dt.datetime.fromtimestamp(restart_at, TZ).isoformat()
    service.server = Service(tmp_path, port=port, start=start).server
    expect(page.locator("#conn")).to_have_text(re.compile("Live"), timeout=20_000)
    expect(page.locator("#stale")).to_be_hidden()
    expect(kss1).to_have_attribute("data-state", "busy")
    expect(page.locator('tr[data-contact="c2"]')).to_be_visible()
    expect(done).to_contain_text("Acknowledged by supervisor")
    shot(page, "16-reconnected")


def test_dashboard_files_are_served_with_a_strict_policy(service: Service) -> None:
    for path, kind in (("/", "text/html"), ("/ui/main.js", "text/javascript"),
                       ("/ui/style.css", "text/css")):  # fmt: skip
        with urllib.request.urlopen(service.base + path, timeout=5) as r:
            assert r.headers["Content-Type"].startswith(kind), path
            csp = r.headers["Content-Security-Policy"]
            assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
            assert r.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/ui/nope.js", "/ui/..%2Fhttp%2Fapp.py", "/ui/%2E%2E%2Fcli.py"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(service.base + path, timeout=5)
        assert err.value.code == 404, path
    # The display names need a supervisor's token, like the state they label.
    for who, code in ((None, 401), ("planner", 403), ("carrier", 403)):
        status, _ = (
            service.request("GET", "/ui/helplines.json", who)
            if who
            else (urllib_status(service.base + "/ui/helplines.json"), None)
        )
        assert status == code, who
    names = service.get("/ui/helplines.json")
    assert names == {
        "helplines": {
            "vo_linjen": {
                "name": "Vold- og overgrepslinjen",
                "teams": {
                    "kss": "Krisesentersekretariatet (day office)",
                    "ok": "Oslo krisesenter (crisis centre)",
                },
                "escalations": load_config(VO_LINJEN).escalations.model_dump(mode="json"),
            }
        },
        "you": {"name": "supervisor", "team": None},
    }
    # /metrics is open to a scraper on this machine (the server binds to loopback).
    with urllib.request.urlopen(service.base + "/metrics", timeout=5) as r:
        assert b"linje_queue_length" in r.read()


def urllib_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return err.code


def box_bottom(page: Page, selector: str) -> float:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["y"] + box["height"]


def test_the_first_screen_at_1280x800_after_an_hour_of_alerts(tmp_path: Path, page: Page) -> None:
    """Many resolved alerts and one open: queues and waiting contacts stay on the first screen.

    The service starts at 15:40 (20x speed), after the 15:30 handover, and agents
    log in at once (a fresh start gives them five minutes before a gap). OK
    answers both lines; ok-1 is busy, so 26 callers wait past the phone's
    long-wait threshold (60 s) and 25 of them hang up: 25 resolved alerts, one open.
    """
    service = Service(tmp_path, start="2021-11-15T15:40:00+01:00", speed=20.0)
    try:
        for agent, team, channel in (("ok-1", "ok", "phone"), ("kss-1", "kss", "phone"),
                                     ("ok-c", "ok", "chat"), ("kss-c", "kss", "chat")):  # fmt: skip
            service.post("agent.logged_in", agent_id=agent, team=team, channels=[channel])
        service.post("contact.arrived", contact_id="c0", channel="phone", queue="phone")
        service.post("contact.answered", contact_id="c0", agent_id="ok-1")
        callers = [f"c{i}" for i in range(1, 27)]
        for cid in callers:
            service.post("contact.arrived", contact_id=cid, channel="phone", queue="phone")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            alerts = service.get("/v1/state")["alerts"]
            if sum(a["kind"] == "long_wait" for a in alerts) == 26:
                break
            time.sleep(0.2)
        for cid in callers[:-1]:
            service.post("contact.abandoned", contact_id=cid)
        state = service.get("/v1/state")
        kinds = sorted((a["kind"], a["open"]) for a in state["alerts"])
        assert kinds == [("long_wait", False)] * 25 + [("long_wait", True)]
        assert state["today"]["channels"]["phone"]["by_hour"]["contacts"][15] == 27
        phone = state["queues"][0]
        assert (phone["owner"], phone["eligible_teams"]) == ("ok", ["ok"])

        page.goto(service.base + "/")
        sign_in(page, TOKENS["supervisor"])
        expect(page.locator("#conn")).to_have_text(re.compile("Live"))
        # The helpline's display name (its config's `name`), not its id.
        expect(page.locator("#helpline")).to_have_text("Vold- og overgrepslinjen")
        # The open alert is a card with a button; the resolved ones a collapsed history.
        cards = page.locator("#alerts-body li.alert.urgent")
        expect(cards).to_have_count(1)
        expect(cards.first).to_have_attribute("data-kind", "long_wait")
        expect(cards.first).to_contain_text("c26")
        expect(cards.get_by_role("button", name="Acknowledge")).to_have_count(1)
        history = page.locator("details.alert-history")
        expect(history.locator("summary")).to_have_text("Resolved in the last hour (25)")
        expect(history).not_to_have_attribute("open", "")
        expect(history.locator("li.alert.resolved")).to_have_count(25)
        expect(history.locator("li.alert.resolved").first).to_be_hidden()
        assert history.locator("button").count() == 0
        assert page.locator("#alerts-body button").count() == 1
        # Queues and waiting contacts within the first screen; today's table starts on it.
        expect(page.locator('#waiting-body tr[data-contact="c26"]')).to_be_visible()
        assert box_bottom(page, "#queues") <= 800
        assert box_bottom(page, "#waiting") <= 800
        today = page.locator("#today").bounding_box()
        assert today is not None and today["y"] < 800
        # kss-1 and kss-c are logged in and Ready, but the lines are OK's now.
        for agent, channel in (("kss-1", "phone"), ("kss-c", "chat")):
            cell = page.locator(f'tr[data-agent="{agent}"] td[data-channel="{channel}"]')
            expect(cell).to_have_attribute("data-state", "ready")
            expect(cell).to_have_attribute("data-eligible", "false")
            expect(cell).to_contain_text("Ready")
            expect(cell.locator(".eligibility")).to_have_text("not eligible now: only OK")
        ok_c = page.locator('tr[data-agent="ok-c"] td[data-channel="chat"]')
        expect(ok_c).to_have_attribute("data-eligible", "true")
        expect(ok_c.locator(".eligibility")).to_have_count(0)
        expect(page.locator('tr[data-agent="ok-1"] td[data-channel="chat"]')).not_to_have_attribute(
            "data-eligible", re.compile(".")
        )  # not logged in on chat: no eligibility to show
        expect(page.locator('.team[data-team="kss"] .team-name')).to_have_text(
            " Krisesentersekretariatet (day office)"
        )
        # Chart ticks at round numbers: 27 contacts in the busiest hour -> 0, 10, 20, 30.
        ticks = page.locator("#hourly-body svg text.tick-y").all_text_contents()
        assert ticks == ["0", "10", "20", "30"]
        page.screenshot(path=str(SHOTS / "20-first-screen-1280x800.png"))  # the viewport only
        shot(page, "21-first-screen-full-page")

        # Opened, the history stays open through new states; the last caller hangs up.
        history.locator("summary").click()
        expect(history.locator("li.alert.resolved").first).to_be_visible()
        service.post("contact.abandoned", contact_id="c26")
        expect(history.locator("summary")).to_have_text("Resolved in the last hour (26)")
        expect(history).to_have_attribute("open", "")
        expect(page.locator("#alerts-body .empty")).to_have_text("No open alerts.")
        expect(page.locator("#alert-count")).to_be_hidden()
        assert box_bottom(page, "#queues") <= 800
        page.screenshot(path=str(SHOTS / "22-history-open-1280x800.png"))
    finally:
        service.server.kill()


def test_eligibility_follows_the_handover_with_no_agent_event(service: Service, page: Page) -> None:
    """At 15:30 the phone passes from KSS to OK by the clock alone: the agents' cells follow."""
    for agent, team in (("kss-1", "kss"), ("ok-1", "ok")):
        service.post("agent.logged_in", agent_id=agent, team=team, channels=["phone"])
    page.goto(service.base + "/")
    sign_in(page, TOKENS["supervisor"])
    kss1 = page.locator('tr[data-agent="kss-1"] td[data-channel="phone"]')
    ok1 = page.locator('tr[data-agent="ok-1"] td[data-channel="phone"]')
    assert service.local() < "15:29:50", "the server's clock ran ahead of the script"
    expect(kss1).to_have_attribute("data-eligible", "true")
    expect(ok1).to_have_attribute("data-eligible", "false")
    expect(ok1.locator(".eligibility")).to_have_text("not eligible now: only KSS")
    service.wait_until("15:30:01")
    expect(page.locator('article.queue[data-queue="phone"] .owner')).to_have_text("OK")
    expect(kss1).to_have_attribute("data-eligible", "false")
    expect(kss1.locator(".eligibility")).to_have_text("not eligible now: only OK")
    expect(ok1).to_have_attribute("data-eligible", "true")
    expect(kss1).to_have_attribute("data-state", "ready")
    shot(page, "17-eligibility-after-handover")


def test_make_demo_has_no_handover_before_a_newcomer_signs_in(tmp_path: Path, page: Page) -> None:
    """`make demo` (the demo at its own speed): the phone is KSS's for the first half minute."""
    started = time.monotonic()
    server = Server(tmp_path / "demo", write_auth(tmp_path / "auth.toml"), "--demo")
    try:
        server.wait_ready()
        page.goto(server.base + "/")
        sign_in(page, TOKENS["supervisor"])
        expect(page.locator("#conn")).to_have_text(re.compile("Live"))
        phone = page.locator('article.queue[data-queue="phone"]')
        expect(phone.locator(".owner")).to_have_text("KSS")
        expect(phone.locator(".handover")).to_contain_text("15:30 to OK")
        expect(page.locator("#helpline")).to_have_text("Vold- og overgrepslinjen")
        page.screenshot(path=str(SHOTS / "30-demo-signed-in-1280x800.png"))
        time.sleep(max(0.0, started + 30 - time.monotonic()))  # half a minute after start
        expect(phone.locator(".owner")).to_have_text("KSS")
        expect(phone.locator(".handover")).to_contain_text("15:30 to OK")
        expect(phone).to_contain_text("since 08:30")  # no owner change yet today
        page.screenshot(path=str(SHOTS / "31-demo-after-30s-1280x800.png"))
    finally:
        assert server.stop() == 0


@pytest.fixture(autouse=True, scope="module")
def _no_stale_screens() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
