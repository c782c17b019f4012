"""The breach register (UK GDPR Art. 33-34): every personal-data breach, its risk assessment, the
ICO's 72-hour clock, the notices to the ICO and to the people affected, and the report the ICO's
form asks for.

Times are stored as UTC text (YYYY-MM-DDTHH:MM:SS) and typed and shown in Europe/London: a time
typed without an offset is London's local time, refused (exit 2) when that local time does not
exist (the spring gap) or happens twice (the autumn fold). The ICO deadline is the moment of
awareness plus exactly 72 hours of elapsed time, so it is right across daylight-saving changes.
Free text (description, consequences, measures, the assessment's reason) may describe people: it
is shown to the manager (`breach show`, `breach report`) and never audited or echoed in errors.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pigment_cli.clock import LONDON, MAX_YEAR, MIN_YEAR, iso_now
from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.records.ids import fresh_id
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.validate import clean_text
from pigment_cli.store.session import Session

ICO_HOURS = 72  # UK GDPR Art. 33(1): "without undue delay and, where feasible, not later than 72 hours"
NATURES = ("confidentiality", "integrity", "availability")  # the ICO's three kinds of breach
RISKS = ("none", "risk", "high")
REPORT_FORMATS = ("md", "html")
TIME_EXAMPLE = "2026-03-31T09:30"
_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(:\d{2})?)(Z|[+-]\d{2}:\d{2})?$")
_BREACH_ID = re.compile(r"^B-[0-9A-Z]{5}$")
_COLUMNS = ("id, occurred_at, aware_at, nature, description, categories, approx_subjects, records, "
            "risk, risk_reason, assessed_at, consequences, measures, ico_notified_at, "
            "ico_reference, late_reason, subjects_notified_at, closed_at, created_at, updated_at")


# --- time: typed in London, stored in UTC ------------------------------------------------------


def _london() -> ZoneInfo:
    return ZoneInfo(LONDON)


def parse_london_time(text: str, what: str) -> datetime:
    """A typed date and time as an aware UTC datetime (to the second). Without an offset it is
    London's local time; a local time that does not exist or happens twice is BadInput (exit 2)
    asking for an explicit offset. Never echoes more than the flag's name and the typed time."""
    value = (text or "").strip()
    match = _TIME.match(value)
    if not match:
        raise BadInput(f"{what} is not a date and time; use ISO form such as {TIME_EXAMPLE} "
                       "(London time) or 2026-03-31T09:30+01:00")
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T"))
    except ValueError:
        raise BadInput(f"{what} is not a real date and time; use ISO form such as "
                       f"{TIME_EXAMPLE}") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise BadInput(f"{what} is out of range (years {MIN_YEAR} to {MAX_YEAR})")
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC).replace(microsecond=0)
    zone = _london()
    first, second = parsed.replace(tzinfo=zone, fold=0), parsed.replace(tzinfo=zone, fold=1)
    local = f"{match.group(1)}T{match.group(2)}"
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != parsed:
        raise BadInput(f"{what} {local} does not exist in London (the clocks went forward an hour "
                       "then); give the offset, e.g. +00:00 or +01:00")
    if first.utcoffset() != second.utcoffset():
        raise BadInput(f"{what} {local} happened twice in London (the clocks went back an hour "
                       f"then); give the offset: {local}+01:00 (the first) or {local}+00:00 "
                       "(the second)")
    return first.astimezone(UTC)


def _utc(stored: str) -> datetime:
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)


def london_text(stored: str | None) -> str | None:
    """A stored UTC time shown in London local time with its offset, to the minute
    (2026-03-31T11:00+01:00)."""
    if stored is None:
        return None
    return _utc(stored).astimezone(_london()).isoformat(timespec="minutes")


def ico_deadline(aware_at: datetime) -> datetime:
    """When the ICO must have been told: exactly 72 hours of elapsed time after awareness."""
    return aware_at.astimezone(UTC) + timedelta(hours=ICO_HOURS)


