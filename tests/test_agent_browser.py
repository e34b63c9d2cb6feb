"""The agent page in Debian's Chromium (Playwright): sign in, register with the keyboard only.

`linje serve` runs in its own process (the dashboard test's ``Service``); the
carrier adapter reports three answered calls, two by kss-1 and one by kss-2.
The agent kss-1 signs in, sees exactly its two, fills the form for one with
the keyboard alone, and the content statistics count it. Screenshots go to
``artifacts/agent/`` (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ROOT
from tests.http_helpers import TOKENS
from tests.test_dashboard_browser import Service, browser, page  # noqa: F401 (fixtures)

SHOTS = ROOT / "artifacts" / "agent"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    s = Service(tmp_path, start="2021-11-15T10:00:00+01:00", speed=1.0)
    yield s
    s.server.kill()


def shot(page: Page, name: str) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def answered_call(service: Service, cid: str, agent: str) -> None:
    service.post("contact.arrived", contact_id=cid, channel="phone", queue="phone")
    service.post("contact.answered", contact_id=cid, agent_id=agent)
    service.post("contact.ended", contact_id=cid)


def tab_to(page: Page, test: str, limit: int = 60) -> None:  # noqa: F811
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(test):
            return
    raise AssertionError(f"no element reached with the keyboard: {test}")


def test_an_agent_registers_its_own_contact_with_the_keyboard_only(
    service: Service,
    page: Page,  # noqa: F811
) -> None:
    for agent in ("kss-1", "kss-2"):
        service.post("agent.logged_in", agent_id=agent, team="kss", channels=["phone"])
    answered_call(service, "c1", "kss-1")
    answered_call(service, "c2", "kss-2")
    answered_call(service, "c3", "kss-1")
    assert service.get("/v1/stats/content")["tables"] == []

    page.goto(service.base + "/agent")
    expect(page.locator("#token")).to_be_focused()
    page.keyboard.type("not-a-token-of-this-service")
    page.keyboard.press("Enter")
    expect(page.locator("#signin-error")).to_have_text("That token was not accepted.")
    page.keyboard.type(TOKENS["agent"])
    page.keyboard.press("Enter")
    todo = page.locator("#todo button")
    expect(todo).to_have_count(2)
    assert todo.locator("span:first-child").all_inner_texts() == ["Phone · c1", "Phone · c3"]
    expect(page.locator("#agent")).to_have_text("(kss-1)")
    expect(page.locator("body")).not_to_contain_text("c2")
    shot(page, "01-contacts")

    # Keyboard only: the first contact has the focus; Enter opens its form.
    expect(todo.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#form-title")).to_have_text("Phone contact registration · c1")
    fields = page.locator("#fields fieldset")
    expect(fields).to_have_count(9)
    # Each question: a radio group is one tab stop (arrow keys choose), a checkbox each.
    for i in range(9):
        fs = fields.nth(i)
        kind = fs.get_attribute("data-kind")
        if kind == "single":
            if i == 0:
                page.keyboard.press("ArrowRight")  # who: the second answer, a relative
            else:
                page.keyboard.press("Space")  # the first answer
            page.keyboard.press("Tab")
        else:
            boxes = fs.locator("input").count()
            if fs.get_attribute("data-field") != "referrals":
                page.keyboard.press("Space")
            for _ in range(boxes):
                page.keyboard.press("Tab")
    expect(page.locator("#save")).to_be_focused()
    shot(page, "02-form-filled")
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text("Registered: c1.")
    expect(todo).to_have_count(1)
    expect(todo.first).to_be_focused()
    expect(todo.first).to_contain_text("c3")

    stats = service.get("/v1/stats/content")
    (table,) = stats["tables"]
    (total,) = table["groups"]
    assert (table["year"], table["channel"], total["registered"]) == (2021, "phone", "<5")
    assert total["fields"]["who"]["counts"] == {
        "exposed": 0, "relative": "<5", "professional": 0, "unknown": 0, "other": 0}  # fmt: skip
    assert total["fields"]["referrals"]["answered"] == 0

    # Norwegian, by keyboard: the language switch, then the next contact's form.
    tab_to(page, "document.activeElement.dataset.lang === 'nb'")
    page.keyboard.press("Enter")
    expect(page.locator("#todo-title")).to_contain_text("Dine henvendelser å registrere")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    tab_to(page, "document.activeElement.dataset.contact === 'c3'")
    page.keyboard.press("Enter")
    expect(page.locator("#fields legend").first).to_contain_text("Hvem tok kontakt?")
    shot(page, "03-norsk-form")
    assert TOKENS["agent"] not in page.url
