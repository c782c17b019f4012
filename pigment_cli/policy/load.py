"""Loading and validating a policy: TOML parsed, checked with line-precise problems, and the
built-in default (`data/default_policy.toml`, the Pigment.lab privacy policy)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from pigment_cli.errors import BadInput
from pigment_cli.policy.model import (
    BASES,
    NHS_ADULT_HEALTH_YEARS,
    REGISTER_KEEPS,
    REPORT_TEXT_KEYS,
    REQUIRED_KEYS,
    Policy,
    PolicyProblem,
    _duration_days,
    parse_duration,
)


def default_source() -> str:
    return resources.files("pigment_cli").joinpath("data/default_policy.toml").read_text("utf-8")


def line_of(source: str, dotted_key: str) -> int | None:
    """The 1-based line where `dotted_key` (e.g. `purposes.care.basis`) is defined in TOML source.

    Understands table headers (`[a.b]`) and `key = value` lines, which is how policy files are
    written; returns the table's header line when the key itself is missing.
    """
    parts = dotted_key.split(".")
    table: list[str] = []
    best_line, best_len = None, 0
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    assign = re.compile(r"^\s*([A-Za-z0-9_\-\.\"']+)\s*=")
    for number, line in enumerate(source.splitlines(), start=1):
        if match := header.match(line):
            table = [p.strip().strip("\"'") for p in match.group(1).split(".")]
            key = table
        elif match := assign.match(line):
            key = table + [p.strip().strip("\"'") for p in match.group(1).split(".")]
            if key == parts:
                return number
        else:
            continue
        if parts[: len(key)] == key and len(key) > best_len:
            best_line, best_len = number, len(key)
    return best_line


def _check(data: dict[str, Any], source: str, *, stored: bool = False) -> list[PolicyProblem]:
    problems: list[PolicyProblem] = []

    def error(key: str, message: str) -> None:
        problems.append(PolicyProblem("error", key, line_of(source, key), message))

    def warn(key: str, message: str) -> None:
        problems.append(PolicyProblem("warning", key, line_of(source, key), message))

    if not isinstance(data.get("version"), str | int) or str(data.get("version", "")).strip() == "":
        error("version", "missing: the policy (notice) version, e.g. version = \"2026-11\"")
    for table, keys in (
        ("controller", ("name", "address", "email")),
        ("supervisory_authority", ("name", "website")),
    ):
        section = data.get(table)
        if not isinstance(section, dict):
            error(table, f"missing table [{table}]")
            continue
        for key in keys:
            if not isinstance(section.get(key), str) or not section[key].strip():
                error(f"{table}.{key}", "missing or empty text")
    for kind, required in REQUIRED_KEYS.items():
        section = data.get(kind)
        if not isinstance(section, dict):
            error(kind, f"missing table [{kind}.*]")
            continue
        for key in required:
            if key not in section:
                error(f"{kind}.{key}", f"missing: the design's {kind} must all be present")
        for key, entry in section.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
                error(f"{kind}.{key}", "keys are lower_snake_case")
            if not isinstance(entry, dict):
                error(f"{kind}.{key}", "must be a table with at least a label")
            elif not isinstance(entry.get("label"), str):
                error(f"{kind}.{key}.label", "missing label text")
    purposes = data.get("purposes")
    if isinstance(purposes, dict):
        for key, entry in purposes.items():
            if not isinstance(entry, dict):
                continue
            basis = entry.get("basis")
            if basis not in BASES:
                error(f"purposes.{key}.basis", f"{basis!r} is not a lawful basis; use one of: "
                      + ", ".join(BASES))
            if "categories" not in entry:  # a purpose uses only the categories listed for it
                (warn if stored else error)(f"purposes.{key}.categories",
                                            "missing: list the categories of data this purpose "
                                            "may use (UK GDPR Art. 5(1)(b)-(c))")
            used = entry.get("categories", [])
            categories = data.get("categories")
            known = categories if isinstance(categories, dict) else {}
            if not isinstance(used, list) or any(c not in known for c in used):
                error(f"purposes.{key}.categories", "a list of this policy's category keys")
            if entry.get("written_consent") and basis != "consent":
                error(f"purposes.{key}.written_consent", "only a consent purpose can need it")
            if entry.get("specific") and basis != "consent":
                error(f"purposes.{key}.specific", "only a consent purpose can be specific")
            if "keep_on_erasure" in entry:
                # A policy already in force in a store was valid when applied: a ground this
                # version refuses is a warning there (`pigment check` reports it), not an outage.
                _check_grounds(f"purposes.{key}.keep_on_erasure", entry["keep_on_erasure"],
                               warn if stored else error, warn)
            on_contract = basis == "contract" or bool(entry.get("medical"))
            recipient_types = data.get("recipient_types")
            recipient_types = recipient_types if isinstance(recipient_types, dict) else {}
            if "recipients" in entry:
                sent_to = entry["recipients"]
                if not isinstance(sent_to, list) or any(
                    not isinstance(r, str) or r not in recipient_types for r in sent_to
                ):
                    error(f"purposes.{key}.recipients",
                          "a list of this policy's recipient type keys, e.g. [\"laboratory\"]")
                elif not on_contract:
                    error(f"purposes.{key}.recipients", "only a purpose resting on the treatment "
                          "contract has recipients; other disclosures need written consent or a "
                          "legal requirement")
            elif on_contract:
                warn(f"purposes.{key}",
                     "no recipients = [...]: no recipient type may receive its data on the "
                     "contract, so every disclosure for it needs written consent or "
                     "--legal-requirement")
        for key in ("care", "medical_records", "medical_referral", "payment", "debt_collection"):
            entry = purposes.get(key)
            if isinstance(entry, dict) and entry.get("basis") == "consent":
                error(f"purposes.{key}.basis", "rests on the treatment contract, not on consent")
        for key in ("newsletter", "satisfaction_survey", "personalised_ads", "cookies",
                    "third_party_non_medical"):
            entry = purposes.get(key)
            if isinstance(entry, dict) and entry.get("basis") != "consent":
                error(f"purposes.{key}.basis", "a non-medical use needs consent (UK GDPR "
                      "Art. 6(1)(a); for health data, explicit consent under Art. 9(2)(a))")
        entry = purposes.get("third_party_non_medical")
        if isinstance(entry, dict) and not entry.get("written_consent"):
            error("purposes.third_party_non_medical.written_consent",
                  "the privacy policy promises written consent: set written_consent = true")
    retention = data.get("retention")
    if not isinstance(retention, dict):
        error("retention", "missing table [retention]")
    else:
        try:
            parse_duration(retention.get("default", ""))
            if _duration_days(retention["default"]) < NHS_ADULT_HEALTH_YEARS * 365.25:
                warn("retention.default",
                     f"{retention['default']} is shorter than the NHS Records Management Code's "
                     f"benchmark for adult health records ({NHS_ADULT_HEALTH_YEARS} years after "
                     "treatment ends); kept as the clinic chose")
        except ValueError as exc:
            error("retention.default", str(exc))
        if "minors" not in retention:
            warn("retention",
                 "no age-based rule for children's records (NHS Records Management Code: until "
                 "the 25th birthday, or the 26th if 17 when treatment ended); add "
                 "[retention.minors] until_age = 25, until_age_if_17 = 26 to keep them so")
        for category, rule in (retention.get("categories") or {}).items():
            key = f"retention.categories.{category}"
            if isinstance(data.get("categories"), dict) and category not in data["categories"]:
                error(key, f"{category!r} is not a category of this policy")
            if not isinstance(rule, dict):
                error(key, "must be a table with `after`")
                continue
            try:
                parse_duration(rule.get("after", ""))
            except ValueError as exc:
                error(f"{key}.after", str(exc))
        minors = retention.get("minors")
        if minors is not None:
            if not isinstance(minors, dict) or not isinstance(minors.get("until_age"), int):
                error("retention.minors.until_age", "a whole number of years, e.g. 25")
            elif "until_age_if_17" in minors and not isinstance(minors["until_age_if_17"], int):
                error("retention.minors.until_age_if_17", "a whole number of years, e.g. 26")
    requests = data.get("requests", {})
    if not isinstance(requests, dict):
        error("requests", "must be a table")
    else:
        for key in ("internal_target_days", "complaint_reply_days"):
            if key in requests and (not isinstance(requests[key], int)
                                    or isinstance(requests[key], bool) or requests[key] < 1):
                error(f"requests.{key}", "a whole number of days, at least 1")
        if "keep_closed" in requests:
            try:
                parse_duration(requests["keep_closed"])
            except ValueError as exc:
                error("requests.keep_closed", f"{exc} (how long a closed request of someone no "
                      "longer in the store is kept)")
    copies = data.get("copies", {})
    if not isinstance(copies, dict):
        error("copies", "must be a table")
    elif "keep" in copies:
        try:
            parse_duration(copies["keep"])
        except ValueError as exc:
            error("copies.keep", f"{exc} (how long backups and kept-aside stores are kept)")
    registers = data.get("registers", {})
    if not isinstance(registers, dict):
        error("registers", "must be a table")
    else:
        for name, start in REGISTER_KEEPS.items():
            if f"{name}_keep" in registers:
                try:
                    parse_duration(registers[f"{name}_keep"])
                except ValueError as exc:
                    error(f"registers.{name}_keep", f"{exc} (how long the {name} register keeps "
                          f"an entry after its {start})")
    letters = data.get("letters", {})
    if not isinstance(letters, dict):
        error("letters", "must be a table")
    elif "folder" in letters and (not isinstance(letters["folder"], str)
                                  or not letters["folder"].strip()):
        error("letters.folder", "a folder of letter templates, as text (absolute, or relative "
              "to the store's directory)")
    reports = data.get("reports", {})
    if not isinstance(reports, dict):
        error("reports", "must be a table")
    else:
        for key in ("suppress_below", "round_to"):
            if key in reports and (not isinstance(reports[key], int) or reports[key] < 1):
                error(f"reports.{key}", "a whole number of at least 1")
    texts = data.get("report_text")
    if not isinstance(texts, dict):
        error("report_text", "missing table [report_text] (the words of the access report)")
    else:
        for key in REPORT_TEXT_KEYS:
            if not isinstance(texts.get(key), str) or not texts[key].strip():
                error(f"report_text.{key}", "missing or empty text")
    return problems


# Art. 17(3) has five points only; a private clinic keeps records under (b) (a legal obligation,
# e.g. record-keeping duties, tax records) and (e) (legal claims). (c) is public health.
_REAL_17_3 = "abcde"


def _check_grounds(key: str, text: Any, error: Callable[[str, str], None],
                   warn: Callable[[str, str], None]) -> None:
    """A keep_on_erasure reason must cite Art. 17(3) points that exist."""
    if not isinstance(text, str) or not text.strip():
        error(key, "the reason an erasure request keeps this data, citing Art. 17(3)(b) or (e)")
        return
    cited: list[str] = []
    for match in re.finditer(r"17\(3\)((?:\s*(?:\([a-z]\)|,|and|or))+)", text):
        cited += re.findall(r"\(([a-z])\)", match.group(1))
    wrong = [p for p in cited if p not in _REAL_17_3]
    if wrong:
        error(key, f"UK GDPR Art. 17(3) has points (a) to (e) only; ({wrong[0]}) does not exist "
              "(a clinic keeps records under (b), a legal obligation, and (e), legal claims)")
    elif not {"b", "e"} & set(cited):
        error(key, "cite the Art. 17(3) ground that keeps this data: (b), a legal obligation "
              "(e.g. record-keeping duties), or (e), legal claims")
    elif "c" in cited:
        warn(key, "Art. 17(3)(c) is public health, not a private clinic's ground for keeping "
             "records: cite (b) (a legal obligation, e.g. record-keeping duties) or (e) (legal "
             "claims)")


def check_source(source: str, *, stored: bool = False) -> tuple[dict[str, Any] | None,
                                                                 list[PolicyProblem]]:
    """Parse and validate TOML source; returns the data (None if unparseable) and the problems."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        return None, [PolicyProblem("error", "(syntax)", line, str(exc))]
    return data, _check(data, source, stored=stored)


def parse_policy(source: str, *, stored: bool = False) -> Policy:
    """A Policy from TOML source, or BadInput naming the first error and its line."""
    data, problems = check_source(source, stored=stored)
    errors = [p for p in problems if p.level == "error"]
    if data is None or errors:
        more = f" (and {len(errors) - 1} more; run pigment policy check)" if len(errors) > 1 else ""
        raise BadInput(f"invalid policy: {errors[0]}{more}")
    data.setdefault("requests", {})
    data.setdefault("reports", {})
    data["retention"].setdefault("categories", {})
    return Policy(data, source, tuple(p for p in problems if p.level == "warning"))


def read_policy_file(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise BadInput(f"no policy file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read policy file {path}: {exc}") from None


def default_policy() -> Policy:
    return parse_policy(default_source())


