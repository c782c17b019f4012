"""The register of processors (UK GDPR Art. 28) and of transfers abroad with their safeguard
(Art. 44-46): who handles the clinic's data under contract, for which purposes, where. A
processor's name and note are shown to the manager and in the ROPA, never in the audit trail."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

from pigment_cli.clock import parse_date
from pigment_cli.errors import BadInput, NotFound
from pigment_cli.policy import Policy
from pigment_cli.records.ids import fresh_id
from pigment_cli.records.validate import FieldRefused, clean_text
from pigment_cli.store.session import Session

ROLES = ("mailing", "payment", "laboratory", "it", "hosting", "other")
# Art. 46 safeguards (the IDTA, the UK Addendum to the EU SCCs), adequacy regulations (Art. 45),
# or `none` recorded as the fact it is (`pigment check` reports it).
SAFEGUARDS = ("idta", "uk-addendum", "adequacy", "none")
SAFEGUARD_LABELS = {
    "idta": "International Data Transfer Agreement (IDTA)",
    "uk-addendum": "UK Addendum to the EU standard contractual clauses",
    "adequacy": "UK adequacy regulations (UK GDPR Art. 45)",
    "none": "no safeguard recorded",
}
HOME = "GB"  # a processor elsewhere is a transfer outside the UK
# ISO 3166-1 alpha-2, every code assigned.
COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())


@dataclass(frozen=True)
class Processor:
    id: str
    name: str
    role: str
    purposes: tuple[str, ...]
    categories: tuple[str, ...]
    country: str
    safeguard: str | None
    contract_until: str | None
    note: str | None
    added_at: str
    updated_at: str
    ended_at: str | None

    @property
    def transfer(self) -> bool:
        """Its data leaves the UK (Art. 44)."""
        return self.country != HOME

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def contract_expired(self, today: date) -> bool:
        return self.active and self.contract_until is not None and \
            self.contract_until < today.isoformat()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["purposes"], data["categories"] = list(self.purposes), list(self.categories)
        data["transfer"], data["active"] = self.transfer, self.active
        return data


_COLUMNS = ("id, name, role, purposes, categories, country, safeguard, contract_until, note, "
            "added_at, updated_at, ended_at")


def _keys(text: str) -> tuple[str, ...]:
    return tuple(k for k in text.split(",") if k)


def _processor(row: Any) -> Processor:
    return Processor(row["id"], row["name"], row["role"], _keys(row["purposes"]),
                     _keys(row["categories"]), row["country"], row["safeguard"],
                     row["contract_until"], row["note"], row["added_at"], row["updated_at"],
                     row["ended_at"])


def _name(value: str | None) -> str:
    text = clean_text(value, "--name")
    if not text:
        raise BadInput("--name is required: the processor's organisation, e.g. \"Mailchimp "
                       "(Intuit)\"")
    return text


def _role(value: str) -> str:
    role = value.strip().lower()
    if role not in ROLES:
        raise BadInput(f"unknown --role {role[:20]!r}; use one of: {', '.join(ROLES)}")
    return role


def _key_list(policy: Policy, kind: str, value: str, option: str) -> tuple[str, ...]:
    keys: list[str] = []
    for raw in value.split(","):
        key = raw.strip()
        if key and key not in keys:
            keys.append(policy.require(kind, key))
    if not keys:
        raise BadInput(f"{option} is required: a comma-separated list of the policy's {kind} "
                       "(see: pigment policy show)")
    return tuple(keys)


def _categories(policy: Policy, purposes: tuple[str, ...], value: str) -> tuple[str, ...]:
    """The categories the processor handles, each one that a listed purpose may use (Art. 28(3):
    the contract sets the type of data; Art. 5(1)(c): no more than the purposes need)."""
    categories = _key_list(policy, "categories", value, "--categories")
    allowed: list[str] = []
    for key in purposes:
        purpose = policy.purpose(key)
        if not purpose.categories:  # a purpose with no list may use any category
            return categories
        allowed += [c for c in purpose.categories if c not in allowed]
    outside = [c for c in categories if c not in allowed]
    if outside:
        raise FieldRefused(
            f"refused: purposes {', '.join(purposes)} use only these categories of data: "
            f"{', '.join(allowed)} (the policy's purposes.<key>.categories), not "
            f"{', '.join(outside)}. Nothing was recorded.", "categories",
            "is not a category its purposes may use")
    return categories


def _country(value: str) -> str:
    code = value.strip().upper()
    if code == "UK":
        raise BadInput("--country UK: the ISO 3166 code of the United Kingdom is GB")
    if code not in COUNTRIES:
        raise BadInput(f"--country {code[:12]!r} is not an ISO 3166 alpha-2 country code "
                       "(e.g. GB, IE, US)")
    return code


def _safeguard(value: str) -> str:
    safeguard = value.strip().lower()
    if safeguard not in SAFEGUARDS:
        raise BadInput(f"unknown --safeguard {safeguard[:20]!r}; use one of: "
                       f"{', '.join(SAFEGUARDS)}")
    return safeguard


def _check_transfer(country: str, safeguard: str | None) -> None:
    if country == HOME and safeguard is not None:
        raise BadInput(f"--safeguard is for transfers outside the UK; a processor in {HOME} "
                       "needs none (leave it out)")
    if country != HOME and safeguard is None:
        raise BadInput(f"--country {country} is a transfer outside the UK (UK GDPR Art. 44-46): "
                       f"give --safeguard ({', '.join(SAFEGUARDS)})")


def _day(value: str, option: str) -> str:
    return parse_date(value, option).isoformat()


def add_processor(s: Session, *, name: str, role: str, purposes: str, categories: str,
                  country: str = HOME, safeguard: str | None = None,
                  contract_until: str | None = None, note: str | None = None) -> Processor:
    """Put a processor on the register; a country other than GB needs a safeguard."""
    the_name, the_role = _name(name), _role(role)
    the_purposes = _key_list(s.policy, "purposes", purposes, "--purposes")
    the_categories = _categories(s.policy, the_purposes, categories)
    the_country = _country(country)
    the_safeguard = _safeguard(safeguard) if safeguard is not None else None
    _check_transfer(the_country, the_safeguard)
    until = _day(contract_until, "--contract-until") if contract_until else None
    the_note = clean_text(note, "--note", multiline=True)
    processor_id = fresh_id(s.conn, "P", "SELECT 1 FROM processors WHERE id = ?1")
    s.conn.execute(
        "INSERT INTO processors (id, name, role, purposes, categories, country, safeguard, "
        "contract_until, note, added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (processor_id, the_name, the_role, ",".join(the_purposes), ",".join(the_categories),
         the_country, the_safeguard, until, the_note, s.stamp, s.stamp))
    s.audit("processor add", None, processor=processor_id)
    return _get(s.conn, processor_id)


def update_processor(s: Session, processor_id: str, *, name: str | None = None,
                     role: str | None = None, purposes: str | None = None,
                     categories: str | None = None, country: str | None = None,
                     safeguard: str | None = None, contract_until: str | None = None,
                     note: str | None = None) -> Processor:
    """Change what is given; the rest stays. A new country abroad needs its own safeguard (the
    one recorded was chosen for the old country); moving to GB drops the safeguard."""
    old = _get(s.conn, processor_id)
    if all(v is None for v in (name, role, purposes, categories, country, safeguard,
                               contract_until, note)):
        raise BadInput("nothing to update: give at least one option (see: pigment processor "
                       "update --help)")
    new = old
    if name is not None:
        new = replace(new, name=_name(name))
    if role is not None:
        new = replace(new, role=_role(role))
    if purposes is not None:
        new = replace(new, purposes=_key_list(s.policy, "purposes", purposes, "--purposes"))
    if purposes is not None or categories is not None:
        given = categories if categories is not None else ",".join(new.categories)
        new = replace(new, categories=_categories(s.policy, new.purposes, given))
    if country is not None:
        new = replace(new, country=_country(country))
        if new.country != old.country:
            new = replace(new, safeguard=None)
    if safeguard is not None:
        new = replace(new, safeguard=_safeguard(safeguard))
    _check_transfer(new.country, new.safeguard)
    if contract_until is not None:
        new = replace(new, contract_until=_day(contract_until, "--contract-until"))
    if note is not None:
        new = replace(new, note=clean_text(note, "--note", multiline=True))
    s.conn.execute(
        "UPDATE processors SET name = ?, role = ?, purposes = ?, categories = ?, country = ?, "
        "safeguard = ?, contract_until = ?, note = ?, updated_at = ? WHERE id = ?",
        (new.name, new.role, ",".join(new.purposes), ",".join(new.categories), new.country,
         new.safeguard, new.contract_until, new.note, s.stamp, old.id))
    s.audit("processor update", None, processor=old.id)
    return _get(s.conn, old.id)


def end_processor(s: Session, processor_id: str, *, on: str | None = None) -> Processor:
    """The processor no longer handles the clinic's data (from `on`, default today)."""
    old = _get(s.conn, processor_id)
    if old.ended_at is not None:
        raise BadInput(f"processor {old.id} already ended on {old.ended_at[:10]}")
    day = parse_date(on, "--on") if on else s.today
    if day > s.today:
        raise BadInput(f"--on {day.isoformat()} is in the future: end a processor once it no "
                       "longer handles the clinic's data")
    s.conn.execute("UPDATE processors SET ended_at = ?, updated_at = ? WHERE id = ?",
                   (day.isoformat(), s.stamp, old.id))
    s.audit("processor end", None, processor=old.id)
    return _get(s.conn, old.id)