def _aware_now(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


# --- the record ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """One breach as stored (times UTC), with what its assessment makes mandatory."""

    id: str
    occurred_at: str | None
    aware_at: str
    nature: tuple[str, ...]
    description: str
    categories: tuple[str, ...]
    approx_subjects: int | None
    records: int | None
    risk: str | None
    risk_reason: str | None
    assessed_at: str | None
    consequences: str | None
    measures: str | None
    ico_notified_at: str | None
    ico_reference: str | None
    late_reason: str | None  # Art. 33(1): why the ICO was told after the 72 hours
    subjects_notified_at: str | None
    closed_at: str | None
    created_at: str
    updated_at: str
    subject_ids: tuple[str, ...] = field(default=())

    @property
    def deadline(self) -> datetime:
        return ico_deadline(_utc(self.aware_at))

    @property
    def deadline_text(self) -> str:
        """The deadline in London time with its offset, to the minute."""
        return self.deadline.astimezone(_london()).isoformat(timespec="minutes")

    @property
    def notifiable(self) -> bool:
        """The ICO must be told unless an assessment found no likely risk (Art. 33(1)); an
        unassessed breach counts as notifiable, so its clock is never forgotten."""
        return self.risk != "none"

    @property
    def subjects_required(self) -> bool:
        """High risk: the people affected must be told too (Art. 34(1))."""
        return self.risk == "high"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def ico_late(self) -> bool:
        return self.ico_notified_at is not None and _utc(self.ico_notified_at) > self.deadline

    def hours_left(self, now: datetime) -> float:
        return (self.deadline - _aware_now(now)).total_seconds() / 3600

    def overdue(self, now: datetime) -> bool:
        """Notifiable, past its 72 hours and the ICO not told: what cron alerts on."""
        return self.notifiable and self.ico_notified_at is None and self.hours_left(now) < 0

    def missing(self) -> list[str]:
        """What must still be done before it can be closed."""
        needs = []
        if self.risk is None:
            needs.append("a risk assessment (pigment breach assess)")
        if self.notifiable and self.risk is not None and self.ico_notified_at is None:
            needs.append("the ICO's notification (pigment breach notify-ico; UK GDPR Art. 33)")
        if self.subjects_required and self.subjects_notified_at is None:
            needs.append("telling the people affected (pigment breach notify-subjects; UK GDPR "
                         "Art. 34)")
        # Art. 33(5): every breach, notified or not, is documented with its effects and the
        # remedial action taken.
        if not (self.consequences or "").strip() or not (self.measures or "").strip():
            needs.append("its effects and the remedial action on record (pigment breach update "
                         "--consequences ... --measures ...; UK GDPR Art. 33(5))")
        return needs

    def status(self, now: datetime) -> str:
        if not self.is_open:
            return "closed"
        if self.overdue(now):
            return "OVERDUE"
        if self.risk is None:
            return "to assess"
        return "open"

    def summary(self, now: datetime) -> dict[str, Any]:
        """Ids, times and decisions only (no free text): what `breach list` shows and cron mails."""
        return {
            "id": self.id, "aware_at": london_text(self.aware_at),
            "ico_deadline": self.deadline_text,
            "hours_left": round(self.hours_left(now), 2), "nature": list(self.nature),
            "risk": self.risk, "notifiable": self.notifiable,
            "ico_notified_at": london_text(self.ico_notified_at), "ico_late": self.ico_late,
            "subjects_required": self.subjects_required,
            "subjects_notified_at": london_text(self.subjects_notified_at),
            "overdue": self.overdue(now), "status": self.status(now),
            "closed_at": london_text(self.closed_at),
        }

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """Everything, free text included (`breach show`), times in London."""
        data = asdict(self)
        for key in ("occurred_at", "aware_at", "assessed_at", "ico_notified_at",
                    "subjects_notified_at", "closed_at", "created_at", "updated_at"):
            data[key] = london_text(data[key])
        data.update(nature=list(self.nature), categories=list(self.categories),
                    subject_ids=list(self.subject_ids))
        return {**self.summary(now), **data, "missing": self.missing()}


def _breach(conn: sqlite3.Connection, row: sqlite3.Row) -> Breach:
    linked = tuple(r[0] for r in conn.execute(
        "SELECT subject_id FROM breach_subjects WHERE breach_id = ? ORDER BY subject_id",
        (row["id"],)))
    return Breach(
        row["id"], row["occurred_at"], row["aware_at"], tuple(_split(row["nature"])),
        row["description"], tuple(_split(row["categories"])), row["approx_subjects"],
        row["records"], row["risk"], row["risk_reason"], row["assessed_at"], row["consequences"],
        row["measures"], row["ico_notified_at"], row["ico_reference"], row["late_reason"],
        row["subjects_notified_at"], row["closed_at"], row["created_at"], row["updated_at"],
        linked)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def find_breach(conn: sqlite3.Connection, breach_id: str) -> Breach:
    key = (breach_id or "").strip().upper()
    row = conn.execute(f"SELECT {_COLUMNS} FROM breaches WHERE id = ?", (key,)).fetchone()
    if row is None:
        shown = key if _BREACH_ID.match(key) else "with that id"
        raise NotFound(f"no breach {shown} (ids look like B-7K3Q9; see: pigment breach list)")
    return _breach(conn, row)


# --- checks on what is typed ---------------------------------------------------------------------


def _natures(text: str) -> tuple[str, ...]:
    given = [n.lower() for n in _split(text)]
    unknown = [n for n in given if n not in NATURES]
    if not given or unknown:
        raise BadInput(f"--nature must be one or more of {', '.join(NATURES)} (comma-separated)")
    return tuple(n for n in NATURES if n in given)


def _categories(s: Session, text: str | None) -> tuple[str, ...]:
    given = list(dict.fromkeys(_split(text)))
    unknown = sum(not s.policy.knows("categories", key) for key in given)
    if unknown:  # never quoted: what was typed may be anything
        raise BadInput(f"--categories: {unknown} of them {'is' if unknown == 1 else 'are'} not "
                       "a category of the policy (see: pigment policy show)")
    return tuple(given)


def _count(value: int | None, what: str) -> int | None:
    if value is not None and not 0 <= value <= 100_000_000:
        raise BadInput(f"{what} must be a number from 0 to 100,000,000")
    return value


def _not_future(s: Session, when: datetime, what: str) -> None:
    if when > _aware_now(s.now):
        raise BadInput(f"{what} is in the future: record what has happened")


def _text(value: str | None, what: str, *, required: bool = False) -> str | None:
    text = clean_text(value, what, multiline=True)
    if required and not text:
        raise BadInput(f"{what} is required")
    return text


def _open(s: Session, breach_id: str) -> Breach:
    breach = find_breach(s.conn, breach_id)
    if not breach.is_open:
        raise Refused(f"breach {breach.id} was closed on {london_text(breach.closed_at)}: it "
                      "cannot be changed")
    return breach


# --- changes (each audited, ids and counts only) -----------------------------------------------


def record_breach(s: Session, *, aware_at: str, nature: str, description: str,
                  occurred_at: str | None = None, categories: str | None = None,
                  subjects: str | None = None, approx_subjects: int | None = None,
                  records: int | None = None) -> Breach:
    """Log a breach (Art. 33(5): every breach, notifiable or not); its ICO clock starts at
    `aware_at`."""
    aware = parse_london_time(aware_at, "--aware-at")
    _not_future(s, aware, "--aware-at")
    occurred = None
    if occurred_at is not None and occurred_at.strip():
        occurred = parse_london_time(occurred_at, "--occurred-at")
        if occurred > aware:
            raise BadInput("--occurred-at is after --aware-at: a breach is noticed after it "
                           "happens")
    natures = _natures(nature)
    text = _text(description, "--description", required=True)
    kinds = _categories(s, categories)
    if subjects is not None and approx_subjects is not None:
        raise BadInput("give --subjects (the people known) or --approx-subjects (a number), "
                       "not both")
    linked: list[str] = []
    for given in _split(subjects):
        subject = get_subject(s.conn, given).id
        if subject not in linked:
            linked.append(subject)
    if subjects is not None and not linked:
        raise BadInput("--subjects is empty; give subject ids such as S-7K3Q9,S-4MX2P")
    people = len(linked) if linked else _count(approx_subjects, "--approx-subjects")
    breach_id = fresh_id(s.conn, "B", "SELECT 1 FROM breaches WHERE id = ?1")
    s.conn.execute(
        "INSERT INTO breaches (id, occurred_at, aware_at, nature, description, categories, "
        "approx_subjects, records, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (breach_id, iso_now(occurred) if occurred else None, iso_now(aware), ",".join(natures),
         text, ",".join(kinds), people, _count(records, "--records"), s.stamp, s.stamp))
    s.conn.executemany("INSERT INTO breach_subjects (breach_id, subject_id) VALUES (?, ?)",
                       [(breach_id, subject) for subject in linked])
    s.audit("breach record", None, breach=breach_id, subjects=len(linked))
    for subject in linked:
        s.audit("breach link", subject, breach=breach_id)
    return find_breach(s.conn, breach_id)


