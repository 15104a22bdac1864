"""Tests for crmsync.report: the HTML plan report, as text and in a real browser.

The browser tests drive Debian's Chromium (`/usr/bin/chromium`, package
`chromium`) with Playwright. Where no chromium binary is found they skip with that
reason, so the README's test command passes without a system package; in CI (the
environment variable CI is set, as .ci/run does) a missing browser is a failure.
CRMSYNC_SKIP_BROWSER=1 skips them on purpose (never in CI).
CRMSYNC_UPDATE_SCREENSHOT=1 also writes the screenshot docs/cli.md shows.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import crmsync
from crmsync import (
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    Notice,
    OutlookContact,
    OutlookSnapshot,
    Plan,
    Settings,
    Severity,
)
from crmsync.cli import main
from crmsync.plan import NOTICE_CODES, BaselineUpdate
from crmsync.report import (
    CSP,
    DATA_LOSS_SHOWN,
    PAGE_SIZE,
    html,
    settings_changes,
    settings_text,
    summary_text,
)
from support import NOW, plan

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "docs" / "plan-report.png"
EVIL = "<script>alert('x')</script>"


def example_plan() -> Plan:
    out = io.StringIO()
    assert main(["plan", "--example", "--format", "json"], out=out) == 0
    return crmsync.loads(out.getvalue(), Plan)


def contacts_plan(n: int, first_name: str = "Ann") -> Plan:
    crm = CrmSnapshot(
        contacts=[CrmContact(key=f"c{i:04}", first_name=first_name) for i in range(n)]
    )
    return plan(crm, OutlookSnapshot())


def data_loss_plan(n: int) -> Plan:
    notices = [
        Notice(
            domain=Domain.CONTACT,
            key=f"c{i:04}",
            code="address_remap_data_loss",
            message=f"address {i} lost",
            severity=Severity.DATA_LOSS,
        )
        for i in range(n)
    ]
    return Plan(notices=notices, now=NOW)


def example_inputs() -> tuple[CrmSnapshot, OutlookSnapshot, Baseline]:
    folder = ROOT / "src" / "crmsync" / "examples"
    return (
        crmsync.loads((folder / "crm.json").read_text("utf-8"), CrmSnapshot),
        crmsync.loads((folder / "outlook.json").read_text("utf-8"), OutlookSnapshot),
        crmsync.loads((folder / "baseline.json").read_text("utf-8"), Baseline),
    )


def attachments_switched_on() -> tuple[Plan, Baseline]:
    """The example's own switch (its last sync had attachments off), made explicit here."""
    crm, outlook, baseline = example_inputs()
    baseline = attrs.evolve(
        baseline, settings=attrs.evolve(baseline.settings, sync_appointment_attachments=False)
    )
    settings = example_plan().settings
    planned = crmsync.plan(crm, outlook, settings, baseline, user="ann@contoso.com", now=NOW)
    return planned, baseline


