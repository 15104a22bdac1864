"""The plan as one self-contained HTML page, to look at before syncing.

`html(plan, baseline=..., crm=..., outlook=...)` returns the page as a
string: no network, no CDN, inline CSS and a little JavaScript, pinned by a
Content-Security-Policy. It opens with the settings change (the baseline's
settings against the plan's, and what each change does to this mailbox), then
the data-loss notices in red, the summary (counts per domain, side and
action), each domain's ops with their field changes and reasons, and the
notices grouped by code with each code's meaning from `NOTICE_CODES`. Every
record shows its display name beside its key (a contact's name or e-mail, an
appointment's or task's subject; an attachment op its appointment's). Filters
narrow everything by domain, side, action, notice code and key, name or
e-mail address.

Rule 1: every value from a record is text, never markup. The server-side parts
        go through `html.escape`; the ops and notices travel as JSON in a
        `<script type="application/json">` block (with `<`, `>` and `&`
        escaped, so no value can close the block) and the script writes them
        with `textContent`.
Rule 2: values from the plan are data, never names in the script: notice
        codes (which `crmsync.exclude` lets an application choose, so
        `constructor` or `__proto__` can be one) are keys of `Map`s only.
Rule 3: the page stays usable at 100k ops: the script renders one page of rows
        per table (`PAGE_SIZE`), so the DOM holds a few hundred rows whatever
        the plan's size.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from html import escape
from typing import Any

import attrs

from crmsync.plan import (
    NOTICE_CODES,
    Action,
    Notice,
    Op,
    Plan,
    Severity,
    _record_label,
    describe,
)
from crmsync.records import (
    Attachment,
    Baseline,
    CrmContact,
    CrmSnapshot,
    Domain,
    OutlookContact,
    OutlookSnapshot,
    Side,
    current_record,
)
from crmsync.settings import Settings

__all__ = [
    "CONSEQUENCES",
    "CSP",
    "DATA_LOSS_SHOWN",
    "PAGE_SIZE",
    "SettingChange",
    "html",
    "settings_changes",
    "settings_text",
    "summary_text",
]

PAGE_SIZE = 100
"""Rows per page in each table of the page."""

DATA_LOSS_SHOWN = 50
"""Data-loss notices listed at the top; the rest are counted (all are under Notices)."""

_DOMAINS = list(Domain)
_SIDES = list(Side)
_ACTIONS = list(Action)
_TITLES = {
    Domain.CONTACT: "Contacts",
    Domain.APPOINTMENT: "Appointments",
    Domain.ATTACHMENT: "Attachments",
    Domain.TASK: "Tasks",
}


def _count_notices(*codes: str) -> Callable[[Plan], int]:
    def count(plan: Plan) -> int:
        return sum(1 for n in plan.notices if n.code in codes)

    return count


def _count_ops(domain: Domain, *, reason: str = "") -> Callable[[Plan], int]:
    def count(plan: Plan) -> int:
        # Records, not ops: a remapped contact is one contact however many sides it writes.
        return len(
            {
                op.key
                for op in plan.ops
                if op.domain is domain and (not reason or op.reason == reason)
            }
        )

    return count


def _count_attachments(plan: Plan) -> int:
    return sum(1 for op in plan.ops if op.domain is Domain.ATTACHMENT)


_REMAP = (
    ("contacts remapped", _count_ops(Domain.CONTACT, reason="address_remap")),
    ("addresses that would be lost", _count_notices("address_remap_data_loss")),
    ("remap conflicts (addresses left for a person)", _count_notices("address_remap_conflict")),
)
_ATTACHMENTS = (
    ("attachments that move", _count_attachments),
    ("deferred to a later plan", _count_notices("attachment_deferred")),
    ("too large", _count_notices("attachment_too_large")),
    (
        "appointments whose attachments differ with sync off",
        _count_notices("attachment_sync_disabled"),
    ),
    (
        "recurring series and service activities whose attachments never sync",
        _count_notices(
            "recurring_appointment_attachment_unsupported",
            "service_activity_attachment_unsupported",
        ),
    ),
)
_ASSIGNED = (
    ("tasks written", _count_ops(Domain.TASK)),
    (
        "assigned tasks that do not sync",
        _count_notices(
            "assigned_task_sync_disabled",
            "task_assignee_outside_organization",
            "task_multiple_recipients",
        ),
    ),
)
_MASS_DELETE = (
    ("records deleted", lambda plan: sum(op.action is Action.DELETE for op in plan.ops)),
    ("domains whose deletes are held back", _count_notices("mass_delete_blocked")),
)

CONSEQUENCES: Mapping[str, tuple[tuple[str, Callable[[Plan], int]], ...]] = {
    "sync_appointment_attachments": _ATTACHMENTS,
    "address_sync": _REMAP,
    "address_remap": _REMAP,
    "sync_assigned_tasks": _ASSIGNED,
    "organization_domains": _ASSIGNED,
    "conflict": (
        ("conflicts resolved by the policy", _count_notices("conflict_resolved")),
        ("conflicts left for a person", _count_notices("conflict")),
    ),
    "field_directions": (("edits held by a direction", _count_notices("field_not_synced")),),
    "max_attachment_bytes": _ATTACHMENTS[:3],
    "attachment_budget_bytes": _ATTACHMENTS[:3],
    "mass_delete_threshold": _MASS_DELETE,
    "allow_mass_delete": _MASS_DELETE,
}
"""Per setting, what its change does to the mailbox: (label, count over the plan) pairs.

