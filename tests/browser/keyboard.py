"""Keyboard-only helpers for browser tests: move with Tab and Shift+Tab as a person would, and check
that wherever focus lands it can be seen."""

from __future__ import annotations

import re

FOCUS_INDICATOR = """el => {
    // Chromium's date field has its own calendar button inside, a Tab stop of its own: focused, the
    // field matches neither :focus nor :focus-visible, and a pseudo-element's computed style does not
    // show its focus state. Its ring is the browser's and ours (static/app.css); nothing to read here.
    const picker = el.matches('input[type=date], input[type=time], input[type=datetime-local]')
        && !el.matches(':focus');
    if (picker) return {outline: true, shadow: false, focusVisible: true, describe: el.outerHTML.slice(0, 160)};
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return {outline, shadow: style.boxShadow !== 'none', focusVisible: el.matches(':focus-visible'),
            describe: el.outerHTML.slice(0, 160)};
}"""


def focused_role_and_name(page) -> tuple[str, str]:
    """The role and accessible name of the focused element, as Playwright's accessibility snapshot has them."""
    focused = page.locator(":focus")
    if not focused.count():
        return "", ""
    lines = focused.first.aria_snapshot().splitlines()
    snapshot = lines[0] if lines else ""
    found = re.match(r'-\s+(\S+)\s+"((?:[^"\\]|\\.)*)"', snapshot)
    return (found.group(1), found.group(2)) if found else ("", "")


def focused_name(page) -> str:
    """The accessible name of the focused element."""
    return focused_role_and_name(page)[1]


def tab_to(page, name: str | re.Pattern, *, role: str | None = None, backwards: bool = False,
           limit: int = 60, see_every_stop: bool = False) -> None:
    """Press Tab (Shift+Tab when `backwards`) until the focused element's accessible name is `name`
    (or matches the pattern); fails after `limit` presses, listing the names passed on the way.
    With `role`, only an element of that role counts (the menu's "Sign in" link is not the button).
    With `see_every_stop`, every element focused on the way must show a focus indicator too."""
    key = "Shift+Tab" if backwards else "Tab"
    passed = []
    for _ in range(limit):
        page.keyboard.press(key)
        if see_every_stop:
            assert_focus_visible(page)
        current_role, current = focused_role_and_name(page)
        if (name.search(current) if isinstance(name, re.Pattern) else current == name) and role in (None, current_role):
            return
        passed.append(current)
    raise AssertionError(f"{limit} presses of {key} never reached {name!r}; passed: {passed}")


def assert_focus_visible(page) -> None:
    """Something is focused and shows an outline or box-shadow."""
    indicator = page.evaluate(f"() => document.activeElement && document.activeElement !== document.body"
                              f" ? ({FOCUS_INDICATOR})(document.activeElement) : null")
    assert indicator is not None, "Tab left nothing focused"
    # Not :focus-visible itself: a date field whose own calendar button has the focus does not match it.
    assert indicator["outline"] or indicator["shadow"], f"no visible focus indicator on {indicator['describe']}"


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
