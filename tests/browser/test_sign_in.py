"""A member signs in by emailed link: ask, open it, press Sign in, give a name, carry on.

axe checks every page on the way.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import assert_accessible, emailed_link_path, sign_in_by_mail


def test_signing_in_for_the_first_time(live_server, session, page, problems):
    page.goto(live_server.url + "/about")
    main_nav = page.get_by_role("navigation", name="Main")
    main_nav.get_by_role("link", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/sign-in\?next=/about$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert_accessible(page, "(sign in)")

    page.get_by_label("Email address").fill("ada@example")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_text("Enter an email address like name@example.org.")).to_be_visible()
    expect(page.get_by_label("Email address")).to_be_focused()
    assert_accessible(page, "(sign in, bad address)")

    page.get_by_label("Email address").fill("Ada@Example.org")
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_text("ada@example.org")).to_be_visible()
    assert_accessible(page, "(check your inbox)")

    page.goto(live_server.url + emailed_link_path(session))
    expect(page.get_by_text("You’re signing in as ada@example.org.")).to_be_visible()
    expect(page.get_by_label("Keep me signed in on this device for 30 days")).to_be_checked()
    assert_accessible(page, "(confirm sign-in)")

    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to METRO Meetups")
    assert_accessible(page, "(welcome profile)")

    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_text("Please enter the name to show other members.")).to_be_visible()
    assert_accessible(page, "(welcome profile, missing name)")
    page.get_by_label("Display name").fill("Ada Lovelace")
    page.get_by_label("Pronouns").fill("she/her")
    page.get_by_role("button", name="Save and continue").click()

    expect(page).to_have_url(live_server.url + "/about")
    expect(main_nav.get_by_role("link", name="My account")).to_be_visible()
    expect(main_nav.get_by_role("link", name="Sign in")).to_have_count(0)
    assert_accessible(page, "(signed in)")

    main_nav.get_by_role("link", name="My account").click()
    expect(page.get_by_label("Display name")).to_have_value("Ada Lovelace")
    assert_accessible(page, "(my account)")

    main_nav.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(main_nav.get_by_role("link", name="Sign in")).to_be_visible()


def test_signing_in_works_without_javascript(live_server, session, browser):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server.url + "/sign-in?next=/groups")
    sign_in_by_mail(page, live_server.url, session, "grace@example.org")
    page.get_by_label("Display name").fill("Grace")
    page.get_by_role("button", name="Save and continue").click()

    expect(page).to_have_url(live_server.url + "/groups")
    main_nav = page.get_by_role("navigation", name="Main")
    expect(main_nav.get_by_role("link", name="My account")).to_be_visible()
    context.close()