def embedded_data(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="plan-data">(.*?)</script>', page)
    assert match
    data: dict[str, Any] = json.loads(match.group(1))
    return data


# --- the page as text ---------------------------------------------------------


def test_the_page_is_self_contained_and_loads_nothing_from_the_network() -> None:
    page = html(example_plan())
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page
    assert "@import" not in page


def test_a_value_in_a_record_is_text_never_markup() -> None:
    page = html(contacts_plan(1, first_name=EVIL))
    # The only script elements are the page's own two.
    assert page.count("<script") == 2
    assert page.count("</script>") == 2
    assert EVIL not in page
    # The value arrives intact as data, for the script to write as text.
    assert embedded_data(page)["ops"][0][4] == EVIL


def test_server_side_parts_escape_values() -> None:
    notice = Notice(
        domain=Domain.CONTACT,
        key="<b>k</b>",
        code="mass_delete_blocked",
        message=f"lost {EVIL}",
        severity=Severity.DATA_LOSS,
    )
    page = html(Plan(notices=(notice,), now=NOW))
    assert EVIL not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<b>k</b>" not in page


def test_data_loss_notices_come_first_in_red() -> None:
    page = html(data_loss_plan(2))
    assert page.index('id="data-loss"') < page.index('id="summary"')
    assert "address 0 lost" in page[: page.index('id="summary"')]
    assert re.search(r"\.data-loss\{[^}]*color:#a00", page)


def test_a_plan_without_data_loss_has_no_data_loss_section() -> None:
    assert 'id="data-loss"' not in html(contacts_plan(1))


def test_the_data_loss_list_at_the_top_is_capped_and_counts_the_rest() -> None:
    page = html(data_loss_plan(DATA_LOSS_SHOWN + 7))
    top = page[: page.index('id="summary"')]
    assert top.count("<li>") == DATA_LOSS_SHOWN
    assert "… and 7 more under Notices" in top
    assert len(embedded_data(page)["notices"]) == DATA_LOSS_SHOWN + 7


def test_the_summary_counts_ops_per_domain_side_and_action() -> None:
    planned = example_plan()
    page = html(planned)
    rows = re.findall(
        r'<tr data-domain="(\w+)" data-side="(\w+)" data-action="(\w+)">.*?'
        r'<td class="count">([\d,]+)</td>',
        page,
    )
    shown = {f"{d}.{s}.{a}": int(n.replace(",", "")) for d, s, a, n in rows}
    assert shown == planned.summary()["ops"]
    assert f'id="total-ops">{len(planned.ops)}<' in page


def test_every_notice_code_in_the_plan_is_explained() -> None:
    planned = example_plan()
    page = html(planned)
    for code in {n.code for n in planned.notices}:
        assert f'id="code-{code}"' in page
        assert NOTICE_CODES[code][1].replace("'", "&#x27;") in page


def test_field_changes_travel_as_old_and_new_values() -> None:
    crm = CrmSnapshot(contacts=[CrmContact(key="a", job_title="CEO")])
    outlook = OutlookSnapshot(contacts=[OutlookContact(key="a", job_title="CTO")])
    base = Baseline(
        crm=CrmSnapshot(contacts=[CrmContact(key="a", job_title="CTO")]),
        outlook=OutlookSnapshot(contacts=[OutlookContact(key="a", job_title="CTO")]),
        settings=Settings(),
    )
    (row,) = embedded_data(html(plan(crm, outlook, baseline=base)))["ops"]
    assert row[6] == [["job_title", "'CTO'", "'CEO'"]]
    assert row[5] == "changed_in_crm"


def test_a_created_record_shows_its_filled_fields() -> None:
    (row,) = embedded_data(html(contacts_plan(1)))["ops"]
    assert ["first_name", "", "'Ann'"] in row[6]
    assert not any(field == "job_title" for field, _, _ in row[6])


def test_summary_text_counts_and_lists_data_loss_only() -> None:
    planned = example_plan()
    text = summary_text(planned)
    assert "contact.outlook.update 3" in text
    assert "conflict_resolved 1" in text
    assert "c-ben" not in text  # no ops listed
    assert "DATA LOSS" not in text


def test_summary_text_caps_the_data_loss_list() -> None:
    text = summary_text(data_loss_plan(DATA_LOSS_SHOWN + 3))
    assert f"DATA LOSS: {DATA_LOSS_SHOWN + 3} notice(s)" in text
    assert text.count("address_remap_data_loss contact") == DATA_LOSS_SHOWN
    assert "... and 3 more" in text
    data = json.loads(summary_text(data_loss_plan(DATA_LOSS_SHOWN + 3), json_format=True))
    assert data["data_loss_count"] == DATA_LOSS_SHOWN + 3
    assert len(data["data_loss"]) == DATA_LOSS_SHOWN


# --- the settings change, names, CSP ----------------------------------------------


def test_the_report_opens_with_each_changed_setting_old_and_new() -> None:
    crm, outlook, baseline = example_inputs()
    planned = example_plan()
    changes = {c.setting: c for c in settings_changes(planned, baseline) or ()}
    assert list(changes) == ["sync_appointment_attachments", "address_sync", "organization_domains"]
    remap = changes["address_sync"]
    assert (remap.old, remap.new) == ("mailing_only", "all_three")
    assert dict(remap.consequences) == {
        "contacts remapped": 1,  # c-dana
        "addresses that would be lost": 0,
        "remap conflicts (addresses left for a person)": 1,  # c-eli
    }
    page = html(planned, baseline=baseline, crm=crm, outlook=outlook)
    assert page.index('id="settings-change"') < page.index('id="summary"')
    assert re.search(
        r'<tr data-setting="address_sync">.*?mailing_only.*?all_three.*?'
        r"contacts remapped: <b>1</b>",
        page,
    )


def test_turning_attachments_on_counts_what_starts_to_move() -> None:
    planned, baseline = attachments_switched_on()
    (change,) = [
        c for c in settings_changes(planned, baseline) or () if c.setting.startswith("sync_")
    ]
    assert (change.setting, change.old, change.new) == ("sync_appointment_attachments", "off", "on")
    counts = dict(change.consequences)
    assert counts["attachments that move"] == 1  # agenda.pdf
    assert counts["too large"] == 1  # site-photos.zip
    assert counts["deferred to a later plan"] == 0
    text = settings_text(planned, baseline)
    assert "sync_appointment_attachments: off → on" in text
    assert "attachments that move: 1" in text


def test_no_settings_change_and_no_baseline_are_said_plainly() -> None:
    _, _, baseline = example_inputs()
    same = attrs.evolve(baseline, settings=example_plan().settings)
    planned = example_plan()
    assert settings_changes(planned, same) == ()
    assert settings_text(planned, same) == "Settings: unchanged since the last sync."
    assert "unchanged since the last sync" in html(planned, baseline=same)
    assert "no baseline was given" in settings_text(planned, None)
    assert "no baseline was given" in html(planned)


def test_the_text_summary_and_the_cli_text_open_with_the_settings_change() -> None:
    _, _, baseline = example_inputs()
    text = summary_text(example_plan(), baseline=baseline)
    assert text.startswith(
        "Settings change (last sync → this plan):\n  sync_appointment_attachments: off → on\n"
    )
    data = json.loads(summary_text(example_plan(), baseline=baseline, json_format=True))
    (remap,) = [c for c in data["settings_change"] if c["setting"] == "address_sync"]
    assert remap["in_this_mailbox"]["contacts remapped"] == 1
    out = io.StringIO()
    assert main(["plan", "--example"], out=out) == 0
    assert out.getvalue().startswith("Settings change (last sync → this plan):")


def test_every_op_and_notice_carries_its_records_name_and_e_mail() -> None:
    crm, outlook, baseline = example_inputs()
    data = embedded_data(html(example_plan(), baseline=baseline, crm=crm, outlook=outlook))
    ops = {(data["domains"][o[0]], o[3]): (o[7], o[8]) for o in data["ops"]}
    assert ops[("contact", "c-ben")] == ("Ben Okafor", "ben@fabrikam.com")
    assert ops[("attachment", "a-review")][0] == "Quarterly review"  # the appointment's subject
    assert ops[("task", "t-proposal")][0] == "Send the proposal to Fabrikam"
    notices = {(n[2], n[1]): n[6:8] for n in data["notices"]}
    assert notices[("not_tracked", "o-dad")] == ["Dad", "dad@example.org"]
    assert notices[("attachment_too_large", "a-visit")][0] == "Site visit"


def test_data_loss_notices_name_their_records_in_the_page_and_the_summary() -> None:
    lost = Notice(
        domain=Domain.CONTACT,
        key="c1",
        code="address_remap_data_loss",
        message="lost",
        severity=Severity.DATA_LOSS,
    )
    kept = BaselineUpdate(
        domain=Domain.CONTACT, key="c1", crm=CrmContact(key="c1", first_name="Ann")
    )
    planned = Plan(notices=(lost,), baseline_updates=(kept,), now=NOW)
    assert "address_remap_data_loss contact c1 (Ann): lost" in summary_text(planned)
    page = html(planned)
    assert "<code>c1</code> (Ann): lost" in page[: page.index('id="summary"')]


def test_the_text_plan_names_every_record_beside_its_key() -> None:
    text = example_plan().render()
    assert "update  c-ben  Ben Okafor  (changed_in_crm)" in text
    assert "create  a-review  agenda.pdf (48,213 bytes) on 'Quarterly review'" in text
    assert "address_remap_conflict c-eli (Eli Stone):" in text


def test_the_text_plan_shows_addresses_whole() -> None:
    street = "1234 Very Long Boulevard of the Republic, Building C"
    moved = crmsync.FieldChange("address1", crmsync.Address(), crmsync.Address(street=street))
    op = crmsync.Op(
        action=crmsync.Action.UPDATE,
        side=crmsync.Side.OUTLOOK,
        domain=Domain.CONTACT,
        key="a",
        changes=(moved,),
        reason="changed_in_crm",
    )
    assert f"address1: (no address) -> {street}" in Plan(ops=(op,), now=NOW).render()


def test_the_page_has_a_content_security_policy_that_allows_only_its_own_code() -> None:
    page = html(example_plan())
    head = page[: page.index("</head>")]
    meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', head)
    assert meta
    assert head.index("Content-Security-Policy") < head.index("<style>")
    policy = meta.group(1).replace("&#x27;", "'")
    assert policy == CSP
    assert "default-src 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "http" not in policy
    assert len(re.findall(r"'sha256-[A-Za-z0-9+/=]+'", policy)) == 2


def application_codes_plan() -> Plan:
    """A plan whose application notices have codes that are names in JavaScript objects."""
    base = contacts_plan(3)
    extra = [
        Notice(domain=Domain.CONTACT, key="c0001", code=code, message=f"excluded as {code}")
        for code in ("constructor", "__proto__", "toString", "hasOwnProperty")
    ]
    return attrs.evolve(base, notices=(*base.notices, *extra))


# --- the page in a browser --------------------------------------------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium() -> str | None:
    """The chromium binary on PATH (Debian's package), or None."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def browser_unavailable() -> str:
    """Why the browser tests cannot run here, or '' when they can."""
    if os.environ.get("CRMSYNC_SKIP_BROWSER"):
        return "CRMSYNC_SKIP_BROWSER is set"
    if chromium() is None:
        return "no chromium binary found (Debian: apt-get install chromium)"
    return ""


def require_browser() -> None:
    """Skips the calling test where the browser cannot run; fails instead in CI."""
    why = browser_unavailable()
    if why and os.environ.get("CI"):
        pytest.fail(f"the browser tests are required in CI: {why}")
    if why:
        pytest.skip(f"browser test skipped: {why}")


def test_without_chromium_the_browser_tests_skip_with_the_reason_and_fail_in_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRMSYNC_SKIP_BROWSER", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(Path, "exists", lambda self: False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium binary found"):
        require_browser()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI: no chromium binary found"):
        require_browser()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    executable = chromium()
    assert executable is not None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Any]:
    pages: list[Any] = []
    requests: list[str] = []
    errors: list[str] = []

    def load(page_html: str) -> Any:
        path = tmp_path / f"plan{len(pages)}.html"
        path.write_text(page_html, encoding="utf-8")
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        tab.on("request", lambda r: requests.append(r.url))
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))
        tab.goto(path.as_uri())
        tab.wait_for_selector("body[data-ready=true]")
        pages.append(tab)
        return tab

    yield load
    for tab in pages:
        tab.close()
    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests


def visible_rows(tab: Any, section: str) -> list[list[str]]:
    rows: list[list[str]] = tab.eval_on_selector_all(
        f"{section} section.listing:not(.hidden) tbody tr",
        "rows => rows.map(r => Array.from(r.cells, c => c.textContent))",
    )
    return rows


def test_browser_the_example_report_shows_the_plans_numbers(
    open_report: Any, tmp_path: Path
) -> None:
    out = tmp_path / "plan.html"
    assert main(["plan", "--example", "--format", "html", "-o", str(out)]) == 0
    planned = example_plan()
    tab = open_report(out.read_text("utf-8"))

    cells = tab.eval_on_selector_all(
        "#summary-ops tr[data-domain]",
        "rows => rows.map(r => [r.dataset.domain + '.' + r.dataset.side + '.' + "
        "r.dataset.action, r.querySelector('.count').textContent])",
    )
    assert {name: int(n) for name, n in cells} == planned.summary()["ops"]
    assert tab.text_content("#total-ops") == str(len(planned.ops))
    assert tab.text_content("#total-notices") == str(len(planned.notices))
    assert len(visible_rows(tab, "#ops")) == len(planned.ops)
    assert len(visible_rows(tab, "#notices")) == len(planned.notices)

    tab.screenshot(path=str(tmp_path / "shot.png"))
    assert (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("CRMSYNC_UPDATE_SCREENSHOT"):
        tab.screenshot(path=str(SCREENSHOT), clip={"x": 0, "y": 0, "width": 1200, "height": 900})


def test_browser_filters_hide_and_show_rows(open_report: Any) -> None:
    planned = example_plan()
    tab = open_report(html(planned))
    everything = visible_rows(tab, "#ops")

    tab.select_option("#filter-side", "crm")
    crm_rows = visible_rows(tab, "#ops")
    assert {row[2] for row in crm_rows} == {"crm"}
    assert len(crm_rows) == sum(op.side.value == "crm" for op in planned.ops)
    assert tab.is_hidden("#ops-attachment")  # its one op is in Outlook

    tab.select_option("#filter-side", "")
    assert visible_rows(tab, "#ops") == everything

    tab.select_option("#filter-domain", "task")
    assert [row[0] for row in visible_rows(tab, "#ops")] == ["t-proposal"]
    assert [row[0] for row in visible_rows(tab, "#notices")] == ["task"]
    tab.select_option("#filter-domain", "")

    tab.select_option("#filter-action", "create")
    assert {row[3] for row in visible_rows(tab, "#ops")} == {"create"}
    tab.select_option("#filter-action", "")

    tab.select_option("#filter-code", "conflict_resolved")
    assert [row[0] for row in visible_rows(tab, "#ops")] == ["c-chloe"]
    assert [row[1] for row in visible_rows(tab, "#notices")] == ["c-chloe"]
    tab.select_option("#filter-code", "")

    tab.fill("#filter-key", "nora")
    assert [row[0] for row in visible_rows(tab, "#ops")] == ["c-nora"]
    tab.fill("#filter-key", "")
    assert visible_rows(tab, "#ops") == everything


def test_browser_a_script_in_a_contacts_name_is_shown_as_text(open_report: Any) -> None:
    tab = open_report(html(contacts_plan(1, first_name=EVIL)))
    (row,) = visible_rows(tab, "#ops")
    assert row[1] == EVIL  # the name column, as text; the fixture fails on any dialog
    assert row[4] == EVIL  # the record column
    assert EVIL in row[5]


def test_browser_large_plans_are_paginated(open_report: Any) -> None:
    n = PAGE_SIZE * 2 + 50
    tab = open_report(html(contacts_plan(n)))
    assert len(visible_rows(tab, "#ops")) == PAGE_SIZE
    assert tab.text_content("#ops-contact .shown") == f"(1–{PAGE_SIZE} of {n})"
    tab.click("#ops-contact .next")
    tab.click("#ops-contact .next")
    last = visible_rows(tab, "#ops")
    assert len(last) == 50
    assert last[-1][0] == f"c{n - 1:04}"
    assert tab.is_disabled("#ops-contact .next")


def test_browser_the_settings_change_comes_first_with_its_consequences(open_report: Any) -> None:
    planned, baseline = attachments_switched_on()
    crm, outlook, _ = example_inputs()
    tab = open_report(html(planned, baseline=baseline, crm=crm, outlook=outlook))
    first = tab.eval_on_selector("body", "b => b.querySelector('section').id")
    assert first == "settings-change"
    rows = tab.eval_on_selector_all(
        "#settings-change tbody tr",
        "rows => rows.map(r => Array.from(r.cells, c => c.innerText))",
    )
    by_setting = {row[0]: row for row in rows}
    assert by_setting["address_sync"][1:3] == ["mailing_only", "all_three"]
    assert "contacts remapped: 1" in by_setting["address_sync"][3]
    assert "remap conflicts (addresses left for a person): 1" in by_setting["address_sync"][3]
    assert by_setting["sync_appointment_attachments"][1:3] == ["off", "on"]
    assert "attachments that move: 1" in by_setting["sync_appointment_attachments"][3]
    assert "too large: 1" in by_setting["sync_appointment_attachments"][3]


def test_browser_records_show_names_and_the_filter_finds_names_and_e_mails(
    open_report: Any,
) -> None:
    crm, outlook, baseline = example_inputs()
    tab = open_report(html(example_plan(), baseline=baseline, crm=crm, outlook=outlook))
    names = {row[0]: row[1] for row in visible_rows(tab, "#ops")}
    assert names["c-ben"] == "Ben Okafor"
    assert names["a-review"] == "Quarterly review"  # the attachment op, under its meeting

    tab.fill("#filter-key", "Ann")  # nobody is called Ann in the ops: nothing, no error
    tab.fill("#filter-key", "okafor")
    assert [row[0] for row in visible_rows(tab, "#ops")] == ["c-ben"]
    tab.fill("#filter-key", "ben@fabrikam.com")
    assert [row[0] for row in visible_rows(tab, "#ops")] == ["c-ben"]
    tab.fill("#filter-key", "quarterly")
    assert [row[0] for row in visible_rows(tab, "#ops")] == ["a-review"]
    tab.fill("#filter-key", "dad@example.org")
    assert visible_rows(tab, "#ops") == []
    assert [row[1:3] for row in visible_rows(tab, "#notices")] == [["o-dad", "Dad"]]


def test_browser_the_policy_lets_the_page_run_and_stops_anything_else(open_report: Any) -> None:
    page = html(example_plan())
    # A script the policy does not name: it must not run (the fixture fails on any dialog).
    planted = page.replace("</body>", "<script>document.title='ran';alert(1)</script></body>")
    tab = open_report(planted)
    assert tab.title() == "crmsync plan"
    assert tab.eval_on_selector("body", "b => b.dataset.ready") == "true"  # its own script ran
    assert len(visible_rows(tab, "#ops")) == len(example_plan().ops)


def test_browser_notice_codes_named_like_object_members_are_plain_data(
    open_report: Any,
) -> None:
    planned = application_codes_plan()
    tab = open_report(html(planned))
    assert len(visible_rows(tab, "#ops")) == 3
    assert len(visible_rows(tab, "#notices")) == len(planned.notices)
    for code in ("constructor", "__proto__", "toString", "hasOwnProperty"):
        tab.select_option("#filter-code", code)
        assert [row[0] for row in visible_rows(tab, "#ops")] == ["c0001"]
        assert [row[1] for row in visible_rows(tab, "#notices")] == ["c0001"]
    tab.select_option("#filter-code", "")
    assert len(visible_rows(tab, "#ops")) == 3