def _get(conn: sqlite3.Connection, processor_id: str) -> Processor:
    key = processor_id.strip().upper()
    row = conn.execute(f"SELECT {_COLUMNS} FROM processors WHERE id = ?", (key,)).fetchone()
    if row is None:
        raise NotFound(f"no processor {key[:12]} (see: pigment processor list --all)")
    return _processor(row)


def get_processor(s: Session, processor_id: str) -> Processor:
    processor = _get(s.conn, processor_id)
    s.audit("processor show", None, processor=processor.id)
    return processor


def processors(conn: sqlite3.Connection, *, include_ended: bool = False) -> list[Processor]:
    """The register, oldest first (no audit: for reports, which audit their own view)."""
    sql = f"SELECT {_COLUMNS} FROM processors"
    if not include_ended:
        sql += " WHERE ended_at IS NULL"
    return [_processor(r) for r in conn.execute(sql + " ORDER BY added_at, rowid").fetchall()]


def list_processors(s: Session, *, include_ended: bool = False) -> list[Processor]:
    found = processors(s.conn, include_ended=include_ended)
    s.audit("processor list", None, processors=len(found))
    return found


def contracts_ending(conn: sqlite3.Connection, today: date,
                     within_days: int = 30) -> list[dict[str, Any]]:
    """Active processors whose contract ends within `within_days` of `today`, soonest first,
    as {id, name, contract_until, days_left}; a contract already past (still in use: `pigment
    check` reports it) is included too, with days_left below 0."""
    last = (today + timedelta(days=within_days)).isoformat()
    rows = conn.execute(
        "SELECT id, name, contract_until FROM processors WHERE ended_at IS NULL AND "
        "contract_until IS NOT NULL AND contract_until <= ? ORDER BY contract_until, id",
        (last,)).fetchall()
    return [{"id": r["id"], "name": r["name"], "contract_until": r["contract_until"],
             "days_left": (date.fromisoformat(r["contract_until"]) - today).days} for r in rows]