def assess_breach(s: Session, breach_id: str, *, risk: str, reason: str) -> Breach:
    """Record the risk assessment and its reason (kept even when the ICO is not told: Art.
    33(5)). A later assessment replaces it (new facts)."""
    breach = _open(s, breach_id)
    level = (risk or "").strip().lower()
    if level not in RISKS:
        raise BadInput(f"--risk must be one of {', '.join(RISKS)}")
    text = _text(reason, "--reason", required=True)
    s.conn.execute("UPDATE breaches SET risk = ?, risk_reason = ?, assessed_at = ?, "
                   "updated_at = ? WHERE id = ?", (level, text, s.stamp, s.stamp, breach.id))
    s.audit("breach assess", None, breach=breach.id)
    return find_breach(s.conn, breach.id)


def _notified_on(s: Session, breach: Breach, on: str) -> datetime:
    when = parse_london_time(on, "--on")
    _not_future(s, when, "--on")
    if when < _utc(breach.aware_at):
        raise BadInput(f"--on is before the clinic became aware of breach {breach.id} "
                       f"({london_text(breach.aware_at)})")
    return when


def notify_ico(s: Session, breach_id: str, *, on: str, reference: str | None = None,
               late_reason: str | None = None) -> Breach:
    """Record when the ICO was told (and its case reference). Allowed whatever the assessment:
    telling the ICO of a breach assessed as no risk is voluntary. Told after the 72 hours, the
    reasons for the delay are required (Art. 33(1)); kept, never audited."""
    breach = _open(s, breach_id)
    if breach.ico_notified_at is not None:
        raise BadInput(f"breach {breach.id}: the ICO's notification is already on record "
                       f"({london_text(breach.ico_notified_at)})")
    when = _notified_on(s, breach, on)
    ref = clean_text(reference, "--reference")
    reason = _text(late_reason, "--late-reason")
    if when > breach.deadline and not reason:
        raise BadInput(f"breach {breach.id}: the ICO was told after the 72 hours (deadline "
                       f"{breach.deadline_text}); give --late-reason, the reasons for the delay "
                       "(UK GDPR Art. 33(1))")
    if reason and when <= breach.deadline:
        raise BadInput(f"breach {breach.id}: --late-reason is only for a notification after the "
                       f"72 hours (deadline {breach.deadline_text})")
    s.conn.execute("UPDATE breaches SET ico_notified_at = ?, ico_reference = ?, late_reason = ?, "
                   "updated_at = ? WHERE id = ?", (iso_now(when), ref, reason, s.stamp, breach.id))
    s.audit("breach notify-ico", None, breach=breach.id)
    return find_breach(s.conn, breach.id)