A rules table, as the field maps are: the report and `settings_text` read it,
and a setting added to `Settings` without an entry here still shows old → new.
"""


@attrs.frozen(kw_only=True)
class SettingChange:
    """One setting that differs between the baseline and the plan.

    Args:
        setting: the `Settings` field's name (`address_sync`).
        old: its value at the last sync (the baseline's), as text.
        new: its value in the plan, as text.
        consequences: (what, how many in this plan) per consequence the
            change can have, from `CONSEQUENCES`.
    """

    setting: str
    old: str
    new: str
    consequences: tuple[tuple[str, int], ...] = ()


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) or "(all two-way)"
    if isinstance(value, frozenset | set):
        return ", ".join(sorted(value)) or "(none)"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return describe(value).strip("'")


def settings_changes(plan: Plan, baseline: Baseline | None) -> tuple[SettingChange, ...] | None:
    """The settings that differ between `baseline` and `plan`, with their consequences.

    Args:
        plan: the plan, made with the new settings.
        baseline: the baseline the plan was made with (its settings are the old ones).

    Returns:
        One `SettingChange` per differing setting, in `Settings` field order
        (empty when nothing changed); None without a baseline, when there is
        nothing to compare with.
    """
    if baseline is None:
        return None
    out = []
    for field in attrs.fields(Settings):
        old, new = getattr(baseline.settings, field.name), getattr(plan.settings, field.name)
        if old == new:
            continue
        consequences = tuple(
            (label, count(plan)) for label, count in CONSEQUENCES.get(field.name, ())
        )
        out.append(
            SettingChange(
                setting=field.name,
                old=_setting_text(old),
                new=_setting_text(new),
                consequences=consequences,
            )
        )
    return tuple(out)


_NO_BASELINE = (
    "Settings: no baseline was given (a first sync), so there is no earlier setting to compare."
)
_UNCHANGED = "Settings: unchanged since the last sync."


def settings_text(plan: Plan, baseline: Baseline | None) -> str:
    """The settings change as text, to read before the plan.

    Args:
        plan: the plan, made with the new settings.
        baseline: the baseline the plan was made with.

    Returns:
        A line per changed setting (`old → new`) and, under it, what the
        change does to this mailbox; or one line saying nothing changed, or
        that there is no baseline to compare with.
    """
    changes = settings_changes(plan, baseline)
    if changes is None:
        return _NO_BASELINE
    if not changes:
        return _UNCHANGED
    lines = ["Settings change (last sync → this plan):"]
    for change in changes:
        lines.append(f"  {change.setting}: {change.old} → {change.new}")
        if change.consequences:
            lines.append(
                "    in this mailbox: "
                + "; ".join(f"{label}: {n:,}" for label, n in change.consequences)
            )
    return "\n".join(lines)


def _settings_section(plan: Plan, baseline: Baseline | None) -> str:
    changes = settings_changes(plan, baseline)
    if not changes:
        text = _NO_BASELINE if changes is None else _UNCHANGED
        return f'<section id="settings-change"><h2>Settings</h2><p>{_e(text)}</p></section>'
    rows = []
    for change in changes:
        items = "".join(
            f'<li data-count="{n}">{_e(label)}: <b>{n:,}</b></li>'
            for label, n in change.consequences
        )
        rows.append(
            f'<tr data-setting="{_e(change.setting)}"><td><code>{_e(change.setting)}</code></td>'
            f'<td class="old">{_e(change.old)}</td><td class="new">{_e(change.new)}</td>'
            f'<td><ul class="changes">{items}</ul></td></tr>'
        )
    return (
        '<section id="settings-change"><h2>Settings change</h2>'
        "<p>The settings differ from the last sync's. What each change does to this "
        "mailbox:</p><table><thead><tr><th>setting</th><th>last sync</th><th>this plan</th>"
        "<th>in this mailbox</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></section>"
    )


Names = dict[tuple[Domain, str], tuple[str, str]]
"""(domain, key) → (display name, e-mail addresses joined by spaces)."""


def _names(
    plan: Plan,
    crm: CrmSnapshot | None,
    outlook: OutlookSnapshot | None,
    baseline: Baseline | None,
) -> Names:
    """The display name of every record an op or a notice names, from wherever it is known.

    Only the keys the plan names are looked up, so the cost follows the plan,
    not the mailbox.
    """
    known: dict[tuple[Domain, str], Any] = {}
    for update in plan.baseline_updates:
        known.setdefault((update.domain, update.key), update.crm or update.outlook)
    for op in plan.ops:
        if op.action is Action.CREATE and not isinstance(op.record, Attachment):
            known[(op.domain, op.key)] = op.record
    sources: list[tuple[CrmSnapshot | OutlookSnapshot, CrmSnapshot | OutlookSnapshot | None]] = []
    if crm is not None:
        sources.append((crm, baseline.crm if baseline is not None else None))
    if outlook is not None:
        sources.append((outlook, baseline.outlook if baseline is not None else None))
    if baseline is not None:  # a record deleted since the last sync is named as it was
        sources += [(baseline.crm, None), (baseline.outlook, None)]
    fields = {Domain.CONTACT: "contacts", Domain.APPOINTMENT: "appointments", Domain.TASK: "tasks"}
    wanted = {(op.domain, op.key) for op in plan.ops} | {(n.domain, n.key) for n in plan.notices}
    out: Names = {}
    for domain, key in wanted:
        # An attachment's op is named after its appointment.
        own = Domain.APPOINTMENT if domain is Domain.ATTACHMENT else domain
        record = known.get((own, key))
        for now, then in sources:
            if record is not None or not key:
                break
            record = current_record(now, then, fields[own], key)
        if record is None:
            continue
        emails = record.emails if isinstance(record, CrmContact | OutlookContact) else ()
        out[(domain, key)] = (_record_label(record), " ".join(emails))
    return out


def _created_fields(record: Any) -> list[list[str]]:
    """A created record's filled fields, as changes from nothing."""
    if isinstance(record, Attachment) or not attrs.has(type(record)):
        return []
    out = []
    for field in attrs.fields(type(record)):
        if field.name in ("key", "modified"):
            continue
        value = getattr(record, field.name)
        if value in ("", (), None) or getattr(value, "is_empty", False):
            continue
        out.append([field.name, "", describe(value)])
    return out


def _op_row(op: Op, names: Names) -> list[Any]:
    name, emails = names.get((op.domain, op.key), ("", ""))
    changes = [[c.field, describe(c.old), describe(c.new)] for c in op.changes]
    if op.action is Action.CREATE:
        changes = _created_fields(op.record)
    return [
        _DOMAINS.index(op.domain),
        _SIDES.index(op.side),
        _ACTIONS.index(op.action),
        op.key,
        _record_label(op.record),
        op.reason,
        changes,
        name,
        emails,
    ]


def _notice_row(notice: Notice, names: Names) -> list[Any]:
    name, emails = names.get((notice.domain, notice.key), ("", ""))
    return [
        _DOMAINS.index(notice.domain),
        notice.key,
        notice.code,
        notice.severity.value,
        notice.side.value if notice.side is not None else "",
        notice.message,
        name,
        emails,
    ]


def _json_for_script(value: Any) -> str:
    # `<`, `>` and `&` only occur inside JSON strings, where \u escapes mean the same.
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _options(select_id: str, label: str, values: list[str]) -> str:
    options = "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
    return (
        f'<label>{_e(label)} <select id="{select_id}">'
        f'<option value="">all</option>{options}</select></label>'
    )


def _summary(plan: Plan) -> str:
    counts = Counter((op.domain, op.side, op.action) for op in plan.ops)
    rows = []
    for domain in Domain:
        for side in Side:
            for action in Action:
                n = counts.get((domain, side, action))
                if n:
                    rows.append(
                        f'<tr data-domain="{domain.value}" data-side="{side.value}" '
                        f'data-action="{action.value}"><td>{_e(domain.value)}</td>'
                        f"<td>{_e(side.value)}</td><td>{_e(action.value)}</td>"
                        f'<td class="count">{n:,}</td></tr>'
                    )
    if not rows:
        rows.append('<tr><td colspan="4">Nothing to write: both sides are in sync.</td></tr>')
    rows.append(
        f'<tr class="total"><td colspan="3">all ops</td>'
        f'<td class="count" id="total-ops">{len(plan.ops):,}</td></tr>'
    )
    codes = Counter(n.code for n in plan.notices)
    severities = {n.code: n.severity for n in plan.notices}
    notice_rows = [
        f'<tr data-code="{_e(code)}" class="{_e(severities[code].value)}">'
        f'<td><a href="#code-{_e(code)}">{_e(code)}</a></td>'
        f"<td>{_e(severities[code].value)}</td>"
        f'<td class="count">{n:,}</td></tr>'
        for code, n in sorted(codes.items())
    ]
    notice_rows.append(
        f'<tr class="total"><td colspan="2">all notices</td>'
        f'<td class="count" id="total-notices">{len(plan.notices):,}</td></tr>'
    )
    return (
        '<section id="summary"><h2>Summary</h2><div class="tables">'
        '<table id="summary-ops"><caption>Ops</caption><thead><tr><th>domain</th>'
        "<th>side</th><th>action</th><th>ops</th></tr></thead><tbody>"
        + "".join(rows)
        + '</tbody></table><table id="summary-notices"><caption>Notices</caption>'
        "<thead><tr><th>code</th><th>severity</th><th>notices</th></tr></thead><tbody>"
        + "".join(notice_rows)
        + "</tbody></table></div></section>"
    )


def _data_loss(plan: Plan, names: Names) -> str:
    lost = [n for n in plan.notices if n.severity is Severity.DATA_LOSS]
    if not lost:
        return ""

    def named(n: Notice) -> str:
        name = names.get((n.domain, n.key), ("", ""))[0]
        return f" ({_e(name)})" if name else ""

    items = "".join(
        f"<li><code>{_e(n.code)}</code> {_e(n.domain.value)} "
        f"<code>{_e(n.key or '(whole domain)')}</code>{named(n)}: {_e(n.message)}</li>"
        for n in lost[:DATA_LOSS_SHOWN]
    )
    more = ""
    if len(lost) > DATA_LOSS_SHOWN:
        more = f"<p>… and {len(lost) - DATA_LOSS_SHOWN:,} more under Notices.</p>"
    return (
        f'<section id="data-loss" class="data-loss" role="alert"><h2>This plan reports data '
        f"loss ({len(lost):,} notice{'s' if len(lost) != 1 else ''})</h2><ul>{items}</ul>"
        f"{more}</section>"
    )


def _table(table_id: str, domain: str, title: str, heads: list[str], extra: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in heads)
    return (
        f'<section class="listing" id="{_e(table_id)}" data-domain="{_e(domain)}"{extra}>'
        f'<h3>{title} <span class="shown"></span></h3>'
        f"<table><thead><tr>{head}</tr></thead><tbody></tbody></table>"
        '<nav class="pager"><button type="button" class="prev">previous</button> '
        '<span class="page"></span> <button type="button" class="next">next</button></nav>'
        "</section>"
    )


def _ops_sections(plan: Plan) -> str:
    present = {op.domain for op in plan.ops}
    parts = [
        _table(
            f"ops-{domain.value}",
            domain.value,
            _e(_TITLES[domain]),
            ["key", "name", "side", "action", "record", "changes (old → new)", "reason"],
        )
        for domain in Domain
        if domain in present
    ]
    if not parts:
        return '<section id="ops"><h2>Ops</h2><p>No ops.</p></section>'
    return '<section id="ops"><h2>Ops</h2>' + "".join(parts) + "</section>"


def _notice_sections(plan: Plan) -> str:
    codes = sorted({n.code for n in plan.notices})
    if not codes:
        return '<section id="notices"><h2>Notices</h2><p>No notices.</p></section>'
    parts = []
    for code in codes:
        severity, meaning = NOTICE_CODES.get(code, (None, "A notice added by the application."))
        title = f"<code>{_e(code)}</code>" + (
            f' <span class="sev {_e(severity.value)}">{_e(severity.value)}</span>'
            if severity
            else ""
        )
        parts.append(
            _table(
                f"code-{code}",
                "",
                title,
                ["domain", "key", "name", "side", "severity", "message"],
                extra=f' data-code="{_e(code)}"',
            ).replace("</h3>", f'</h3><p class="meaning">{_e(meaning)}</p>', 1)
        )
    return '<section id="notices"><h2>Notices</h2>' + "".join(parts) + "</section>"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1b1b1b}
