"""The dashboard in a real browser: a big fan-out stays usable; keyboard and screen readers."""

from __future__ import annotations

import re

import httpx
import pytest
from api_e2e import apply_and_start, wait_status
from dashboard_e2e import login, shot
from playwright.sync_api import BrowserContext, Page, expect

pytestmark = pytest.mark.browser

FAN = """
name: dash-fan
description: {en: "A fan-out of 60 instances", ar: "توزيع على 60 نسخة"}
tasks:
  - id: list
    run: echo 'items=[{}]' | sed "s/{}/$(seq -s, 0 59)/" >> "$BASIR_OUTPUT"
  - id: work
    needs: [list]
    foreach: ${{ tasks.list.outputs.items }}
    uses: noop
  - id: done
    needs: [work]
    uses: noop
"""


def _both_languages(page: Page, name: str) -> None:
    """Screenshots of the page in English, then Arabic (switched back after)."""
    shot(page, name)
    page.click("#lang-switch")
    try:
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("#dag g.node, #diff").first).to_be_visible()
        shot(page, name)
    finally:
        page.click("#lang-switch")
        expect(page.locator("html")).to_have_attribute("lang", "en")


def test_foreach_groups_collapse_expand_zoom_and_search(
    context: BrowserContext, client: httpx.Client
) -> None:
    run = apply_and_start(client, FAN)
    wait_status(client, run["run_id"], {"succeeded"})
    page = context.new_page()
    login(page)
    page.goto(f"/runs/{run['run_id']}")
    group = page.locator('#dag g.node.group[data-task="work[*]"]')
    expect(group).to_have_count(1)  # 60 instances drawn as one node...
    expect(page.locator("#dag g.node")).to_have_count(4)  # list, work, work[*], done
    expect(group).to_contain_text("60")  # ...that says how many, in words
    expect(group).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#timeline g.attempt")).to_have_count(62)  # list, 60 work[i], done

    group.focus()  # the keyboard opens a group
    page.keyboard.press("Enter")
    expect(page.locator("#dag g.node")).to_have_count(63)  # list, work, 60 work[i], done
    expect(page.locator('#dag g.node[data-toggle="work"]')).to_have_attribute(
        "aria-expanded", "true"
    )
    page.locator('#dag g.node[data-toggle="work"]').click()  # and closes it again
    expect(page.locator("#dag g.node")).to_have_count(4)

    width = float(page.locator("#dag svg").get_attribute("width") or 0)
    page.click("#dag-zoom-in")
    assert float(page.locator("#dag svg").get_attribute("width") or 0) > width
    page.click("#dag-fit")
    box = page.locator("#dag").bounding_box()
    assert box is not None
    assert float(page.locator("#dag svg").get_attribute("width") or 0) <= box["width"]
    assert float(page.locator("#dag svg").get_attribute("height") or 0) <= 860 * 0.7
    page.fill("#dag-search", "work[42")  # a match inside a collapsed group opens it
    expect(page.locator("#dag g.node.match")).to_have_count(1)
    expect(page.locator('#dag g.node.match[data-task="work[42]"]')).to_have_count(1)
    expect(page.locator("#dag-found")).not_to_be_empty()

    _both_languages(page, "run-big")


def test_keyboard_focus_landmarks_and_labels(context: BrowserContext, client: httpx.Client) -> None:
    second = FAN.replace("uses: noop\n", "uses: noop\n    retries: {max: 1}\n", 1)
    assert client.post(
        "/api/v1/workflows", content=second, headers={"Content-Type": "application/yaml"}
    ).is_success
    page = context.new_page()
    login(page)
    page.goto("/workflows/dash-fan")
    # Landmarks: one banner, one main, the labelled menu.
    expect(page.get_by_role("banner")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("navigation", name=re.compile("Main menu"))).to_have_count(1)
    # The first Tab reaches the skip link, which shows itself with a visible focus ring.
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "() => { const e = document.activeElement; const s = getComputedStyle(e);"
        " return [e.className, s.outlineStyle, s.outlineWidth]; }"
    )
    assert focused[0] == "skip" and focused[1] != "none" and focused[2] != "0px"
    # Every control has an accessible name.
    unnamed = page.evaluate(
        "() => [...document.querySelectorAll('button, input:not([type=hidden]), select, a')]"
        ".filter(e => !(e.getAttribute('aria-label') || e.textContent.trim() ||"
        " (e.id && document.querySelector(`label[for='${e.id}']`)) || e.closest('label')))"
        ".map(e => e.outerHTML)"
    )
    assert unnamed == []
    # The spec is highlighted, and the diff of versions 1 → 2 marks lines in words too.
    expect(page.locator("#spec span.t-nt").first).to_be_visible()
    expect(page.locator("#diff .d-add")).not_to_have_count(0)
    assert "added:" in page.locator("#diff").inner_text()
    page.evaluate("() => document.activeElement.blur()")
    _both_languages(page, "workflow-diff")

    run = apply_and_start(client, FAN)
    wait_status(client, run["run_id"], {"succeeded"})
    page.goto(f"/runs/{run['run_id']}")
    # The graph and its tools are labelled; a state is a word, not only a colour.
    expect(page.get_by_role("toolbar", name=re.compile("Graph tools"))).to_have_count(1)
    expect(page.locator("#dag")).to_have_attribute("aria-label", re.compile(r"\w+"))
    expect(page.locator("#run-status")).to_contain_text("succeeded")
    expect(page.locator('#dag g.node[data-task="done"] text.state')).to_have_text(
        re.compile(r"\w+")
    )
    expect(page.locator("#timeline svg title").first).to_have_text(re.compile(r"\w+"))
    page.locator("#dag-search").focus()
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