def notify_subjects(s: Session, breach_id: str, *, on: str) -> Breach:
    """Record when the people affected were told (Art. 34; voluntary unless the risk is high)."""
    breach = _open(s, breach_id)
    if breach.subjects_notified_at is not None:
        raise BadInput(f"breach {breach.id}: telling the people affected is already on record "
                       f"({london_text(breach.subjects_notified_at)})")
    when = _notified_on(s, breach, on)
    s.conn.execute("UPDATE breaches SET subjects_notified_at = ?, updated_at = ? WHERE id = ?",
                   (iso_now(when), s.stamp, breach.id))
    s.audit("breach notify-subjects", None, breach=breach.id, subjects=len(breach.subject_ids))
    return find_breach(s.conn, breach.id)


def update_breach(s: Session, breach_id: str, *, description: str | None = None,
                  consequences: str | None = None, measures: str | None = None,
                  records: int | None = None, approx_subjects: int | None = None) -> Breach:
    """Add what is learnt as it is learnt (Art. 33(4) allows information in phases)."""
    breach = _open(s, breach_id)
    changes: dict[str, Any] = {}
    if description is not None:
        changes["description"] = _text(description, "--description", required=True)
    if consequences is not None:
        changes["consequences"] = _text(consequences, "--consequences")
    if measures is not None:
        changes["measures"] = _text(measures, "--measures")
    if records is not None:
        changes["records"] = _count(records, "--records")
    if approx_subjects is not None:
        if approx_subjects < len(breach.subject_ids):
            raise BadInput(f"--approx-subjects is fewer than the {len(breach.subject_ids)} "
                           f"subject(s) linked to breach {breach.id}")
        changes["approx_subjects"] = _count(approx_subjects, "--approx-subjects")
    if not changes:
        raise BadInput("nothing to update: give --description, --consequences, --measures, "
                       "--records or --approx-subjects")
    assignments = ", ".join(f"{column} = ?" for column in changes)
    s.conn.execute(f"UPDATE breaches SET {assignments}, updated_at = ? WHERE id = ?",
                   (*changes.values(), s.stamp, breach.id))
    s.audit("breach update", None, breach=breach.id, fields=sorted(changes))
    return find_breach(s.conn, breach.id)


