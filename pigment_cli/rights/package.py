"""The subject-access package (UK GDPR Art. 15): report.html, data.json, one CSV per record type
and manifest.json, written owner-only to a temporary name beside the destination, then renamed.

Consents and disclosures are read straight from their tables, so the package carries every column
those records have. Flags for a human (health data, other people's data) are raised, never decided.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from pigment_cli import __version__
from pigment_cli.errors import BadInput, Refused
from pigment_cli.files import (
    csv_bytes,
    lock_in_use,
    private_temp,
    refuse_own_file,
    remove_leftovers,
    write_new_private,
)
from pigment_cli.policy import Policy
from pigment_cli.policy.rules import subject_due
from pigment_cli.records.answers import check_answerable, record_answer, request_row
from pigment_cli.records.consents import events_of, state_from
from pigment_cli.records.items import items_with_due
from pigment_cli.records.processors import SAFEGUARD_LABELS, processors
from pigment_cli.records.restrictions import objections_of, restrictions_of
from pigment_cli.records.subjects import get_subject
from pigment_cli.rights.requests import (
    KIND_WORDS,
    RequestView,
    close,
    holds_health_data,
    requests_of,
)
from pigment_cli.store.own import own_files
from pigment_cli.store.session import Session

SCHEMA_VERSION = 1
CSV_TYPES = ("subject", "items", "consents", "disclosures", "requests")
_ITEM_CSV = ("id", "category", "source", "purpose", "basis", "value", "collected_at",
             "processed_at", "erasure_due")
_REQUEST_CSV = ("id", "kind", "channel", "status", "received_on", "id_verified_on",
                "fee_received_on", "start", "due", "extended", "extended_on", "extension_reason",
                "paused_days", "pauses", "reviewed_on", "review_outcome", "closed_on", "outcome")
_VOID_COLUMNS = ("voided_at", "void_reason")
# Internal to the clinic: the reviewer's name and opinion are left for a human to release.
_INTERNAL_REQUEST_FIELDS = ("reviewer", "note")
HEALTH_NOTE = (
    "This report contains health data. Before it is released, the Data Protection Act 2018 "
    "(Schedule 3, Part 2) expects the opinion of an appropriate health professional on whether "
    "release could cause serious harm to the physical or mental health of the patient or anyone "
    "else."
)
THIRD_PARTY_NOTE = (
    "Free-text entries may mention other people (relatives, referrers, other patients). Their "
    "personal data may need to be redacted before release (Data Protection Act 2018, Schedule 2, "
    "Part 3)."
)


# --- gathering ---------------------------------------------------------------------------------


def _table_rows(conn: sqlite3.Connection, table: str,
                subject_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    order = "at, id" if {"at", "id"} <= set(columns) else "rowid"
    rows = conn.execute(
        f"SELECT * FROM {table} WHERE subject_id = ? ORDER BY {order}", (subject_id,)
    ).fetchall()
    return columns, [dict(r) for r in rows]


def _transfers_of(s: Session, data: dict[str, Any]) -> list[str]:
    """The transfers abroad of this person's data (UK GDPR Art. 15(2)): the processors outside
    the UK, in the processor register, serving a purpose their items are held for."""
    held_for = {item["purpose"] for item in data["items"]}
    found = []
    for p in processors(s.conn):
        if not p.transfer or not held_for & set(p.purposes):
            continue
        uses = ", ".join(_label(s.policy, "purposes", k) for k in p.purposes if k in held_for)
        found.append(f"{p.name} in {p.country}, for {uses}, protected by "
                     f"{SAFEGUARD_LABELS.get(p.safeguard or 'none', 'no safeguard')}")
    return found


def _request_words(kind: str) -> str:
    words = KIND_WORDS.get(kind, kind)
    return words[0].upper() + words[1:]


def _public_request(view: RequestView) -> dict[str, Any]:
    out = view.to_dict()
    for internal in ("actions", "notices", "to_be_told", "internal_target"):
        out.pop(internal, None)  # the clinic's working notes on how it answered
    if out.get("review"):
        out["review"] = {k: v for k, v in out["review"].items()
                         if k not in _INTERNAL_REQUEST_FIELDS}
    return out


def collect(s: Session, subject_id: str) -> dict[str, Any]:
    """Every record about the subject, as the machine-readable document written to data.json."""
    conn, policy = s.conn, s.policy
    subject = get_subject(conn, subject_id)
    items = [i.to_dict() for i in items_with_due(s, subject)]
    consent_columns, consents = _table_rows(conn, "consent_events", subject.id)
    disclosure_columns, disclosures = _table_rows(conn, "disclosures", subject.id)
    # A disclosure voided as recorded by mistake (twice) names no recipient: it is left out.
    disclosures = [{k: v for k, v in d.items() if k not in _VOID_COLUMNS}
                   for d in disclosures if not d.get("voided_at")]
    disclosure_columns = [c for c in disclosure_columns if c not in _VOID_COLUMNS]
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": s.stamp + "Z",
        "tool": {"name": "pigment", "version": __version__},
        "policy_version": policy.version,
        "controller": policy.controller,
        "subject": subject.to_dict(),
        "retention": {
            "rule": policy.retention_label(),
            "erasure_due": subject_due(policy, subject.last_processed_at, subject.dob).isoformat(),
        },
        "items": items,
        "consents": consents,
        "disclosures": disclosures,
        "requests": [_public_request(v) for v in requests_of(s, subject.id)],
        # Restriction never blocks the person's own access (UK GDPR Art. 15, 18): it is listed.
        "restrictions": [r.to_dict() for r in restrictions_of(conn, subject.id)],
        "objections": [o.to_dict() for o in objections_of(conn, subject.id,
                                                          standing_only=False)],
        "flags": {
            "health_data": holds_health_data(s, subject.id),
            "third_party_data_check": True,
        },
        "_columns": {"consents": consent_columns, "disclosures": disclosure_columns},
    }


# --- rendering ---------------------------------------------------------------------------------


def _label(policy: Policy, kind: str, key: str | None) -> str:
    return policy.label_or_key(kind, key)


def report_context(s: Session, data: dict[str, Any]) -> dict[str, Any]:
    """What report.html shows, with the policy's labels resolved (the template only lays out)."""
    policy = s.policy
    categories: dict[str, dict[str, Any]] = {}
    for item in data["items"]:
        group = categories.setdefault(item["category"], {
            "key": item["category"],
            "label": _label(policy, "categories", item["category"]),
            "special": policy.is_special_category(item["category"]),
            "retention": policy.retention_label(item["category"]),
            "items": [],
        })
        group["items"].append({
            **item,
            "source_label": _label(policy, "sources", item["source"]),
            "from_subject": policy.source_from_subject(item["source"]),
            "purpose_label": _label(policy, "purposes", item["purpose"]),
            "basis_label": _label(policy, "bases", item["basis"]),
        })
    purposes: dict[str, dict[str, str]] = {}
    for record in [*data["items"], *data["consents"], *data["disclosures"]]:
        key = record.get("purpose")
        if key and key not in purposes:
            purpose = policy.find_purpose(key)
            basis = record.get("basis") or (purpose.basis if purpose else None)
            purposes[key] = {"key": key, "label": _label(policy, "purposes", key),
                             "basis": _label(policy, "bases", basis)}
    consent_state: dict[str, dict[str, Any]] = {}
    for event in data["consents"]:
        consent_state[event.get("purpose")] = event
    # A specific consent stands while any recipient's grant stands: show its standing grant.
    events = events_of(s.conn, data["subject"]["id"])
    for key, event in list(consent_state.items()):
        state = state_from(key, events)
        if state.granted and event.get("action") == "withdraw" and state.last_event is not None:
            consent_state[key] = next(
                (e for e in data["consents"] if e.get("id") == state.last_event), event)
    consent_history = [{**e, "purpose_label": _label(policy, "purposes", e.get("purpose"))}
                       for e in data["consents"]]
    # A disclosure the law required is explained by that law, not by its purpose's label alone.
    disclosures = [{**d, "purpose_label": _label(policy, "purposes", d.get("purpose")),
                    "type_label": _label(policy, "recipient_types", d.get("recipient_type")),
                    "required_by_law": d.get("legal_requirement") or None}
                   for d in data["disclosures"]]
    not_from_subject = {}
    for item in data["items"]:
        if not policy.source_from_subject(item["source"]):
            not_from_subject[item["source"]] = _label(policy, "sources", item["source"])
    texts = {key: policy.text(key) for key in
             ("intro", "rights", "complaint", "automated_decisions", "transfers",
              "consent_withdrawal")}
    abroad = _transfers_of(s, data)
    if abroad:  # the register says otherwise than the policy's words: the register wins
        texts["transfers"] = (
            "Some of your personal data is transferred outside the United Kingdom, to "
            "organisations that process it for us: " + "; ".join(abroad) + ".")
    return {
        "data": data,
        "subject": data["subject"],
        "controller": data["controller"],
        "authority": policy.authority,
        "texts": texts,
        "categories": list(categories.values()),
        "purposes": list(purposes.values()),
        "consent_state": [{**e, "purpose_label": _label(policy, "purposes", p)}
                          for p, e in consent_state.items()],
        "consent_history": consent_history,
        "disclosures": disclosures,
        "recipient_types": [{"key": k, "label": _label(policy, "recipient_types", k)}
                            for k in policy.keys("recipient_types")],
        "requests": [{**r, "kind_words": _request_words(r["kind"])} for r in data["requests"]],
        "restrictions": [{**r, "purpose_label": _label(policy, "purposes", r["purpose"])
                          if r["purpose"] else None}
                         for r in data.get("restrictions", []) if r["active"]],
        "objections": [{**o, "purpose_label": _label(policy, "purposes", o["purpose"])}
                       for o in data.get("objections", []) if not o.get("withdrawn_at")],
        "retention_default": policy.retention_label(),
        "not_from_subject": list(not_from_subject.values()),
        "health_note": HEALTH_NOTE if data["flags"]["health_data"] else None,
        "third_party_note": THIRD_PARTY_NOTE,
        "generated_on": data["generated_at"][:10],
    }


