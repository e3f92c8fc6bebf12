"""The sandbox in a real browser: headless Chromium drives the web chat, whose messages and
clicks go through the signed webhook to the bot, and the bot answers through lark-oapi to
the in-process emulator. Skipped, with the reason, where Chromium or Playwright is missing."""

from __future__ import annotations

import shutil
import socket

import pytest
from aiohttp import web

from bot.devtools.sandbox.server import Sandbox
from bot.transport.webhook import make_web_app
from tests.conftest import make_settings
from tests.waiting import wait_until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def sandbox(db_url):
    port = free_port()
    settings = make_settings(db_url, "http://127.0.0.1:1", port=port, app_id="", app_secret="")
    box = Sandbox(settings)
    bot = await box.build()
    bot.scheduler = False  # the page ticks the scheduler itself when its clock moves
    await bot.start()
    app = make_web_app(bot)
    box.install(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield box, f"http://127.0.0.1:{port}/"
    await runner.cleanup()
    await bot.stop()
    await box.stop()


async def test_sandbox_api_round_trip(sandbox):
    box, _ = sandbox
    sent = await box.say("ou_li", "oc_p2p_ou_li", "待办")
    assert sent["status"] == 200

    def due_cards() -> list[dict]:
        return [
            m
            for m in box.messages("oc_p2p_ou_li")
            if m["from"] == "bot"
            and m["card"]
            and m["card"]["header"]["title"]["content"].startswith("待办")
        ]

    await wait_until(due_cards, 10)  # the page polls the same way
    log = box.messages("oc_p2p_ou_li")
    assert [m["text"] for m in log if m["from"] == "user"] == ["待办"]
    assert len(due_cards()) == 1  # admins may also get a calendar notice; one answer only


async def test_sandbox_team_group_import_lists_the_newcomer(sandbox):
    box, _ = sandbox
    assert (await box.say("ou_li", "oc_sandbox_team", "导入本群成员"))["status"] == 200

    def import_card() -> dict | None:
        for m in box.messages("oc_sandbox_team"):
            if m["from"] == "bot" and m["card"]:
                if m["card"]["header"]["title"]["content"] == "已导入本群成员":
                    return m["card"]
        return None

    card = await wait_until(import_card, 10)
    assert "刘洋 (实习生)" in str(card) and "select_static" in str(card)


@pytest.fixture
async def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
            ],
        )
        yield instance
        await instance.close()


async def test_browser_chat_asks_whats_due_and_refreshes_the_card(sandbox, browser):
    box, url = sandbox
    page = await browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(url)
    await page.select_option("#who", "ou_li")
    await page.fill("#text", "待办")
    await page.click("#send")
    card = page.locator(".msg.bot .card", has_text="待办 ·").first
    await card.wait_for(timeout=10000)
    assert "待办" in await card.locator(".card-header .title").inner_text()
    assert "项目进度周报" in await card.inner_text()
    await card.get_by_role("button", name="刷新").click()
    await page.locator("#toast.show").wait_for(timeout=10000)
    assert await page.locator("#toast").get_attribute("data-type") == "success"


async def test_browser_submit_a_report_and_approve_it_as_the_director(sandbox, browser):
    box, url = sandbox
    page = await browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(url)

    # The manager asks for the weekly report form and fills it in.
    await page.select_option("#who", "ou_li")
    await page.fill("#text", "提交周报")
    await page.click("#send")
    form = page.locator(".msg.bot .card form").last
    await form.wait_for(timeout=10000)
    await form.locator("[name=completion_rate]").fill("85")
    await form.locator("[name=risks]").fill("物料延迟 <at id=all></at>")
    await form.locator("button.btn-primary, button.btn-primary_filled").first.click()
    await page.locator("#toast.show").wait_for(timeout=10000)
    assert await page.locator("#toast").get_attribute("data-type") == "success"

    # The director sees the approval card in their private chat and approves it.
    await page.select_option("#who", "ou_zhou")
    approval = page.locator(".msg.bot .card", has_text="项目进度周报").last
    await approval.wait_for(timeout=10000)
    text = await approval.inner_text()
    # shown as text, never a mention: plain text breaks the tag with the look-alike ＜
    assert "85%" in text and "＜at id=all>＜/at>" in text
    await approval.get_by_role("button", name="通过").click()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.msg.bot .card')].some(c => c.innerText.includes('已通过'))",
        timeout=10000,
    )