def close_breach(s: Session, breach_id: str) -> Breach:
    """Close a breach once assessed and every notification its risk requires is on record;
    Refused (exit 3) naming what is missing otherwise."""
    breach = _open(s, breach_id)
    missing = breach.missing()
    if missing:
        raise Refused(f"breach {breach.id} cannot be closed yet: it needs {'; '.join(missing)}")
    s.conn.execute("UPDATE breaches SET closed_at = ?, updated_at = ? WHERE id = ?",
                   (s.stamp, s.stamp, breach.id))
    s.audit("breach close", None, breach=breach.id)
    return find_breach(s.conn, breach.id)


# --- views ---------------------------------------------------------------------------------------


def all_breaches(conn: sqlite3.Connection) -> list[Breach]:
    return [_breach(conn, row) for row in
            conn.execute(f"SELECT {_COLUMNS} FROM breaches ORDER BY aware_at, id")]


def list_breaches(s: Session, *, open_only: bool = False,
                  overdue_only: bool = False) -> list[Breach]:
    """The register, oldest awareness first (open ones only, or overdue ones only)."""
    found = [b for b in all_breaches(s.conn)
             if (b.is_open or not open_only) and (b.overdue(s.now) or not overdue_only)]
    s.audit("breach list", None, breaches=len(found))
    return found


def overdue_breaches(conn: sqlite3.Connection, now: datetime) -> list[str]:
    """The ids of notifiable breaches past their 72 hours with no ICO notification."""
    return [b.id for b in all_breaches(conn) if b.overdue(now)]


def show_breach(s: Session, breach_id: str) -> Breach:
    breach = find_breach(s.conn, breach_id)
    s.audit("breach show", None, breach=breach.id)
    return breach


def breach_summary(conn: sqlite3.Connection, now: datetime) -> list[dict[str, Any]]:
    """Open breaches for the status screen: id, hours_left (negative when past), notifiable,
    ico_notified, and the deadline in London time. No free text, no audit (callers audit)."""
    return [{"id": b.id, "hours_left": b.hours_left(now), "notifiable": b.notifiable,
             "ico_notified": b.ico_notified_at is not None,
             "ico_deadline": b.deadline_text}
            for b in all_breaches(conn) if b.is_open]


@dataclass(frozen=True)
class BreachLink:
    """A breach that touched a subject, as `subject show` lists it (ids and dates only)."""

    breach: str
    aware: str
    status: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def breaches_of(conn: sqlite3.Connection, subject_id: str) -> list[BreachLink]:
    """The breaches linked to a subject, oldest first (no audit: callers audit their view)."""
    rows = conn.execute(
        "SELECT b.id, b.aware_at, b.closed_at FROM breaches b JOIN breach_subjects l "
        "ON l.breach_id = b.id WHERE l.subject_id = ? ORDER BY b.aware_at, b.id",
        (subject_id,)).fetchall()
    return [BreachLink(r[0], (london_text(r[1]) or "")[:10], "closed" if r[2] else "open")
            for r in rows]


