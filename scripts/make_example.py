"""Writes the example bundled with the package (`crmsync plan --example`).

Run from the repository root: python scripts/make_example.py
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import attrs

import crmsync
from crmsync import (
    Address,
    Appointment,
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    OutlookContact,
    OutlookSnapshot,
    Recurrence,
    Settings,
    Task,
)

OUT = Path(__file__).resolve().parent.parent / "src" / "crmsync" / "examples"
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
USER = "ann@contoso.com"
LAST = dt.datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
LATER = dt.datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

office = Address(street="1 Rue de la Paix", city="Paris", postal_code="75002", country="France")
home = Address(street="12 Home Street", city="Lyon", postal_code="69001", country="France")
lake = Address(street="3 Lake Road", city="Annecy", postal_code="74000", country="France")
depot = Address(street="8 Depot Lane", city="Lille", country="France")
flat = Address(street="40 Quai Sud", city="Nantes", country="France")


def contacts() -> tuple[
    list[CrmContact], list[OutlookContact], list[CrmContact], list[OutlookContact]
]:
    ben = CrmContact(
        key="c-ben",
        first_name="Ben",
        last_name="Okafor",
        emails=("ben@fabrikam.com",),
        job_title="Buyer",
        address1=office,
        owner=USER,
        modified=LAST,
    )
    ben_o = OutlookContact(
        key="c-ben",
        first_name="Ben",
        last_name="Okafor",
        emails=("ben@fabrikam.com",),
        job_title="Buyer",
        business_address=office,
        modified=LAST,
    )
    chloe = CrmContact(
        key="c-chloe",
        first_name="Chloe",
        last_name="Martin",
        emails=("chloe@adatum.com",),
        mobile_phone="+33 6 00 00 00 01",
        owner=USER,
        modified=LAST,
    )
    chloe_o = OutlookContact(
        key="c-chloe",
        first_name="Chloe",
        last_name="Martin",
        emails=("chloe@adatum.com",),
        mobile_phone="+33 6 00 00 00 01",
        modified=LAST,
    )
    dana = CrmContact(
        key="c-dana",
        first_name="Dana",
        last_name="Kim",
        emails=("dana@contoso.com",),
        address1=office,
        address2=home,
        owner=USER,
        modified=LAST,
    )
    dana_o = OutlookContact(
        key="c-dana",
        first_name="Dana",
        last_name="Kim",
        emails=("dana@contoso.com",),
        business_address=office,
        other_address=lake,
        modified=LAST,
    )
    eli = CrmContact(
        key="c-eli",
        first_name="Eli",
        last_name="Stone",
        emails=("eli@litware.com",),
        address1=office,
        address2=home,
        address3=depot,
        owner=USER,
        modified=LAST,
    )
    eli_o = OutlookContact(
        key="c-eli",
        first_name="Eli",
        last_name="Stone",
        emails=("eli@litware.com",),
        business_address=office,
        home_address=lake,
        other_address=flat,
        modified=LAST,
    )
    base_crm = [ben, chloe, dana, eli]
    base_out = [ben_o, chloe_o, dana_o, eli_o]
    nora = CrmContact(
        key="c-nora",
        first_name="Nora",
        last_name="Diaz",
        emails=("nora@tailspin.com",),
        business_phone="+33 1 00 00 00 02",
        owner=USER,
        modified=LATER,
    )
    dad = OutlookContact(
        key="o-dad", first_name="Dad", emails=("dad@example.org",), tracked=False, modified=LATER
    )
    crm = [
        attrs.evolve(ben, job_title="Head of Purchasing", modified=LATER),
        attrs.evolve(chloe, mobile_phone="+33 6 00 00 00 09", modified=LATER),
        dana,
        eli,
        nora,
    ]
    out = [
        ben_o,
        attrs.evolve(chloe_o, mobile_phone="+33 6 11 11 11 11", modified=LATER),
        dana_o,
        eli_o,
        dad,
    ]
    return crm, out, base_crm, base_out


def appointments() -> tuple[
    list[Appointment], list[Appointment], list[Appointment], list[Appointment]
]:
    def at(day: int, hour: int) -> dt.datetime:
        return dt.datetime(2026, 11, day, hour, tzinfo=UTC)

    review = Appointment(
        key="a-review",
        subject="Quarterly review",
        start=at(26, 10),
        end=at(26, 11),
        organizer=USER,
        required=("ben@fabrikam.com",),
        uid="uid-review",
        modified=LAST,
    )
    agenda = Attachment(
        name="agenda.pdf", size=48_213, content_hash="sha256:9f2c", mime_type="application/pdf"
    )
    standup = Appointment(
        key="a-standup",
        subject="Team stand-up",
        start=at(25, 9),
        end=at(25, 9) + dt.timedelta(minutes=15),
        organizer=USER,
        recurrence=Recurrence(
            pattern="weekly", days_of_week=("wednesday",), start_date=dt.date(2026, 11, 4)
        ),
        uid="uid-standup",
        modified=LAST,
    )
    notes = Attachment(name="notes.docx", size=20_480, content_hash="sha256:51aa")
    visit = Appointment(
        key="a-visit",
        subject="Site visit",
        location="Lille depot",
        start=at(27, 14),
        end=at(27, 16),
        organizer=USER,
        uid="uid-visit",
        modified=LAST,
    )
    photos = Attachment(
        name="site-photos.zip",
        size=12_582_912,
        content_hash="sha256:77b0",
        mime_type="application/zip",
    )
    base = [review, standup, visit]
    crm = [
        attrs.evolve(review, attachments=(agenda,), modified=LATER),
        attrs.evolve(standup, attachments=(notes,), modified=LATER),
        visit,
    ]
    out = [review, standup, attrs.evolve(visit, attachments=(photos,), modified=LATER)]
    return crm, out, base, list(base)


def tasks() -> tuple[list[Task], list[Task]]:
    proposal = Task(
        key="t-proposal",
        subject="Send the proposal to Fabrikam",
        start=dt.datetime(2026, 11, 25, 9, tzinfo=UTC),
        modified=LATER,
    )
    assigned = Task(
        key="t-slides",
        subject="Prepare the review slides",
        assigned_by=USER,
        assigned_to=("lee@contoso.com",),
        due=dt.datetime(2026, 11, 25, 17, tzinfo=UTC),
        modified=LATER,
    )
    return [], [proposal, assigned]


def main() -> None:
    c_crm, c_out, c_bcrm, c_bout = contacts()
    a_crm, a_out, a_bcrm, a_bout = appointments()
    t_crm, t_out = tasks()
    crm = CrmSnapshot(contacts=c_crm, appointments=a_crm, tasks=t_crm)
    outlook = OutlookSnapshot(contacts=c_out, appointments=a_out, tasks=t_out)
    baseline = Baseline(
        crm=CrmSnapshot(contacts=c_bcrm, appointments=a_bcrm),
        outlook=OutlookSnapshot(contacts=c_bout, appointments=a_bout),
        # The last sync ran with the defaults: the example previews the administrator's
        # switch to all three addresses with attachments on, as a settings change.
        settings=Settings(),
    )
    settings = Settings(
        address_sync="all_three",
        sync_appointment_attachments=True,
        organization_domains=frozenset({"contoso.com"}),
    )
    OUT.mkdir(parents=True, exist_ok=True)
    for name, value in (
        ("crm", crm),
        ("outlook", outlook),
        ("baseline", baseline),
        ("settings", settings),
    ):
        (OUT / f"{name}.json").write_text(crmsync.dumps(value) + "\n", encoding="utf-8")
    meta = {"user": USER, "now": NOW.isoformat()}
    (OUT / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
