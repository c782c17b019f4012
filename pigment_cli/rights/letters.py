"""Letters to the person behind a request: acknowledgement, proof of identity, clarification,
extension, completion, refusal and "nothing held", in the clinic's name, as plain text or HTML.

The words are Jinja2 templates (`templates/letters/<name>.<fmt>.j2`, package data); a clinic can
override any of them with a file of the same name in the policy's `[letters] folder`. Rendering
is sandboxed, HTML is autoescaped, and every value from the store is made plain first (control
and bidirectional-override characters removed; one-line values kept on one line), so a hostile
name or reason can neither inject markup nor forge the letter's layout. Audit entries carry the
request id and the template only.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pigment_cli.clock import london_today
from pigment_cli.errors import BadInput, NotFound, Refused
from pigment_cli.files import check_output, write_new_private
from pigment_cli.records.subjects import get_subject
from pigment_cli.records.validate import clean_text
from pigment_cli.rights.requests import NOTHING_HELD, RequestView, get_request
from pigment_cli.store.own import own_files
from pigment_cli.store.seal import store_path_of
from pigment_cli.store.session import Session

if TYPE_CHECKING:
    from jinja2 import BaseLoader

TEMPLATES = ("acknowledgement", "id-request", "clarification", "extension", "completed",
             "refusal", "nothing-held")
FORMATS = ("txt", "html")
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


# --- what each letter needs --------------------------------------------------------------------


def _closed_hint(view: RequestView) -> str:
    return (f"request {view.id} was closed on {view.closed_on}: send the completed, refusal or "
            "nothing-held letter instead")


def _check(view: RequestView, template: str, today: date, detail: str | None) -> str | None:
    """Refuse a letter the request's state does not support (BadInput, exit 2; an extension
    letter after the first month, Refused, exit 3). Returns the clarification's text."""
    closed = view.status == "closed"
    if template in ("acknowledgement", "id-request", "clarification") and closed:
        raise BadInput(_closed_hint(view))
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
        return text
    if template == "extension":
        if not view.extended:
            raise BadInput(f"request {view.id} is not extended: extend it first (pigment request "
                           f"extend {view.id} --reason TEXT)")
        if closed:
            raise BadInput(_closed_hint(view))
        if today > date.fromisoformat(view.one_month_due):
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
        if closed and view.outcome != NOTHING_HELD:
            raise BadInput(f"request {view.id} was closed as {view.outcome}, not nothing-held")
    return None


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
            "email_held": bool(view.person_email) and view.subject_id is None}


def _context(s: Session, view: RequestView, template: str, fmt: str,
             detail: str | None) -> dict[str, Any]:
    policy = s.policy
    controller, authority = policy.controller, policy.authority
    purpose = policy.find_purpose(view.purpose)
    phrase = KIND_PHRASES[view.kind]
    if purpose is not None:
        phrase += f" (for: {purpose.label})"
    elif view.purpose:
        phrase += f" (for: {view.purpose})"
    paused_on = next((p.paused_on for p in reversed(view.pauses) if p.resumed_on is None), None)
    return {
        "fmt": fmt,
        "template": template,
        "letter_date": long_date(london_today(s.now)),
        "clinic": {
            "name": plain(controller.get("name")),
            "address_lines": [ln for ln in plain(controller.get("address"),
                                                 multiline=True).split("\n") if ln],
            "email": plain(controller.get("email")),
            "phone": plain(controller.get("phone")),
        },
        "authority": {
            "name": plain(authority.get("name")),
            "address": plain(authority.get("address")),
            "phone": plain(authority.get("phone")),
            "website": plain(authority.get("website")),
        },
        "person": _person(s, view),
        "request": {
            "id": view.id,
            "kind": view.kind,
            "phrase": plain(phrase),
            "heading": plain(phrase[:1].upper() + phrase[1:]),
            "purpose": plain(purpose.label if purpose else view.purpose),
            "direct_marketing": bool(purpose and purpose.direct_marketing),
            "note": plain(view.note, multiline=True),
            "received": long_date(view.received_on),
            "due": long_date(view.due),
            "one_month_due": long_date(view.one_month_due),
            "extended": view.extended,
            "extension_reason": plain(view.extension_reason, multiline=True),
            "paused_on": long_date(paused_on),
            "closed": long_date(view.closed_on),
            "outcome": view.outcome or ("done" if view.status == "closed" else ""),
            "outcome_reason": plain(view.outcome_reason, multiline=True),
            "recipient_event": _TOLD_TO_RECIPIENTS.get(view.kind, ""),
            "recipients": len({n["recipient"] for n in view.notices}),
        },
        "detail": plain(detail, multiline=True),
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


def _loader(folder: Path | None) -> BaseLoader:
    from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader  # lazy for start-up

    built_in = PackageLoader("pigment_cli", "templates/letters")
    if folder is None:
        return built_in
    return ChoiceLoader([FileSystemLoader(str(folder)), built_in])


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
        raise BadInput(f"letter template {name}: there is no template {exc.name!r}") from None
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


def _letter(s: Session, request_id: str, template: str, fmt: str,
            detail: str | None) -> tuple[RequestView, str, str, str]:
    template, fmt = _template_name(template, fmt)
    text = clean_text(detail, "--detail", multiline=True) if detail is not None else None
    if text and template != "clarification":
        raise BadInput("--detail is for the clarification letter only")
    view = get_request(s, request_id)
    clarification = _check(view, template, london_today(s.now), text)
    body = _render(letters_folder(s), f"{template}.{fmt}.j2",
                   _context(s, view, template, fmt, clarification))
    if fmt == "txt":
        body = wrap_text(body)
    return view, template, fmt, body.rstrip("\n") + "\n"


def render_letter(s: Session, request_id: str, template: str, fmt: str = "txt", *,
                  detail: str | None = None) -> str:
    """The letter `template` for the request, ready to send (unaudited: `issue_letter` audits).
    `detail` (clarification only) says what is unclear; default: the latest pause's reason."""
    return _letter(s, request_id, template, fmt, detail)[3]


def issue_letter(s: Session, request_id: str, template: str, fmt: str = "txt", *,
                 detail: str | None = None, out: Path | None = None) -> Letter:
    """Render a letter and record that it was issued ("request letter": the request id and the
    template). With `out`, write it to that new file (mode 0600; never over an existing file:
    BadInput). The audit entry is committed before the file appears."""
    if out is not None:
        check_output(out, own_files(s.path or store_path_of(s.conn)))
        if out.exists() or out.is_symlink():
            raise BadInput(f"--out {out} already exists; pigment never overwrites a letter: "
                           "choose a new name")
        if not out.parent.is_dir():
            raise BadInput(f"--out {out}: there is no folder {out.parent}")
    view, template, fmt, text = _letter(s, request_id, template, fmt, detail)
    s.audit("request letter", view.subject_id, request=view.id, template=template)
    if out is None:
        return Letter(view.id, template, fmt, text)
    s.commit_so_far()  # on record before the letter exists
    try:
        write_new_private(out, text.encode("utf-8"))
    except FileExistsError:
        raise BadInput(f"--out {out} already exists; choose a new name") from None
    except OSError as exc:
        raise BadInput(f"cannot write {out}: {exc.strerror}") from None
    return Letter(view.id, template, fmt, text, out)