# --- the ICO's breach report form -------------------------------------------------------------


def report_fields(s: Session, breach_id: str) -> tuple[Breach, list[tuple[str, str]]]:
    """The answers the ICO's personal data breach report form asks for, in its order, as
    (question, answer) pairs (audited as `breach report`)."""
    breach = find_breach(s.conn, breach_id)
    policy = s.policy
    controller = policy.controller
    late = ""
    if breach.ico_late:
        late = (" - LATE: more than 72 hours after becoming aware; the ICO asks for the reasons "
                "for the delay (UK GDPR Art. 33(1))")
    elif breach.ico_notified_at is None and breach.overdue(s.now):
        late = " - LATE: the 72 hours have passed; give the reasons for the delay"
    people = ("unknown" if breach.approx_subjects is None
              else f"about {breach.approx_subjects:,}")
    records = "unknown" if breach.records is None else f"about {breach.records:,}"
    special = [c for c in breach.categories if policy.is_special_category(c)]
    categories = ", ".join(f"{policy.label('categories', c)} [{c}]" for c in breach.categories)
    told = {None: "not yet assessed", "none": "not required (assessed as unlikely to result in "
            "a risk to people's rights and freedoms)", "risk": "required (a risk to people's "
            "rights and freedoms)", "high": "required, and the people affected must be told "
            "(high risk, UK GDPR Art. 34)"}[breach.risk]
    fields = [
        ("Organisation (controller)", str(controller.get("name", ""))),
        ("Controller contact", "; ".join(str(controller[k]) for k in ("address", "email", "phone")
                                         if controller.get(k))),
        ("Data protection officer", str(controller.get("dpo", "")) or "none named"),
        ("Breach reference (internal)", breach.id),
        ("When the breach happened", london_text(breach.occurred_at) or "not known"),
        ("When the clinic became aware", london_text(breach.aware_at) or ""),
        ("ICO deadline (aware + 72 hours)", breach.deadline_text),
        ("When the ICO was told", (london_text(breach.ico_notified_at) or "not yet") + late),
        ("ICO case reference", breach.ico_reference or "none yet"),
        *([("Reasons for the delay", breach.late_reason or "not yet recorded")]
          if breach.ico_late else []),
        ("Nature of the breach", ", ".join(breach.nature)),
        ("What happened", breach.description),
        ("Categories of personal data", categories or "not yet known"),
        ("Special category (health) data involved", "yes" if special else "no"),
        ("Approximate number of people affected", people),
        ("Approximate number of records affected", records),
        ("Likely consequences", breach.consequences or "not yet recorded"),
        ("Measures taken or proposed", breach.measures or "not yet recorded"),
        ("Risk assessment", (breach.risk or "not yet assessed")
         + (f": {breach.risk_reason}" if breach.risk_reason else "")),
        ("Notification to the ICO", told),
        ("People affected told", london_text(breach.subjects_notified_at) or "not yet"),
    ]
    s.audit("breach report", None, breach=breach.id)
    return breach, fields


def render_report(breach: Breach, fields: list[tuple[str, str]], fmt: str) -> str:
    """The report as Markdown or as a self-contained HTML page (every value escaped)."""
    if fmt not in REPORT_FORMATS:
        raise BadInput(f"--format must be one of {', '.join(REPORT_FORMATS)}")
    title = f"Personal data breach report: {breach.id}"
    if fmt == "md":
        lines = [f"# {title}", ""]
        for question, answer in fields:
            # Free text never makes structure: each of its lines is quoted, so a "## ..." line
            # in a description cannot pose as a section of the report.
            quoted = "\n".join(f"> {line}" if line else ">" for line in answer.split("\n"))
            lines += [f"## {question}", "", quoted, ""]
        return "\n".join(lines)
    from html import escape

    rows = "\n".join(f"<tr><th>{escape(q)}</th><td>{escape(a)}</td></tr>" for q, a in fields)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>th{{text-align:left;vertical-align:top;"
            "padding-right:1em}td{white-space:pre-wrap}</style></head><body>"
            f"<h1>{escape(title)}</h1>\n<table>\n{rows}\n</table></body></html>\n")