h1{margin:0 0 .2em}h2{margin-top:1.4em;border-bottom:1px solid #ccc}
h3{margin:1em 0 .3em}.shown{font-weight:normal;color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.3em 0}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.count{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:bold}.tables{display:flex;gap:2em;flex-wrap:wrap}
caption{text-align:left;font-weight:bold}
.data-loss{color:#a00;background:#fdecea;border:2px solid #c00;padding:.2em 1em;margin:1em 0}
.data-loss h2{color:#a00;border:0}tr.data_loss td,.sev.data_loss{color:#a00;font-weight:bold}
.sev{font-size:.8em;border:1px solid #aaa;border-radius:3px;padding:0 4px}
.sev.warning,tr.warning td:first-child{color:#8a5a00}
#filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ccc}
#filters label{margin-right:1em}.meaning{color:#444;margin:.2em 0}
ul.changes{margin:0;padding-left:1em}.old{color:#a00}.new{color:#060}
.hidden{display:none}.pager button{font-size:.85em}.pager.single{display:none}
td.key{white-space:nowrap;font-family:monospace}
#settings-change td.old{color:#a00}#settings-change td.new{color:#060}
"""

_JS = """
(function(){
"use strict";
var data=JSON.parse(document.getElementById("plan-data").textContent);
var D=data.domains,S=data.sides,A=data.actions,PAGE=data.pageSize;
var f={domain:"",side:"",action:"",code:"",key:""};
// Notice codes are the application's data (crmsync.exclude accepts any code,
// "constructor" and "__proto__" included): Maps, never object keys.
function group(map,k,v){var list=map.get(k);if(!list){list=[];map.set(k,list);}list.push(v);}
var withCode=new Map();
data.notices.forEach(function(n){group(withCode,n[2],D[n[0]]+"|"+n[1]);});
withCode.forEach(function(list,k){withCode.set(k,new Set(list));});
function el(tag,text,cls){var e=document.createElement(tag);
  if(text!==undefined)e.textContent=text;if(cls)e.className=cls;return e;}
function changes(list){var ul=el("ul",undefined,"changes");
  list.forEach(function(c){var li=el("li");li.appendChild(el("b",c[0]+": "));
    if(c[1]!==""){li.appendChild(el("span",c[1],"old"));li.appendChild(
      document.createTextNode(" \\u2192 "));}
    li.appendChild(el("span",c[2],"new"));ul.appendChild(li);});return ul;}
function opRow(o){var tr=el("tr");tr.dataset.side=S[o[1]];tr.dataset.action=A[o[2]];
  tr.appendChild(el("td",o[3],"key"));tr.appendChild(el("td",o[7],"name"));
  tr.appendChild(el("td",S[o[1]]));
  tr.appendChild(el("td",A[o[2]]));tr.appendChild(el("td",o[4]));
  var td=el("td");td.appendChild(changes(o[6]));tr.appendChild(td);
  tr.appendChild(el("td",o[5]));return tr;}
function noticeRow(n){var tr=el("tr",undefined,n[3]);tr.dataset.side=n[4];
  [D[n[0]],n[1]||"(whole domain)",n[6],n[4],n[3],n[5]].forEach(function(t,i){
    tr.appendChild(el("td",t,i===1?"key":i===2?"name":undefined));});return tr;}
// What the key filter searches: key, display name, e-mail addresses, record label.
data.ops.forEach(function(o){o.push([o[3],o[7],o[8],o[4]].join("\\n").toLowerCase());});
data.notices.forEach(function(n){n.push([n[1],n[6],n[7]].join("\\n").toLowerCase());});
function opOk(o){var d=D[o[0]];
  if(f.side&&S[o[1]]!==f.side)return false;if(f.action&&A[o[2]]!==f.action)return false;
  if(f.key&&o[9].indexOf(f.key)<0)return false;
  if(f.code){var m=withCode.get(f.code);
    if(!m||(!m.has(d+"|"+o[3])&&!(d==="attachment"&&m.has("appointment|"+o[3]))))return false;}
  return true;}
function noticeOk(n){if(f.domain&&D[n[0]]!==f.domain)return false;
  if(f.side&&n[4]&&n[4]!==f.side)return false;
  if(f.key&&n[8].indexOf(f.key)<0)return false;return true;}
var tables=[];
function Table(section,rows,ok,make){this.s=section;this.rows=rows;this.ok=ok;
  this.make=make;this.page=0;this.shown=rows;var t=this;
  section.querySelector(".prev").onclick=function(){t.page--;t.draw();};
  section.querySelector(".next").onclick=function(){t.page++;t.draw();};tables.push(this);}
Table.prototype.filter=function(visible){this.visible=visible;
  this.shown=visible?this.rows.filter(this.ok):[];this.page=0;this.draw();};
Table.prototype.draw=function(){var n=this.shown.length,pages=Math.max(1,Math.ceil(n/PAGE));
  this.page=Math.min(Math.max(this.page,0),pages-1);
  this.s.classList.toggle("hidden",!this.visible||n===0);
  var body=this.s.querySelector("tbody"),frag=document.createDocumentFragment();
  var start=this.page*PAGE,end=Math.min(n,start+PAGE);
  for(var i=start;i<end;i++)frag.appendChild(this.make(this.shown[i]));
  body.replaceChildren(frag);
  this.s.querySelector(".shown").textContent=
    "("+(n?(start+1)+"\\u2013"+end+" of ":"")+n.toLocaleString("en")+
    (n!==this.rows.length?" shown, of "+this.rows.length.toLocaleString("en"):"")+")";
  this.s.querySelector(".page").textContent="page "+(this.page+1)+" of "+pages;
  this.s.querySelector(".prev").disabled=this.page===0;
  this.s.querySelector(".next").disabled=this.page>=pages-1;
  this.s.querySelector(".pager").classList.toggle("single",pages===1);};
var byDomain=new Map();data.ops.forEach(function(o){group(byDomain,D[o[0]],o);});
var byCode=new Map();data.notices.forEach(function(n){group(byCode,n[2],n);});
document.querySelectorAll("#ops section.listing").forEach(function(s){
  var t=new Table(s,byDomain.get(s.dataset.domain)||[],opOk,opRow);
  t.visibleWhen=function(){return !f.domain||f.domain===s.dataset.domain;};});
document.querySelectorAll("#notices section.listing").forEach(function(s){
  var t=new Table(s,byCode.get(s.dataset.code)||[],noticeOk,noticeRow);
  t.visibleWhen=function(){return !f.code||f.code===s.dataset.code;};});
function apply(){tables.forEach(function(t){t.filter(t.visibleWhen());});}
["domain","side","action","code","key"].forEach(function(name){
  var input=document.getElementById("filter-"+name);
  input.addEventListener("input",function(){
    f[name]=name==="key"?input.value.trim().toLowerCase():input.value;apply();});});
apply();
document.body.dataset.ready="true";
})();
"""


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


CSP = (
    "default-src 'none'; "
    f"script-src {_csp_hash(_JS)}; "
    f"style-src {_csp_hash(_CSS)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
"""The page's Content-Security-Policy: its own script and style (by hash), nothing else.

The plan's data block (`type="application/json"`) is not a script the browser
runs, so the policy does not need to allow it; a script that found its way
into the page by any other route would not run.
"""


def html(
    plan: Plan,
    *,
    title: str = "crmsync plan",
    baseline: Baseline | None = None,
    crm: CrmSnapshot | None = None,
    outlook: OutlookSnapshot | None = None,
) -> str:
    """The plan as one self-contained HTML page.

    Args:
        plan: the plan to show.
        title: the page's title and heading.
        baseline: the baseline the plan was made with: the page opens with
            its settings against the plan's, and names deleted records.
        crm: the CRM snapshot the plan was made from, for records' names.
        outlook: the Outlook snapshot the plan was made from, for records' names.

    Returns:
        The whole page, starting with `<!doctype html>`. It loads nothing from
        the network; its script renders `PAGE_SIZE` rows per table at a time.
    """
    names = _names(plan, crm, outlook, baseline)
    data = {
        "domains": [d.value for d in _DOMAINS],
        "sides": [s.value for s in _SIDES],
        "actions": [a.value for a in _ACTIONS],
        "pageSize": PAGE_SIZE,
        "ops": [_op_row(op, names) for op in plan.ops],
        "notices": [_notice_row(n, names) for n in plan.notices],
    }
    codes = sorted({n.code for n in plan.notices})
    filters = (
        '<section id="filters">'
        + _options("filter-domain", "domain", [d.value for d in Domain])
        + _options("filter-side", "side", [s.value for s in Side])
        + _options("filter-action", "action", [a.value for a in Action])
        + _options("filter-code", "notice code", codes)
        + '<label>key, name or e-mail <input id="filter-key" type="search" '
        'placeholder="key, name or e-mail"></label>' + "</section>"
    )
    made = "with a baseline" if plan.has_baseline else "without a baseline (first sync)"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Planned for <time>{_e(plan.now.isoformat())}</time>"
        f" {made}: {len(plan.ops):,} op(s), {len(plan.notices):,} notice(s).</p></header>"
        + _settings_section(plan, baseline)
        + _data_loss(plan, names)
        + _summary(plan)
        + filters
        + "<noscript><p>The ops and notices below are listed by a script; allow "
        "JavaScript to see them, or run <code>crmsync plan</code> for text.</p></noscript>"
        + _ops_sections(plan)
        + _notice_sections(plan)
        + f'<script type="application/json" id="plan-data">{_json_for_script(data)}</script>'
        + f"<script>{_JS}</script></body></html>\n"
    )


def summary_text(plan: Plan, *, json_format: bool = False, baseline: Baseline | None = None) -> str:
    """The plan's counts and its data-loss notices, without the ops.

    Args:
        plan: the plan to sum up.
        json_format: return JSON (`{"ops", "notices", "data_loss"}`) instead of text.
        baseline: the baseline the plan was made with: the text then opens
            with the settings change (`settings_text`), and the JSON has a
            `settings_change` list.

    Returns:
        The settings change when a baseline is given, then counts of ops per
        `domain.side.action` and of notices per code, then the data-loss
        notices (at most `DATA_LOSS_SHOWN` of them, then a count).
    """
    counts = plan.summary()
    lost = [n for n in plan.notices if n.severity is Severity.DATA_LOSS]
    if json_format:
        shown = [
            {"domain": n.domain.value, "key": n.key, "code": n.code, "message": n.message}
            for n in lost[:DATA_LOSS_SHOWN]
        ]
        extra: dict[str, Any] = {}
        changes = settings_changes(plan, baseline)
        if changes is not None:
            extra["settings_change"] = [
                {
                    "setting": c.setting,
                    "old": c.old,
                    "new": c.new,
                    "in_this_mailbox": dict(c.consequences),
                }
                for c in changes
            ]
        return json.dumps(
            {**extra, **counts, "data_loss": shown, "data_loss_count": len(lost)},
            indent=2,
            ensure_ascii=False,
        )
    lines = [] if baseline is None else [settings_text(plan, baseline), ""]
    lines.append(
        f"crmsync plan for {plan.now.isoformat()}: {len(plan.ops):,} op(s), "
        f"{len(plan.notices):,} notice(s)"
    )
    lines.append("ops:" if counts["ops"] else "ops: none, both sides are in sync")
    lines.extend(f"  {name} {n:,}" for name, n in counts["ops"].items())
    if counts["notices"]:
        lines.append("notices:")
        lines.extend(f"  {code} {n:,}" for code, n in counts["notices"].items())
    if lost:
        lines.append(f"DATA LOSS: {len(lost):,} notice(s)")
        names = _names(plan, None, None, baseline)
        lines.extend(
            f"  {n.code} {n.domain.value} {n.key or '(whole domain)'}"
            + (
                f" ({names[(n.domain, n.key)][0]})"
                if names.get((n.domain, n.key), ("",))[0]
                else ""
            )
            + f": {n.message}"
            for n in lost[:DATA_LOSS_SHOWN]
        )
        if len(lost) > DATA_LOSS_SHOWN:
            lines.append(f"  ... and {len(lost) - DATA_LOSS_SHOWN:,} more")
    return "\n".join(lines)
