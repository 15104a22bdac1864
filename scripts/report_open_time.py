"""Measures how long the HTML plan report takes to open in headless Chromium.

Builds a plan of N ops (N contacts new in the CRM, each created in Outlook), writes
`crmsync.report.html(plan)`, and times loading it until the first page of every
table is drawn, then times one filter change. Needs Playwright and Debian's
chromium (see docs/cli.md).

Run from the repository root: python scripts/report_open_time.py [N]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

import crmsync
from crmsync import CrmContact, CrmSnapshot, OutlookSnapshot
from crmsync.report import html

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(n: int) -> None:
    """Prints the page size and its open time for a plan of `n` ops."""
    crm = CrmSnapshot(
        contacts=[
            CrmContact(
                key=f"c{i:06}",
                first_name=f"First{i}",
                last_name=f"Last{i}",
                emails=(f"person{i}@example.com",),
                job_title="Buyer",
            )
            for i in range(n)
        ]
    )
    now = dt.datetime(2026, 11, 24, 9, tzinfo=dt.UTC)
    started = time.perf_counter()
    planned = crmsync.plan(crm, OutlookSnapshot(), now=now)
    page = html(planned)
    made = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "plan.html"
        path.write_text(page, encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            tab = browser.new_page()
            times = []
            for _ in range(3):
                started = time.perf_counter()
                tab.goto(path.as_uri())
                tab.wait_for_selector("body[data-ready=true]")
                times.append(time.perf_counter() - started)
            started = time.perf_counter()
            tab.select_option("#filter-side", "crm")
            tab.wait_for_selector("#ops-contact.hidden", state="attached")
            filtered = time.perf_counter() - started
            browser.close()
    print(
        f"{len(planned.ops):,} ops, {len(page) / 1e6:.1f} MB of HTML (planned and rendered "
        f"in {made:.1f} s); opens in {min(times):.2f} s (best of 3; {max(times):.2f} s worst); "
        f"a filter change takes {filtered:.2f} s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
