"""Load examples/demo-clinic.json into a pigment store (used by `make demo`).

Prints the id of the subject `make demo` shows. Usage: python examples/seed_demo.py --db PATH
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pigment_cli.clock import system_now
from pigment_cli.records.consents import grant, withdraw
from pigment_cli.records.disclosures import disclose
from pigment_cli.records.holds import add_hold
from pigment_cli.records.items import add_item
from pigment_cli.records.subjects import add_subject
from pigment_cli.rights.requests import open_request
from pigment_cli.store.session import session

HERE = Path(__file__).resolve().parent


DEMO_NOTICE = "demo privacy notice, 2019"  # what the fictional sign-up forms showed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=HERE / "demo-clinic.json")
    parser.add_argument("--show", default="PMS-1003", help="external id of the subject to print")
    args = parser.parse_args()
    clinic = json.loads(args.data.read_text("utf-8"))
    shown = None
    ids: dict[str, str] = {}
    with session(args.db, now=system_now(), actor="demo-seed") as s:
        for person in clinic["subjects"]:
            items = person.pop("items")
            first = min(item["collected_at"] for item in items)
            subject = add_subject(s, processed_at=first, **person)
            # Data for a consent purpose is held only with the consent: a web form signed when
            # the first such item was collected.
            for purpose in sorted({i["purpose"] for i in items} & set(s.policy.consent_purposes())):
                signed = min(i["collected_at"] for i in items if i["purpose"] == purpose)
                # The store was made today, so no stored policy covers the back-dated sign-up:
                # say which notice the (fictional) form showed.
                grant(s, subject.id, purpose, via="web_form", evidence="demo sign-up form",
                      at=signed, notice=DEMO_NOTICE)
            for item in items:
                add_item(s, subject.id, category=item["category"], source=item["source"],
                         purpose=item["purpose"], value=item["value"],
                         collected=item["collected_at"], processed=item["processed_at"])
            ids[person["external_id"]] = subject.id
            if person["external_id"] == args.show:
                shown = subject.id
        # Consent changes, disclosures, holds and requests of several kinds, so that every command has
        # something to show in the demo store.
        for event in clinic.get("events", []):
            sid, kind = ids[event["external_id"]], event["kind"]
            if kind == "grant":
                grant(s, sid, event["purpose"], via=event["via"], evidence=event.get("evidence"),
                      at=event["at"], notice=DEMO_NOTICE, recipient=event.get("recipient"),
                      categories=event.get("items"))
            elif kind == "withdraw":
                withdraw(s, sid, event["purpose"], via=event["via"], at=event["at"])
            elif kind == "disclose":
                disclose(s, sid, recipient=event["recipient"], recipient_type=event["recipient_type"],
                         purpose=event["purpose"], items=event["items"], at=event["at"])
            elif kind == "hold":
                add_hold(s, sid, reason=event["reason"], until=event.get("until"))
            elif kind == "request":
                open_request(s, sid, received=event["received"], channel=event["channel"],
                             kind=event.get("request_kind", "access"), note=event.get("note"))
    print(f"demo store: {len(clinic['subjects'])} fictional subjects loaded", file=sys.stderr)
    print(shown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
