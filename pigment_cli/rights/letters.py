"""Letters to the person behind a request: acknowledgement, proof of identity, clarification,
extension, completion, refusal, "nothing held" and notice that a restriction will be lifted, in
the clinic's name, as plain text or HTML.

The words are Jinja2 templates (`templates/letters/<name>.<fmt>.j2`, package data); a clinic can
override any of them with a file of the same name in the policy's `[letters] folder`. Only those
names are ever loaded (`LOADABLE`: no template can include another file, and an override that is
a link is refused), rendering is sandboxed, HTML is autoescaped, and every value from the store
is made plain first (control and bidirectional-override characters removed; one-line values kept
on one line), so a hostile name or reason can neither inject markup nor forge the letter's
layout. The request's note is the clinic's internal summary: no letter can quote it. A letter
that records a step (acknowledgement, extension) is dated the day of that step, also when it is
printed again later for the file (it then says when it was printed); any other, today. Audit
entries carry the request id and the template only (and the restriction's id for a
restriction-lifting letter).

The same machinery writes the notice to the people a high-risk breach affects (UK GDPR Art. 34,
`breach-notice`): to one linked subject, or "Dear patient" for a mail merge; audited as "breach
letter" with the breach's id only.
"""

from __future__ import annotations

import os
import re
import stat
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pigment_cli.clock import london_today, parse_date
from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.files import check_output, shown_path, write_new_private
from pigment_cli.policy import Policy
from pigment_cli.records.breaches import Breach, find_breach, london_text
from pigment_cli.records.objections import CONSENT, DIRECT_MARKETING
from pigment_cli.records.restrictions import (
    OBJECTABLE_BASES,
    Restriction,
    objections_of,
    restrictions_of,
)
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.validate import clean_text
from pigment_cli.rights.requests import (
    DEFAULT_KEEP_CLOSED,
    NOTHING_HELD,
    RequestView,
    get_request,
)
from pigment_cli.store.own import own_files
from pigment_cli.store.seal import store_path_of
from pigment_cli.store.session import Session

if TYPE_CHECKING:
    from collections.abc import Callable

    from jinja2 import BaseLoader

TEMPLATES = ("acknowledgement", "id-request", "clarification", "extension", "completed",
             "refusal", "nothing-held", "restriction-lifting")
FORMATS = ("txt", "html")
PARTIALS = ("_base", "_ico")  # the shared layout and the regulator's paragraph
BREACH_TEMPLATE = "breach-notice"  # to the people a high-risk breach affects (`breach letter`)
# The only names a letter may load (render, extend, include, import): the letters themselves and
# the layout and partials pigment ships. Anything else is no template, whatever file it names.
LOADABLE = frozenset(f"{name}.{fmt}.j2" for name in (*TEMPLATES, BREACH_TEMPLATE, *PARTIALS)
                     for fmt in FORMATS)
_MAX_TEMPLATE_BYTES = 256 * 1024  # a letter template is a page or two of text
TEXT_WIDTH = 72  # plain-text letters are wrapped to this many columns

