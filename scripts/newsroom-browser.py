#!/usr/bin/env python3
"""The newsroom page in a real browser (Debian's chromium, driven by Playwright; nothing
downloads a browser): log in with a token, see a POSTed article appear with its tag chips and
highlighted evidence, its copy counted and a dead letter shown, filter to one topic, and check
that a hostile title shows as text with no script run. Saves a screenshot. Exit status 0 when
every check holds.

    newsroom-browser.py --url http://127.0.0.1:8080 --token TOKEN --out DIR [--chromium PATH]

Needs the gateway in front of the three stage services (the articles must be tagged).
"""

import argparse
import json
import os
import sys
import time
import urllib.request

from playwright.sync_api import sync_playwright

# Our own short reports, distinct enough that the deduplicator keeps each.
WAR_1 = """Drones strike Kharkiv power station as Ukraine braces for winter

KHARKIV, Nov 21 (Courier) - Russian drones hit a thermal power station in Kharkiv overnight, \
Ukraine's energy ministry said, cutting heating to thousands of homes as the war enters its \
third winter.

Ukrainian air defences shot down most of the drones launched by Russia, the air force said, \
but debris damaged substations in the region."""

WAR_2 = """Zelenskiy asks allies for Patriot batteries after missile barrage on Kyiv

KYIV, Nov 22 (Courier) - President Volodymyr Zelenskiy urged Western allies to speed up \
deliveries of Patriot air defence systems after Russia fired cruise missiles at Kyiv.

The Ukrainian military said the attack on the capital was the largest in weeks; Russian \
forces also shelled Kherson across the Dnipro river."""

HOSTILE_TITLE = "<img src=x onerror=alert(1)> Russian shelling of Odesa port"
HOSTILE = HOSTILE_TITLE + """

ODESA, Nov 23 (Courier) - Russian artillery and missiles struck the port of Odesa, \
Ukrainian officials said, damaging grain terminals as the war against Ukraine continues.

Ukraine's navy said Russian warships in the Black Sea launched the missiles; the invasion \
has repeatedly targeted the ports that ship Ukrainian grain."""


def post(url, token, text, article_id=None):
    headers = {
        "Authorization": "Bearer " + token,
        "Content-Type": "text/plain; charset=utf-8",
        "X-Newsflow-Source": "courier",
    }
    if article_id:
        headers["X-Newsflow-Id"] = article_id
    request = urllib.request.Request(
        url + "/v1/articles", data=text.encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202, response.status
        return json.load(response)["ids"][0]


def check(condition, message):
    if not condition:
        print("newsroom-browser: FAILED:", message, file=sys.stderr)
        sys.exit(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--out", required=True, help="folder for the screenshot")
    parser.add_argument("--chromium", default=os.environ.get("NEWSFLOW_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    dialogs, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium,
            headless=True,
            # As root (CI containers) chromium needs this; the page is our own.
            args=["--no-sandbox"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(args.url + "/")
        check("newsroom" in page.title(), "the page's title is " + page.title())
        check(args.token not in page.content(), "the token is in the page's source")

        page.fill("#token", args.token)
        page.click("#login button")
        page.wait_for_selector("#status.live", timeout=15000)

        started = time.monotonic()
        post(args.url, args.token, WAR_1)
        first = page.locator(".article", has_text="Drones strike Kharkiv power station")
        first.wait_for(timeout=10000)
        seen_after = time.monotonic() - started
        check(first.locator('.chip[data-topic="ukraine-war"]').count() == 1,
              "the article has no ukraine-war chip")
        marks = first.locator(".title mark, .lede mark").all_inner_texts()
        check(len(marks) > 0, "no evidence is highlighted in the title or lede")

        # A copy of it under another id: the deduplicator flags it, the card counts it.
        post(args.url, args.token, WAR_1, article_id="copy-of-kharkiv")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.article .copies')]"
            ".some((e) => e.textContent.includes('1 copy'))", timeout=15000)
        # A page with no article in it is dead-lettered; the page shows the rate by kind.
        post(args.url, args.token, "— … ·")
        page.wait_for_function(
            "() => document.getElementById('dead-letters').textContent.includes('no_body')",
            timeout=15000)

        # Only one topic: every article shown carries it.
        page.fill("#topics", "ukraine-war")
        page.click("#apply")
        page.wait_for_selector("#status.live", timeout=15000)
        post(args.url, args.token, WAR_2)
        page.locator(".article", has_text="Patriot batteries").wait_for(timeout=15000)
        articles = page.locator(".article")
        for i in range(articles.count()):
            check(articles.nth(i).locator('.chip[data-topic="ukraine-war"]').count() == 1,
                  "an article without the filtered topic is shown")

        # A hostile title is text.
        post(args.url, args.token, HOSTILE)
        hostile = page.locator(".article", has_text="onerror=alert(1)")
        hostile.wait_for(timeout=15000)
        title = hostile.locator(".title").inner_text()
        check(HOSTILE_TITLE in title, "the hostile title is not shown as text: " + title)
        check(page.locator("#articles img").count() == 0, "an <img> from an article is in the page")
        page.wait_for_timeout(500)
        check(not dialogs, "a script ran: " + repr(dialogs))
        check(not errors, "the page threw: " + repr(errors))

        shot = os.path.join(args.out, "newsroom.png")
        page.screenshot(path=shot, full_page=False)
        browser.close()
    print(f"newsroom-browser: article shown {seen_after:.1f} s after its POST, "
          f"{len(marks)} evidence marks, its copy counted, the dead letter shown, "
          f"filter and hostile title hold; screenshot {shot}")


if __name__ == "__main__":
    main()
