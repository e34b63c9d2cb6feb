"""The escalation banner in a real browser (Debian's Chromium, Playwright).

`linje serve` runs on a loopback port from Monday 2021-11-15 10:00 (KSS owns the
chat). The chat vendor's adapter flags a chat (duty to avert); the supervisor's
page shows a banner within 2 s, reachable by keyboard, that survives a reload
and goes only when acknowledged; the procedure is then ticked off on the card.
Screenshots go to ``artifacts/escalation/`` (git-ignored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import test_dashboard_browser as dashboard_browser
from tests.conftest import ROOT
from tests.http_helpers import TOKENS
from tests.test_dashboard_browser import Service, sign_in

SHOTS = ROOT / "artifacts" / "escalation"
START = "2021-11-15T10:00:00+01:00"


# Debian's Chromium and a fresh page per test, as the dashboard's browser tests have them.
browser = dashboard_browser.browser
page = dashboard_browser.page


@pytest.fixture
def line(tmp_path: Path) -> Iterator[Service]:
    s = Service(tmp_path, start=START, speed=1.0)
    yield s
    s.server.kill()


def chat_event(service: Service, type_: str, **fields: Any) -> dict[str, Any]:
    service.n += 1
    at = dt.datetime.fromtimestamp(round(service.now(), 3), dt.UTC).isoformat()
    event = {"event_id": f"chat-{service.n}", "type": type_, "at": at, "source": "chat",
             **fields}  # fmt: skip
    status, body = service.request("POST", "/v1/events", "chat", event)
    assert status == 200, body
    result: dict[str, Any] = body["results"][0]
    assert result["status"] == "accepted", result
    return result


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_the_banner_comes_within_2_s_stays_through_a_reload_and_goes_on_acknowledgement(
    line: Service, page: Page
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(line.base + "/")
    sign_in(page, TOKENS["supervisor"])
    expect(page.locator("#conn-text")).to_have_text("Live")
    chat_event(line, "agent.logged_in", agent_id="kss-c", team="kss", channels=["chat"])
    chat_event(line, "contact.arrived", contact_id="ch-1", channel="chat", queue="chat")
    chat_event(line, "contact.answered", contact_id="ch-1", agent_id="kss-c")
    banner = page.locator('article.escalation.urgent[data-escalation="esc-1"]')
    expect(banner).to_have_count(0)

    result = chat_event(
        line, "contact.flagged", contact_id="ch-1", flag="duty_to_avert", category="risk_to_life"
    )
    assert [c["type"] for c in result["commands"]] == ["alert", "legal_hold"]
    expect(banner).to_be_visible(timeout=2000)
    for text in ("Duty to avert", "Risk to life", "level 1 of 3", "ch-1", "kss-c", "KSS"):
        expect(banner).to_contain_text(text)
    expect(banner).to_contain_text("Trace preservation asked of the chat vendor")
    shot(page, "01-banner")

    # A reload keeps it (the state is the service's, not the page's).
    page.reload()
    expect(banner).to_be_visible(timeout=2000)
    page.wait_for_timeout(1500)
    expect(banner).to_have_count(1)  # nothing but an acknowledgement takes it away
    shot(page, "02-after-reload")

    # Keyboard only: Tab reaches its Acknowledge button.
    page.locator("#main").focus()
    reached = False
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('esc-ack')"):
            reached = True
            break
    assert reached, "Tab never reached the escalation's Acknowledge button"
    shot(page, "03-acknowledge-focused")
    page.keyboard.press("Enter")
    expect(banner).to_have_count(0)
    card = page.locator('article.escalation.in-progress[data-escalation="esc-1"]')
    expect(card).to_contain_text("Acknowledged by supervisor")
    # Focus moved on to the first step of the procedure: Space ticks it.
    first = card.locator('input[data-step="assess"]')
    expect(first).to_be_focused()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    expect(first).to_be_disabled()
    shot(page, "04-in-progress")
    card.locator('input[data-step="police"]').check()
    expect(card.locator('input[data-step="police"]')).to_be_disabled()
    card.locator('input[data-step="document"]').click()  # the card goes at once: no check()
    expect(card).to_have_count(0)  # the last required step closed it
    shot(page, "05-closed")
    stats = line.get("/v1/stats/escalations")
    assert [(g["raised"], g["acknowledged"], g["closed"]) for g in stats["groups"]] == [
        (1, 1, {"checklist_complete": 1})
    ]
