"""Keyboard-only helpers for browser tests: move with Tab and Shift+Tab as a person would, and check
that wherever focus lands it can be seen."""

from __future__ import annotations

import re

FOCUS_INDICATOR = """el => {
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return {outline, shadow: style.boxShadow !== 'none', focusVisible: el.matches(':focus-visible'),
            describe: el.outerHTML.slice(0, 160)};
}"""


def focused_name(page) -> str:
    """The accessible name of the focused element, as Playwright's accessibility snapshot has it."""
    focused = page.locator(":focus")
    if not focused.count():
        return ""
    lines = focused.first.aria_snapshot().splitlines()
    snapshot = lines[0] if lines else ""
    found = re.match(r'-\s+\S+\s+"((?:[^"\\]|\\.)*)"', snapshot)
    return found.group(1) if found else ""


def tab_to(page, name: str | re.Pattern, *, backwards: bool = False, limit: int = 60) -> None:
    """Press Tab (Shift+Tab when `backwards`) until the focused element's accessible name is `name`
    (or matches the pattern); fails after `limit` presses, listing the names passed on the way."""
    key = "Shift+Tab" if backwards else "Tab"
    passed = []
    for _ in range(limit):
        page.keyboard.press(key)
        current = focused_name(page)
        if (name.search(current) if isinstance(name, re.Pattern) else current == name):
            return
        passed.append(current)
    raise AssertionError(f"{limit} presses of {key} never reached {name!r}; passed: {passed}")


def assert_focus_visible_within(page, region_selector: str) -> None:
    """Focus is inside `region_selector` (or is it) and shows an outline or box-shadow."""
    inside = page.evaluate(
        "sel => { const r = document.querySelector(sel); const a = document.activeElement;"
        " return !!r && !!a && a !== document.body && r.contains(a); }", region_selector)
    describe = page.evaluate("() => document.activeElement ? document.activeElement.outerHTML.slice(0, 160) : null")
    assert inside, f"focus is not inside {region_selector} after the swap: {describe}"
    indicator = page.evaluate(f"() => ({FOCUS_INDICATOR})(document.activeElement)")
    assert indicator["outline"] or indicator["shadow"], f"no visible focus indicator on {indicator['describe']}"
    assert indicator["focusVisible"], f"{indicator['describe']} is focused but not :focus-visible"