# The kind of request in plain words, as the letter names it ("Thank you for ...").
KIND_PHRASES = {
    "access": "your request for a copy of your personal data",
    "rectification": "your request to correct your personal data",
    "erasure": "your request to erase your personal data",
    "restriction": "your request to restrict the use of your personal data",
    "portability": "your request to receive your personal data in a portable form",
    "objection": "your objection to our use of your personal data",
    "complaint": "your complaint",
}
# Art. 19: these are passed on to the recipients of the data.
_TOLD_TO_RECIPIENTS = {"rectification": "correction", "erasure": "erasure",
                       "restriction": "restriction"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")
# The step a letter records: it is dated that day, however late it is printed.
_STEP_DAY = {"acknowledgement": "acknowledged_on", "extension": "extended_on"}
_UNITS = {"y": "year", "m": "month", "w": "week", "d": "day"}
# Characters that reorder or hide text (Trojan Source): never part of a name or a reason.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Letter:
    """A rendered letter, and the file it was written to (None: for stdout)."""

    request_id: str
    template: str
    fmt: str
    text: str
    out: Path | None = None


@dataclass(frozen=True)
class _Facts:
    """What a letter needs beyond the request: its date, the text it quotes (`detail`), and the
    restriction a restriction-lifting letter is about and the day it will be lifted."""

    letter_day: date
    today: date
    detail: str | None = None
    restriction: Restriction | None = None
    lift_on: date | None = None


# --- plain values ------------------------------------------------------------------------------


def long_date(value: str | date | None) -> str:
    """`2026-12-02` (or a stored timestamp's day) -> `2 December 2026`; None -> ``."""
    if value is None or value == "":
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def plain(value: Any, *, multiline: bool = False) -> str:
    """A stored value as inert plain text: control characters (escape sequences, NUL, form
    feeds) and bidirectional overrides removed; on one line unless `multiline` (then lines are
    kept, and runs of blank lines collapsed to one)."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    text = _BIDI.sub("", text)
    text = "".join(ch if ch == "\n" or unicodedata.category(ch) != "Cc" else " " for ch in text)
    if not multiline:
        return " ".join(text.split())
    lines = [" ".join(line.split()) for line in text.split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Wrap every line of a plain-text letter to `width` columns, keeping its indentation (a
    paragraph is one line in a template; a quoted reason is indented); runs of blank lines
    become one."""
    out: list[str] = []
    for line in text.split("\n"):
        if not line.strip() and out and not out[-1]:
            continue
        if len(line) <= width:
            out.append(line.rstrip())
            continue
        indent = line[: len(line) - len(line.lstrip(" "))]
        hanging = indent + ("  " if line.lstrip(" ").startswith("- ") else "")
        out.append(textwrap.fill(line.strip(), width, initial_indent=indent,
                                 subsequent_indent=hanging, break_long_words=True,
                                 break_on_hyphens=False))
    return "\n".join(out)


def duration_words(text: str) -> str:
    """A policy duration in words: `2y` -> `2 years`, `1m` -> `1 month`, `30d` -> `30 days`."""
    match = re.fullmatch(r"\s*(\d+)\s*([ymwd])\s*", str(text))
    if not match:
        raise BadInput(f"the policy's duration {text!r} is not one such as 2y, 18m, 6w or 30d")
    number, unit = int(match.group(1)), _UNITS[match.group(2)]
    return f"{number} {unit}{'' if number == 1 else 's'}"


def _stamp_day(stamp: str) -> date:
    """The clinic's day (Europe/London) of a stored UTC timestamp."""
    return london_today(datetime.fromisoformat(stamp))


# --- what each letter needs --------------------------------------------------------------------


def _closed_hint(view: RequestView) -> str:
    return (f"request {view.id} was closed on {view.closed_on}: send the completed, refusal or "
            "nothing-held letter instead")


def _letter_day(view: RequestView, template: str, today: date) -> date:
    """The letter's date: the day of the step it records (acknowledged_on, extended_on) when
    that step is recorded, else today."""
    step = getattr(view, _STEP_DAY[template]) if template in _STEP_DAY else None
    return date.fromisoformat(step) if step else today


def _restriction_to_lift(s: Session, view: RequestView) -> Restriction:
    """The restriction a restriction-lifting letter is about: one in force tied to the request,
    or (for a restriction request) the subject's one in force of the request's scope, or their
    only one (BadInput otherwise: ids and purpose keys only)."""
    active = restrictions_of(s.conn, view.subject_id, active_only=True) if view.subject_id else []
    tied = [r for r in active if r.request_id == view.id]
    if tied:
        return tied[-1]
    if view.kind == "restriction" and active:
        same = [r for r in active if r.purpose == view.purpose]
        if same:
            return same[-1]
        if len(active) == 1:
            return active[0]
        scopes = ", ".join(r.scope for r in active)
        raise BadInput(f"request {view.id}: {view.subject_id} has {len(active)} restrictions in "
                       f"force ({scopes}) and none is tied to this request or of its scope; "
                       "write the letter from a restriction request of the scope to lift "
                       "(request open --kind restriction [--purpose P])")
    who = f"{view.subject_id} has" if view.subject_id else "the person has"
    raise BadInput(f"request {view.id}: {who} no restriction in force "
                   f"{'of its scope' if view.kind == 'restriction' else 'tied to it'} to lift "
                   "(see: pigment subject show)")


def _lift_day(lift_on: str | None, letter_day: date) -> date:
    if lift_on is None or not lift_on.strip():
        raise BadInput("--lift-on is required: the day the restriction will be lifted (UK GDPR "
                       "Art. 18(3): the person is told before)")
    day = parse_date(lift_on, "--lift-on")
    if day <= letter_day:
        raise BadInput(f"--lift-on {day.isoformat()} must be after the letter's date "
                       f"({letter_day.isoformat()}): the person must be told before the "
                       "restriction is lifted (UK GDPR Art. 18(3))")
    return day


def _check(s: Session, view: RequestView, template: str, today: date, detail: str | None,
           lift_on: str | None) -> _Facts:
    """Refuse a letter the request's state does not support (BadInput, exit 2; an extension
    letter after the first month, Refused, exit 3). Returns what the letter needs."""
    closed = view.status == "closed"
    if template in ("id-request", "clarification") and closed:
        raise BadInput(_closed_hint(view))
    if template == "acknowledgement" and closed and not view.acknowledged_on:
        raise BadInput(f"request {view.id} was closed on {view.closed_on} and no acknowledgement "
                       "was recorded: there is no acknowledgement letter to print again")
    if template == "id-request":
        if view.kind == "complaint":
            raise BadInput(f"request {view.id} is a complaint: it has no clock for proof of "
                           "identity to start")
        if view.id_verified_on:
            raise BadInput(f"request {view.id}: proof of identity was received on "
                           f"{view.id_verified_on}; no need to ask for it")
    if template == "clarification":
        if view.kind != "complaint" and view.status != "paused":
            raise BadInput(f"request {view.id} is not paused: record that clarification was asked "
                           f"for first (pigment request pause {view.id} --reason TEXT), so the "
                           "clock stops while you wait")
        text = detail or (view.pauses[-1].reason if view.pauses else None)
        if not text:
            raise BadInput("--detail is required: say what is unclear in the request")
        return _Facts(today, today, text)
    if template == "extension":
        if not view.extended:
            raise BadInput(f"request {view.id} is not extended: extend it first (pigment request "
                           f"extend {view.id} --reason TEXT)")
        # A closed request's extension letter is a copy for the file, dated the day it was
        # extended; an open one is being sent now, and must reach the person in the first month.
        if not closed and today > date.fromisoformat(view.one_month_due):
            raise Refused(f"request {view.id}: its first month ended on {view.one_month_due}; "
                          "the person must be told of an extension within it (UK GDPR Art. "
                          "12(3)), so pigment will not date a letter after it")
    if template == "completed":
        if not closed:
            raise BadInput(f"request {view.id} is still open: close it first (pigment request "
                           f"close {view.id} --outcome ...)")
        if view.outcome == "refused":
            raise BadInput(f"request {view.id} was refused: use --template refusal")
        if view.outcome == NOTHING_HELD:
            raise BadInput(f"request {view.id} was closed as nothing held: use --template "
                           "nothing-held")
    if template == "refusal" and not (closed and view.outcome == "refused"):
        raise BadInput(f"request {view.id} was not closed as refused (pigment request close "
                       f"{view.id} --outcome refused --reason TEXT)")
    if template == "nothing-held":
        if view.subject_id is not None:
            raise BadInput(f"request {view.id} is about subject {view.subject_id}: nothing-held "
                           "is for a person the clinic holds nothing on (request open --unknown)")
        if view.kind == "complaint":
            raise BadInput(f"request {view.id} is a complaint: answer it with --template completed")
        if not closed:  # closing checks that nobody in the store has their name or email
            raise BadInput(f"request {view.id} is still open: close it as nothing-held first "
                           f"(pigment request close {view.id}), which checks that nobody in the "
                           "store has the same name or email")
        if view.outcome != NOTHING_HELD:
            raise BadInput(f"request {view.id} was closed as {view.outcome}, not nothing-held")
    if template == "restriction-lifting":
        restriction = _restriction_to_lift(s, view)
        return _Facts(today, today, detail, restriction, _lift_day(lift_on, today))
    return _Facts(_letter_day(view, template, today), today)


def _senders(controller: dict[str, Any], authority: dict[str, Any]) -> dict[str, Any]:
    """The clinic (from the policy's controller) and the regulator (its supervisory authority),
    as every letter's layout shows them: plain text only."""
    return {
        "clinic": {
            "name": plain(controller.get("name")),
            "address_lines": [ln for ln in plain(controller.get("address"),
                                                 multiline=True).split("\n") if ln],
            "email": plain(controller.get("email")),
            "phone": plain(controller.get("phone")),
        },
        "authority": {key: plain(authority.get(key))
                      for key in ("name", "address", "phone", "website")},
    }


def _person(s: Session, view: RequestView) -> dict[str, Any]:
    """Who the letter is addressed to: the subject's name (and postal address) while they are in
    the store, else the name kept with the request."""
    name: str | None = view.person_name
    address: str | None = None
    if view.subject_id is not None:
        try:
            subject = get_subject(s.conn, view.subject_id)
        except NotFound:  # erased since: the request outlives them
            subject = None
        if subject is not None:
            name, address = subject.name, subject.address
    name_text = plain(name)
    lines = [line for line in plain(address, multiline=True).split("\n") if line]
    return {"name": name_text, "address_lines": lines,
            "salutation": name_text or "Sir or Madam",
            "in_store": view.subject_id is not None,
            "email_held": bool(view.person_email) and view.subject_id is None}


def _purpose_key(s: Session, view: RequestView) -> str | None:
    """The purpose the request is about: its --purpose, else (an objection) the purpose of the
    objection recorded against it."""
    if view.purpose or view.kind != "objection" or view.subject_id is None:
        return view.purpose
    tied = [o for o in objections_of(s.conn, view.subject_id) if o.request_id == view.id]
    return tied[-1].purpose if tied else None


def _objection_ground(policy: Policy, key: str | None) -> str:
    """Which rule answers an objection to `key`: direct_marketing (Art. 21(2)-(3), absolute),
    consent (a withdrawal, Art. 7(3)), legitimate_interests or public_task (Art. 21(1)); ``
    when the purpose is unknown or carries no right to object."""
    purpose = policy.find_purpose(key)
    if purpose is None:
        return ""
    if purpose.direct_marketing:
        return DIRECT_MARKETING
    if purpose.rests_on_consent:
        return CONSENT
    return purpose.basis if purpose.basis in OBJECTABLE_BASES else ""


def _kept(policy: Policy, view: RequestView) -> list[str]:
    """The categories of data an erasure kept, as the policy names them, when its `erase`
    actions record them (`kept`: [{"category": ...}] or `kept_categories`: [...])."""
    labels: list[str] = []
    for action in view.actions:
        if action["action"] != "erase" or not isinstance(action["detail"], dict):
            continue
        detail = action["detail"]
        entries = detail.get("kept") or detail.get("kept_categories") or []
        for entry in entries if isinstance(entries, list) else []:
            key = entry.get("category") if isinstance(entry, dict) else entry
            label = plain(policy.label_or_key("categories", key)) if isinstance(key, str) else ""
            if label and label not in labels:
                labels.append(label)
    return labels


def _context(s: Session, view: RequestView, template: str, fmt: str,
             facts: _Facts) -> dict[str, Any]:
    policy = s.policy
    controller, authority = policy.controller, policy.authority
    key = _purpose_key(s, view)
    purpose = policy.find_purpose(key)
    phrase = KIND_PHRASES[view.kind]
    if purpose is not None:
        phrase += f" (for: {purpose.label})"
    elif key:
        phrase += f" (for: {key})"
    paused_on = next((p.paused_on for p in reversed(view.pauses) if p.resumed_on is None), None)
    # What the acknowledgement said then: the one-month date, unless already extended.
    extended_then = view.extended and (view.extended_on or "") <= facts.letter_day.isoformat()
    restriction = facts.restriction
    lifted_scope = policy.find_purpose(restriction.purpose) if restriction else None
    return {
        "fmt": fmt,
        "template": template,
        "letter_date": long_date(facts.letter_day),
        # A letter dated the day of an earlier step is a copy: it says when it was printed.
        "printed_date": long_date(facts.today) if facts.letter_day != facts.today else "",
        **_senders(controller, authority),
        "person": _person(s, view),
        "request": {
            # Never the request's note: it is the clinic's internal summary.
            "id": view.id,
            "kind": view.kind,
            "phrase": plain(phrase),
            "heading": plain(phrase[:1].upper() + phrase[1:]),
            "purpose": plain(purpose.label if purpose else key),
            "direct_marketing": bool(purpose and purpose.direct_marketing),
            "objection_ground": _objection_ground(policy, key),
            "received": long_date(view.received_on),
            "due": long_date(view.due),
            "ack_due": long_date(view.due if extended_then else view.one_month_due),
            "one_month_due": long_date(view.one_month_due),
            "extended": view.extended,
            "extension_reason": plain(view.extension_reason, multiline=True),
            "paused_on": long_date(paused_on),
            "closed": long_date(view.closed_on),
            "outcome": view.outcome or ("done" if view.status == "closed" else ""),
            "outcome_reason": plain(view.outcome_reason, multiline=True),
            "kept": _kept(policy, view) if view.kind == "erasure" else [],
            "keep_closed": duration_words(str(policy.request_setting("keep_closed",
                                                                     DEFAULT_KEEP_CLOSED))),
            "recipient_event": _TOLD_TO_RECIPIENTS.get(view.kind, ""),
            "recipients": len({n["recipient"] for n in view.notices}),
        },
        "restriction": {
            "id": restriction.id if restriction else None,
            "all_purposes": bool(restriction and restriction.purpose is None),
            "purpose": plain(lifted_scope.label if lifted_scope else
                             (restriction.purpose if restriction else "")),
            "since": long_date(_stamp_day(restriction.started_at)) if restriction else "",
            "lift_on": long_date(facts.lift_on),
        },
        "detail": plain(facts.detail, multiline=True),
    }


# --- rendering ---------------------------------------------------------------------------------


def letters_folder(s: Session) -> Path | None:
    """The clinic's folder of letter templates (`[letters] folder`, relative to the store's
    directory), or None. BadInput (exit 2) if it is set but is not a folder."""
    folder = s.policy.letters_folder()
    if folder is None:
        return None
    store = s.path or store_path_of(s.conn)
    path = (Path(store).parent / Path(folder).expanduser()).resolve()
    if not path.is_dir():
        raise BadInput(f"the policy's [letters] folder {folder!r} is not a folder (looked for "
                       f"{path}); create it or change the policy")
    return path


def _override(folder: Path, name: str) -> str | None:
    """The clinic's own template `name` (one of LOADABLE) in its `[letters] folder`, or None when
    it has none. Only a regular file of its own directly in the folder is read: a symbolic link, a
    hard link (a second name for another file, such as the audit key), anything that resolves
    outside the folder, or a file that is not UTF-8 text is BadInput (exit 2), so a template can
    never bring another file into a letter."""
    where = f"letter template {name} in the [letters] folder"
    path = folder / name
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BadInput(f"{where} cannot be read ({exc.strerror})") from None
    if stat.S_ISLNK(info.st_mode):
        raise BadInput(f"{where} is a symbolic link; pigment reads only a file of its own there "
                       "(copy the template into the folder)")
    if not stat.S_ISREG(info.st_mode):
        raise BadInput(f"{where} is not a regular file")
    if path.resolve().parent != folder.resolve():
        raise BadInput(f"{where} resolves outside the folder")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise BadInput(f"{where} cannot be read ({exc.strerror})") from None
    try:
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or \
                not stat.S_ISREG(opened.st_mode):
            raise BadInput(f"{where} changed while it was read; try again")
        if opened.st_nlink > 1:
            raise BadInput(f"{where} is a hard link (the file has another name too); pigment "
                           "reads only a file of its own there (copy the template into the "
                           "folder)")
        if opened.st_size > _MAX_TEMPLATE_BYTES:
            raise BadInput(f"{where} is larger than {_MAX_TEMPLATE_BYTES // 1024} KiB; a letter "
                           "template is a page or two of text")
        data = b""
        while chunk := os.read(fd, _MAX_TEMPLATE_BYTES + 1 - len(data)):
            data += chunk
            if len(data) > _MAX_TEMPLATE_BYTES:
                raise BadInput(f"{where} is larger than {_MAX_TEMPLATE_BYTES // 1024} KiB")
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{where} is not UTF-8 text") from None


def _loader(folder: Path | None) -> BaseLoader:
    """Serves the names in LOADABLE only: the clinic's own file of that name if it has one
    (`_override`), else pigment's. Any other name, whatever it points at, is not found."""
    from jinja2 import BaseLoader, PackageLoader, TemplateNotFound  # lazy for start-up

    built_in = PackageLoader("pigment_cli", "templates/letters")

    class LetterLoader(BaseLoader):
        def get_source(self, environment: Any,
                       template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
            if template not in LOADABLE:
                raise TemplateNotFound(template)
            own = _override(folder, template) if folder is not None else None
            if own is not None:
                return own, None, None
            return built_in.get_source(environment, template)

    return LetterLoader()


def _render(folder: Path | None, name: str, context: dict[str, Any]) -> str:
    from jinja2 import (
        StrictUndefined,
        TemplateError,
        TemplateNotFound,
        TemplateSyntaxError,
        UndefinedError,
    )
    from jinja2.sandbox import ImmutableSandboxedEnvironment  # lazy for start-up

    env = ImmutableSandboxedEnvironment(
        loader=_loader(folder),
        # Every value is text, never markup: HTML letters escape it; plain ones are plain already.
        autoescape=lambda template: bool(template and template.endswith(".html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=lambda value: "" if value is None else value,
    )
    try:
        return env.get_template(name).render(**context)
    except TemplateSyntaxError as exc:
        where = f"{exc.name or name}, line {exc.lineno}"
        raise BadInput(f"letter template {where}: {' '.join(str(exc.message).split())}") from None
    except TemplateNotFound as exc:
        asked = repr(exc.name) if isinstance(exc.name, str) and len(exc.name) <= 60 else \
            "by that name"
        raise BadInput(f"letter template {name}: there is no template {asked} (a letter may "
                       "extend, include or import only the letter templates and "
                       f"{', '.join(PARTIALS)}.txt.j2 / .html.j2)") from None
    except UndefinedError as exc:
        # Only a bare "'x' is undefined" is safe to repeat: other messages may quote a value.
        said = exc.message or ""
        why = said if re.fullmatch(r"'[A-Za-z_][A-Za-z0-9_]*' is undefined", said) else \
            "it uses a name or field the letter does not have"
        raise BadInput(f"letter template {name}: {why}") from None
    except TemplateError as exc:
        raise BadInput(f"letter template {name} cannot be rendered ({type(exc).__name__})") from None
    except (ArithmeticError, LookupError, TypeError, ValueError, RuntimeError) as exc:
        # an override's mistake (RuntimeError: one that includes itself, endlessly)
        raise BadInput(f"letter template {name} failed while rendering "
                       f"({type(exc).__name__})") from None


def _template_name(template: str, fmt: str) -> tuple[str, str]:
    key = (template or "").strip().lower()
    if key not in TEMPLATES:
        raise BadInput(f"unknown letter template {template!r}; use one of: {', '.join(TEMPLATES)}")
    kind = (fmt or "").strip().lower()
    if kind not in FORMATS:
        raise BadInput(f"unknown --format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return key, kind


def _letter(s: Session, request_id: str, template: str, fmt: str, detail: str | None,
            lift_on: str | None) -> tuple[RequestView, str, str, str, _Facts]:
    template, fmt = _template_name(template, fmt)
    text = clean_text(detail, "--detail", multiline=True) if detail is not None else None
    if text and template not in ("clarification", "restriction-lifting"):
        raise BadInput("--detail is for the clarification and restriction-lifting letters only")
    if lift_on is not None and template != "restriction-lifting":
        raise BadInput("--lift-on is for the restriction-lifting letter only")
    view = get_request(s, request_id)
    facts = _check(s, view, template, london_today(s.now), text, lift_on)
    body = _render(letters_folder(s), f"{template}.{fmt}.j2",
                   _context(s, view, template, fmt, facts))
    if fmt == "txt":
        body = wrap_text(body)
    return view, template, fmt, body.rstrip("\n") + "\n", facts


def _check_out(out: Path, protected: list[Path]) -> None:
    """Everything that can be known before a letter is written to `out`, checked before its audit
    entry is made: not one of the store's own files or anything but a new file, a name the
    filesystem takes, in a folder that exists and can be written to (BadInput, exit 2)."""
    shown = shown_path(out)
    try:
        check_output(out, protected)
        if os.path.lexists(out):
            raise BadInput(f"--out {shown} already exists; pigment never overwrites a letter: "
                           "choose a new name")
        parent = out.parent
        if out.name in ("", ".", ".."):
            raise BadInput(f"--out {shown} is a folder; give a file name")
        if not parent.is_dir():
            raise BadInput(f"--out {shown}: there is no folder {shown_path(parent)}")
        limit = os.pathconf(parent, "PC_NAME_MAX")
        if len(os.fsencode(out.name)) > limit:
            raise BadInput(f"cannot write --out {shown}: the file name is longer than the "
                           f"{limit} bytes the folder allows")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise BadInput(f"cannot write --out {shown}: the folder {shown_path(parent)} is not "
                           "writable")
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte...
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a usable name"
        raise BadInput(f"cannot write --out {shown}: {why}") from None


def render_letter(s: Session, request_id: str, template: str, fmt: str = "txt", *,
                  detail: str | None = None, lift_on: str | None = None) -> str:
    """The letter `template` for the request, ready to send (unaudited: `issue_letter` audits).
    `detail`: for a clarification, what is unclear (default: the latest pause's reason); for a
    restriction-lifting letter, why it will be lifted. `lift_on` (restriction-lifting only,
    required there): the day the restriction will be lifted, after the letter's date."""
    return _letter(s, request_id, template, fmt, detail, lift_on)[3]


def issue_letter(s: Session, request_id: str, template: str, fmt: str = "txt", *,
                 detail: str | None = None, lift_on: str | None = None,
                 out: Path | None = None) -> Letter:
    """Render a letter and record that it was issued ("request letter": the request id and the
    template, and the restriction's id for a restriction-lifting letter). With `out`, write it
    to that new file (mode 0600; never over an existing file: BadInput). The audit entry is
    committed before the file appears."""
    if out is not None:
        _check_out(out, own_files(s.path or store_path_of(s.conn)))
    view, template, fmt, text, facts = _letter(s, request_id, template, fmt, detail, lift_on)
    ids: dict[str, Any] = {"restriction": facts.restriction.id} if facts.restriction else {}
    s.audit("request letter", view.subject_id, request=view.id, template=template, **ids)
    if out is None:
        return Letter(view.id, template, fmt, text)
    _write_after_audit(s, out, text)
    return Letter(view.id, template, fmt, text, out)


def _write_after_audit(s: Session, out: Path, text: str) -> None:
    """Commit the letter's audit entry, then write it to `out`: a new file, mode 0600."""
    s.commit_so_far()  # on record before the letter exists
    try:
        write_new_private(out, text.encode("utf-8"))
    except FileExistsError:
        raise BadInput(f"--out {shown_path(out)} already exists; choose a new name") from None
    except OSError as exc:
        raise BadInput(f"cannot write {shown_path(out)}: {exc.strerror}") from None


# --- the notice to the people a breach affects (UK GDPR Art. 34) ------------------------------

# The ICO's three kinds of breach, in the words a patient reads ("On 23 November 2026, ...").
_NATURE_PHRASES = {
    "confidentiality": "information about you was disclosed to, or could be seen by, someone "
                       "who should not have had it",
    "integrity": "information about you was changed or damaged without authorisation",
    "availability": "information about you was lost, or could not be reached when it was needed",
}


@dataclass(frozen=True)
class BreachLetter:
    """A rendered breach notice, whom it is for (None: "Dear patient", for a mail merge) and the
    file it was written to (None: for stdout)."""

    breach_id: str
    subject_id: str | None
    fmt: str
    text: str
    out: Path | None = None


def _breach_addressee(s: Session, breach: Breach, subject_id: str | None) -> dict[str, Any]:
    """The person the notice is addressed to: a subject linked to the breach (BadInput, exit 2,
    for any other), or nobody in particular ("Dear patient")."""
    if subject_id is None:
        return {"name": "", "address_lines": [], "salutation": "patient", "in_store": False,
                "email_held": False}
    key = subject_id.strip().upper()
    if key not in breach.subject_ids:
        shown = key if re.fullmatch(r"S-[0-9A-Z]{5}", key) else "with that id"
        raise BadInput(f"subject {shown} is not linked to breach {breach.id}; write to one of "
                       "its subjects (pigment breach show), or leave out --subject for a letter "
                       "to \"Dear patient\"")
    subject = get_subject(s.conn, key)
    name = plain(subject.name)
    lines = [line for line in plain(subject.address, multiline=True).split("\n") if line]
    return {"name": name, "address_lines": lines, "salutation": name or "patient",
            "in_store": True, "email_held": False}


def _breach_context(s: Session, breach: Breach, person: dict[str, Any],
                    fmt: str) -> dict[str, Any]:
    policy = s.policy
    controller, authority = policy.controller, policy.authority
    today = london_today(s.now)
    natures = [_NATURE_PHRASES[n] for n in breach.nature if n in _NATURE_PHRASES]
    return {
        "fmt": fmt,
        "template": BREACH_TEMPLATE,
        "letter_date": long_date(today),
        "printed_date": "",
        **_senders(controller, authority),
        "contact": {"dpo": plain(controller.get("dpo"))},
        "person": person,
        # The layout's "Our reference": the breach's id.
        "request": {"id": breach.id},
        "breach": {
            "id": breach.id,
            "nature_phrase": plain(", and ".join(natures) or _NATURE_PHRASES["confidentiality"]),
            "occurred": long_date((london_text(breach.occurred_at) or "")[:10] or None),
            "aware": long_date((london_text(breach.aware_at) or "")[:10]),
            "categories": [plain(policy.label_or_key("categories", c)) for c in breach.categories],
            "description": plain(breach.description, multiline=True),
            "consequences": plain(breach.consequences, multiline=True),
            "measures": plain(breach.measures, multiline=True),
        },
    }


def _breach_letter(s: Session, breach_id: str, subject_id: str | None,
                   fmt: str) -> tuple[Breach, str | None, str, str]:
    kind = (fmt or "").strip().lower()
    if kind not in FORMATS:
        raise BadInput(f"unknown --format {fmt!r}; use one of: {', '.join(FORMATS)}")
    breach = find_breach(s.conn, breach_id)
    if breach.risk != "high":
        raise Refused(f"breach {breach.id} is assessed {breach.risk or 'not yet'}, not high: "
                      "UK GDPR Art. 34 (telling the people affected) applies to high risk only "
                      f"(pigment breach assess {breach.id} --risk high --reason ...)")
    person = _breach_addressee(s, breach, subject_id)
    unwritten = [flag for flag, text in (("--consequences", breach.consequences),
                                         ("--measures", breach.measures)) if not text]
    if unwritten:
        raise BadInput(f"breach {breach.id}: the letter must tell people the likely consequences "
                       "and the measures taken (UK GDPR Art. 34(2)); record them first: pigment "
                       f"breach update {breach.id} {' ... '.join(unwritten)} ...")
    body = _render(letters_folder(s), f"{BREACH_TEMPLATE}.{kind}.j2",
                   _breach_context(s, breach, person, kind))
    if kind == "txt":
        body = wrap_text(body)
    linked = subject_id.strip().upper() if subject_id is not None else None
    return breach, linked, kind, body.rstrip("\n") + "\n"


def render_breach_letter(s: Session, breach_id: str, subject_id: str | None = None,
                         fmt: str = "txt") -> str:
    """The notice to the people breach `breach_id` affects (unaudited: `issue_breach_letter`
    audits). Refused (exit 3) unless the breach is assessed high risk; BadInput (exit 2) for a
    subject not linked to it, or while its consequences or measures are not recorded."""
    return _breach_letter(s, breach_id, subject_id, fmt)[3]


def issue_breach_letter(s: Session, breach_id: str, subject_id: str | None = None,
                        fmt: str = "txt", *, out: Path | None = None) -> BreachLetter:
    """Render the breach notice and record that it was issued ("breach letter": the breach's id,
    under the subject's id when addressed to one). With `out`, write it to that new file (mode
    0600; never over an existing file: BadInput). The audit entry is committed before the file
    appears."""
    if out is not None:
        _check_out(out, own_files(s.path or store_path_of(s.conn)))
    breach, linked, fmt, text = _breach_letter(s, breach_id, subject_id, fmt)
    s.audit("breach letter", linked, breach=breach.id)
    if out is None:
        return BreachLetter(breach.id, linked, fmt, text)
    _write_after_audit(s, out, text)
    return BreachLetter(breach.id, linked, fmt, text, out)