def register_findings(conn: sqlite3.Connection, today: date) -> list[tuple[str, str, str]]:
    """(check, problem, fix) for `pigment check`: contracts past their end still in use (Art. 28
    needs a contract in force) and transfers with no safeguard (Art. 44-46). Ids only."""
    active = processors(conn)
    findings = []
    expired = [p.id for p in active if p.contract_expired(today)]
    if expired:
        findings.append((
            "processor contracts", f"{len(expired)} processor contract(s) past their end date: "
            + ", ".join(expired[:10]), "renew and record it (pigment processor update P-... "
            "--contract-until DATE) or stop using them (pigment processor end P-...)"))
    unwritten = [p.id for p in active if not p.contract_until]
    if unwritten:
        findings.append((
            "processor contract missing", f"{len(unwritten)} processor(s) with no contract recorded: "
            + ", ".join(unwritten[:10]), "Art. 28 needs a written contract: record its end date "
            "(pigment processor update P-... --contract-until DATE)"))
    unsafe = [p.id for p in active if p.transfer and p.safeguard in (None, "none")]
    if unsafe:
        findings.append((
            "transfers", f"{len(unsafe)} transfer(s) outside the UK without a safeguard: "
            + ", ".join(unsafe[:10]), "put an IDTA or the UK Addendum in place and record it "
            "(pigment processor update P-... --safeguard idta), or stop the transfer"))
    return findings


def ropa_recipients(found: Sequence[Processor], purpose: str) -> list[str]:
    """The processors a purpose's data goes to, as the ROPA names them (organisations only)."""
    return [f"{p.name} (processor: {p.role})" for p in found if purpose in p.purposes]


def transfer_text(p: Processor) -> str:
    """One transfer as the ROPA states it: who, where, under what safeguard."""
    return f"{p.name}: {p.country}, {SAFEGUARD_LABELS.get(p.safeguard or 'none', 'none')}"