def render_report(s: Session, data: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined  # lazy for start-up

    env = Environment(
        loader=PackageLoader("pigment_cli", "templates"),
        autoescape=True,  # every value is text, never markup: a name with <script> shows as text
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(**report_context(s, data))


def _csv(header: list[str] | tuple[str, ...], rows: list[dict[str, Any]]) -> bytes:
    return csv_bytes(header, rows)


def _request_row(view: dict[str, Any]) -> dict[str, Any]:
    review = view.get("review") or {}
    pauses = "; ".join(f"{p['paused_on']}..{p['resumed_on'] or ''}" for p in view["pauses"])
    return {**view, "pauses": pauses, "reviewed_on": review.get("reviewed_on"),
            "review_outcome": review.get("outcome")}


def package_files(s: Session, subject_id: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The package's files (name -> bytes, manifest last) and the data document."""
    data = collect(s, subject_id)
    columns = data.pop("_columns")
    files: dict[str, bytes] = {
        "report.html": render_report(s, data).encode("utf-8"),
        "data.json": (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode(),
        "subject.csv": _csv(list(data["subject"]), [data["subject"]]),
        "items.csv": _csv(_ITEM_CSV, data["items"]),
        "consents.csv": _csv(columns["consents"], data["consents"]),
        "disclosures.csv": _csv(columns["disclosures"], data["disclosures"]),
        "requests.csv": _csv(_REQUEST_CSV, [_request_row(v) for v in data["requests"]]),
    }
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": data["generated_at"],
        "tool": data["tool"],
        "subject_id": data["subject"]["id"],
        "files": [
            {"name": name, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            for name, body in files.items()
        ],
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return files, data


# --- writing -----------------------------------------------------------------------------------


def _refuse_existing(out: Path) -> None:
    if out.exists() or out.is_symlink():
        raise BadInput(f"{out} already exists; pigment never overwrites an export (choose a new name)")
    if not out.parent.is_dir():
        raise BadInput(f"{out.parent} is not an existing directory; create it first")


def _write_directory(out: Path, files: dict[str, bytes]) -> None:
    remove_leftovers(out.parent, ".pigment-export-*")  # what killed exports left behind
    tmp = Path(tempfile.mkdtemp(prefix=".pigment-export-", dir=out.parent))
    held = lock_in_use(tmp)  # never taken for a leftover while this run writes it
    try:
        os.chmod(tmp, 0o700)
        for name, body in files.items():
            write_new_private(tmp / name, body)
        _refuse_existing(out)  # again, just before the rename: rename would replace an empty dir
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(held)


def _write_zip(out: Path, files: dict[str, bytes], generated_at: str) -> None:
    import zipfile  # lazy for start-up: only a --zip export pays for it

    stamp = (int(generated_at[0:4]), int(generated_at[5:7]), int(generated_at[8:10]),
             int(generated_at[11:13]), int(generated_at[14:16]), int(generated_at[17:19]))
    remove_leftovers(out.parent, ".pigment-export-*")
    fd, tmp = private_temp(out.parent, prefix=".pigment-export-")
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for file_name, body in files.items():
                    info = zipfile.ZipInfo(file_name, date_time=stamp)
                    info.external_attr = (0o100600 & 0xFFFF) << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, body)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, out)  # never replaces an existing file, unlike rename
        except FileExistsError:
            raise BadInput(f"{out} already exists; pigment never overwrites an export") from None
        except OSError:  # a filesystem without hard links
            _refuse_existing(out)
            os.rename(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def export_package(s: Session, subject_id: str, out: Path, *, zip_: bool = False,
                   request_id: str | None = None, answers: bool = True) -> dict[str, Any]:
    """Write the subject-access package to `out` (a new directory, or a new zip file with `zip_`
    or when `out` ends in `.zip`).

    Returns a summary: the path, the file names, the flags a human must act on, and the
    serious-harm reviews recorded on the subject's requests (date and outcome, never the reviewer
    or the note)."""
    out = Path(out).expanduser()
    zip_ = zip_ or out.suffix.lower() == ".zip"  # never a directory named like a zip file
    refuse_own_file(out, own_files(s.path) if s.path else [])
    _refuse_existing(out)
    if request_id and answers:
        row = check_answerable(s.conn, request_id, get_subject(s.conn, subject_id).id, "export")
        _require_review(s, row["id"], row["subject_id"])
    files, data = package_files(s, subject_id)
    detail: dict[str, Any] = {"files": len(files), "zip": zip_}
    if request_id:
        detail["request"] = request_id.strip().upper()
        if answers:
            record_answer(s, request_id, data["subject"]["id"], "export", files=len(files))
    # Recorded first: a package never exists without its audit entry, even if the run is killed
    # the moment it appears (one that fails after this leaves the entry, and no package).
    s.audit("sar export", data["subject"]["id"], **detail)
    s.commit_so_far()
    try:
        if zip_:
            _write_zip(out, files, data["generated_at"])
        else:
            _write_directory(out, files)
    except OSError as exc:
        raise BadInput(f"cannot write {out}: {exc.strerror or exc}") from None
    reviews = [{"request": r["id"], "reviewed_on": r["review"]["reviewed_on"],
                "outcome": r["review"]["outcome"]} for r in data["requests"] if r.get("review")]
    return {"path": str(out), "files": list(files), "zip": zip_, "flags": data["flags"],
            "subject_id": data["subject"]["id"], "reviews": reviews}


def _require_review(s: Session, request_id: str, subject_id: str) -> None:
    """The package that answers a request releases health data only after a health
    professional's serious-harm review is recorded on it (DPA 2018 Sch. 3 Part 2)."""
    reviewed = s.conn.execute("SELECT reviewed_on FROM requests WHERE id = ?",
                              (request_id,)).fetchone()[0]
    if not reviewed and holds_health_data(s, subject_id):
        raise Refused(
            f"request {request_id}: the subject's data includes health data; record a health "
            f"professional's review first (pigment sar review {request_id} --by NAME --outcome "
            "release --note TEXT)")


def close_and_export(s: Session, request_id: str, out: Path, *, on: str | None = None,
                     zip_: bool = False) -> tuple[RequestView, dict[str, Any]]:
    """Close a request and write its access package, in one transaction."""
    row = request_row(s.conn, request_id)
    if row["subject_id"] is None:
        raise BadInput(f"request {row['id']} is from someone the clinic holds nothing on: there "
                       "is no package to write (answer it with: pigment request letter "
                       f"{row['id']} --template nothing-held)")
    _require_review(s, row["id"], row["subject_id"])
    record_answer(s, row["id"], row["subject_id"], "export")
    view = close(s, row["id"], on=on, exported=True)
    package = export_package(s, row["subject_id"], out, zip_=zip_, request_id=view.id,
                             answers=False)
    return view, package
