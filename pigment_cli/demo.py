"""A synthetic, clearly fictional clinic: subjects, ten years of appointments and payments, items in
every category and from every source of the policy, consents, disclosures, holds and requests.

Deterministic: everything (ids included) comes from one seeded RNG and Faker seeded alike, and
every date is counted back from the session's `today`, so the same seed, the same day and the same
Faker version build the same store. Names come from Faker's en_GB lists; emails are on the
reserved example.org/.com/.net domains, phones in Ofcom's 07700 900xxx drama range, towns invented.
Bulk inserts in the session's one transaction: 100,000 subjects take well under a minute.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from pigment_cli.errors import BadInput
from pigment_cli.policy import CONSENT_CHANNELS, WRITTEN_CHANNELS, Policy
from pigment_cli.records.consents import CONSENT_INSERT
from pigment_cli.records.disclosures import DISCLOSURE_INSERT
from pigment_cli.records.ids import ID_ALPHABET
from pigment_cli.records.items import ITEM_INSERT
from pigment_cli.records.subjects import SUBJECT_INSERT
from pigment_cli.store.session import Session

MAX_SUBJECTS = 1_000_000
YEARS = 10
DEMO_ACTOR = "demo"
BATCH_SUBJECTS = 1000
EMAIL_DOMAINS = ("example.org", "example.com", "example.net")  # RFC 2606: never real mailboxes
TREATMENTS = (
    ("Acne vulgaris", "topical retinoid and benzoyl peroxide", 95),
    ("Rosacea", "azelaic acid 15% gel", 85),
    ("Atopic eczema", "emollients; short course of topical steroid", 85),
    ("Psoriasis (plaque)", "vitamin D analogue ointment", 110),
    ("Seborrhoeic keratosis", "cryotherapy", 140),
    ("Melasma", "sunscreen advice; hydroquinone 4% cream", 120),
    ("Mole check", "dermoscopy; no concerning features", 150),
    ("Actinic keratosis", "5-fluorouracil cream", 130),
    ("Hyperhidrosis", "aluminium chloride; review in 6 weeks", 90),
    ("Chemical peel", "glycolic acid 30% peel, session 1 of 3", 160),
)
RECIPIENTS = {
    "laboratory": ("Northbridge Dermatopathology Lab (fictional)", "medical_referral",
                   "medical_history"),
    "specialist": ("Sampleford Skin Specialists (fictional)", "medical_referral",
                   "identity,medical_history"),
    "hospital": ("Exampleton General Hospital (fictional)", "medical_referral",
                 "identity,date_of_birth,medical_history"),
    "payment_processor": ("DemoPay Ltd (fictional)", "payment", "identity,payment"),
    "debt_collector": ("Fictional Recovery Ltd", "debt_collection", "identity,contact,payment"),
}
HOLD_REASONS = ("outstanding debt", "legal claim", "regulator enquiry", "insurance claim")


@dataclass
class DemoSummary:
    seed: int
    as_of: str
    subjects: int = 0
    items: int = 0
    consent_events: int = 0
    disclosures: int = 0
    holds: int = 0
    requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- what items look like ---------------------------------------------------------------------
# (category, source, purpose, value template) for the occasional extras; every policy category and
# source that these leave out gets a generic template, so the demo covers any policy.
EXTRAS = (
    ("web_activity", "website", "cookies", "Visited /treatments/{slug}"),
    ("marketing", "email_interaction", "newsletter", "Opened newsletter '{month} offers'"),
    ("communications", "instant_message", "care", "WhatsApp: asked to move an appointment"),
    ("communications", "phone", "care", "Phone call: aftercare question"),
    ("communications", "email", "care", "Email: sent photos for review"),
    ("social_media", "social_media", "personalised_ads", "Liked a post about {slug}"),
    ("social_media", "third_party", "personalised_ads", "Instagram lead form: interested in {slug}"),
    ("contact", "information_request", "care", "Asked for a price list by email"),
    ("marketing", "survey", "satisfaction_survey", "Satisfaction survey: {score}/5"),
    ("marketing", "review", "reporting", "Left a {score}-star review"),
    ("identity", "referral", "care", "Referred by a friend"),
    ("medical_history", "form", "medical_records", "Medical questionnaire: allergies none known"),
    ("cctv", "cctv", "security", "Reception camera, visit on {day}"),
    ("payment", "payment", "payment", "Refund £{amount}.00 (cancelled appointment)"),
)


def _templates(policy: Policy) -> list[tuple[str, str, str, str]]:
    known = [t for t in EXTRAS if policy.knows("categories", t[0])
             and policy.knows("sources", t[1]) and policy.knows("purposes", t[2])]
    categories = {t[0] for t in known} | {"identity", "date_of_birth", "contact",
                                          "medical_history", "payment", "communications"}
    sources = {t[1] for t in known} | {"form", "appointment_booking", "consultation", "payment"}
    for category in policy.keys("categories"):
        if category not in categories:
            known.append((category, "form", "care", f"{policy.label('categories', category)}"))
    for source in policy.keys("sources"):
        if source not in sources:
            known.append(("communications", source, "care",
                          f"Contact via {policy.label('sources', source).lower()}"))
    return known


# --- building ---------------------------------------------------------------------------------


class _Clinic:
    def __init__(self, s: Session, n: int, seed: int) -> None:
        try:
            from faker import Faker  # lazy for start-up; and an optional extra (`demo`)
        except ImportError:
            raise BadInput("the demo needs the 'demo' extra (Faker): "
                           "pip install 'pigment-cli[demo]'") from None

        self.s, self.n, self.seed = s, n, seed
        self.policy = s.policy
        self.rng = random.Random(seed)
        self.today: date = s.today
        self.start = self.today - timedelta(days=round(YEARS * 365.25))
        self.span = (self.today - self.start).days
        fake = Faker("en_GB")
        fake.seed_instance(seed)
        # Pools drawn once from Faker (its weighted draws are slow), then combined by our RNG.
        self.female = sorted({fake.first_name_female() for _ in range(400)})
        self.male = sorted({fake.first_name_male() for _ in range(400)})
        self.surnames = sorted({fake.last_name() for _ in range(3000)})
        self.streets = sorted({fake.street_name() for _ in range(1500)})
        self.towns = sorted({fake.city() for _ in range(300)})
        self.postcodes = [fake.postcode() for _ in range(2000)]
        self.templates = _templates(self.policy)
        self.basis = {p: self.policy.purpose_basis(p) for p in self.policy.keys("purposes")}
        self.consent_purposes = self.policy.consent_purposes()
        self.summary = DemoSummary(seed=seed, as_of=self.today.isoformat())
        self.used_ids: set[str] = set()

    def new_id(self, prefix: str) -> str:
        rng = self.rng
        while True:
            key = prefix + "-" + "".join(rng.choice(ID_ALPHABET) for _ in range(5))
            if key not in self.used_ids:
                self.used_ids.add(key)
                return key

    def day(self, lo: date, hi: date) -> date:
        return lo + timedelta(days=self.rng.randint(0, max((hi - lo).days, 0)))

    def when(self, day: date) -> str:
        rng = self.rng
        return f"{day.isoformat()}T{rng.randint(8, 18):02d}:{rng.choice((0, 15, 30, 45)):02d}:00"

    def person(self) -> dict[str, Any]:
        rng = self.rng
        female = rng.random() < 0.68  # a dermatology clinic's patients are mostly women
        first = rng.choice(self.female if female else self.male)
        last = rng.choice(self.surnames)
        title = rng.choice(("Ms", "Mrs", "Miss", "Dr")) if female else rng.choice(("Mr", "Mr", "Dr"))
        if rng.random() < 0.02:
            title = "Mx"
        age = rng.randint(12, 85) if rng.random() < 0.95 else rng.randint(86, 99)
        dob = self.today - timedelta(days=age * 365 + rng.randint(0, 364))
        local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        email = f"{local}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
        phone = f"07700 900{rng.randint(0, 999):03d}"
        flat = f"Flat {rng.randint(1, 40)}, " if rng.random() < 0.2 else ""
        address = (f"{flat}{rng.randint(1, 220)} {rng.choice(self.streets)}, "
                   f"{rng.choice(self.towns)} {rng.choice(self.postcodes)}")
        return {"name": f"{first} {last}", "title": title, "dob": dob.isoformat(),
                "email": email, "phone": phone, "address": address}

    def build(self) -> DemoSummary:
        conn = self.s.conn
        ids = sorted(self.new_id("S") for _ in range(self.n))  # sorted: index-friendly inserts
        batch: dict[str, list[tuple[Any, ...]]] = {
            "subjects": [], "items": [], "consents": [], "disclosures": [], "holds": [],
            "requests": [],
        }
        for index, subject_id in enumerate(ids):
            self.subject(index, subject_id, batch)
            if len(batch["subjects"]) >= BATCH_SUBJECTS:
                self.flush(conn, batch)
        self.flush(conn, batch)
        return self.summary

    def subject(self, index: int, subject_id: str, batch: dict[str, list[tuple[Any, ...]]]) -> None:
        rng, basis = self.rng, self.basis
        who = self.person()
        # The last contact is spread evenly over ten years (so about 30% fall due under a 7-year
        # rule); the first contact is some time before it.
        last = self.start + timedelta(days=rng.randint(0, self.span))
        first = self.day(self.start, last)
        first_at = self.when(first)
        items = batch["items"]
        latest = first_at
        born = date.fromisoformat(who["dob"])
        for category, source, value in (
            ("identity", "form", f"{who['title']} {who['name']}"),
            ("date_of_birth", "form", f"Born {born.strftime('%d %B %Y')}"),
            ("contact", "form", "Email, mobile and home address"),
        ):
            items.append((subject_id, category, source, "care", basis["care"], value, first_at,
                          first_at, first_at))
        # Appointments between first and last contact: booked, attended, paid.
        visits = sorted({first, last} | {self.day(first, last) for _ in range(rng.randint(0, 1))})
        for visit in visits:
            condition, plan, price = rng.choice(TREATMENTS)
            booked = self.when(max(self.start, visit - timedelta(days=rng.randint(1, 21))))
            seen = self.when(visit)
            if rng.random() < 0.6:
                items.append((subject_id, "communications", "appointment_booking", "care",
                              basis["care"], f"Appointment booked for {visit.isoformat()}",
                              booked, booked, booked))
            items.append((subject_id, "medical_history", "consultation", "medical_records",
                          basis["medical_records"], f"{condition}: {plan}", seen, seen, seen))
            items.append((subject_id, "payment", "payment", "payment", basis["payment"],
                          f"£{price}.00 by card ({condition.lower()})", seen, seen, seen))
            latest = max(latest, seen)
        # Extras: the first subjects take every template in turn, so even a small clinic covers
        # every category and source; the others draw a few at random.
        picks = [self.templates[i] for i in range(index, len(self.templates), self.n)]
        picks += [rng.choice(self.templates) for _ in range(rng.choice((0, 1, 1, 2, 2, 3)))]
        for category, source, purpose, template in picks:
            day = self.day(first, last)
            at = self.when(day)
            value = template.format(slug=rng.choice(("acne", "rosacea", "peels", "mole-checks")),
                                    month=day.strftime("%B"), score=rng.randint(2, 5),
                                    day=day.isoformat(), amount=rng.choice((40, 60, 85)))
            items.append((subject_id, category, source, purpose, basis[purpose], value, at, at, at))
            latest = max(latest, at)
        self.consents(subject_id, first, last, batch["consents"])
        if rng.random() < 0.08:
            self.disclosure(subject_id, first, last, batch["disclosures"])
        if rng.random() < 0.005:
            self.hold(subject_id, batch["holds"])
        if rng.random() < 0.003:
            self.request(subject_id, last, batch["requests"])
        # The retention clock: the latest processing of their data for a purpose (their items);
        # consents, disclosures and requests never move it.
        batch["subjects"].append((subject_id, f"PMS-{100000 + index}", who["name"], who["title"],
                                  who["dob"], who["email"], who["phone"], who["address"],
                                  first_at, first_at, latest))

    def consents(self, subject_id: str, first: date, last: date,
                 out: list[tuple[Any, ...]]) -> str:
        rng, latest = self.rng, ""
        odds = {"newsletter": 0.55, "satisfaction_survey": 0.3, "cookies": 0.4,
                "personalised_ads": 0.15, "third_party_non_medical": 0.03}
        for purpose in self.consent_purposes:
            if rng.random() >= odds.get(purpose, 0.1):
                continue
            written_only = self.policy.needs_written_consent(purpose)
            channels = sorted(WRITTEN_CHANNELS) if written_only else list(CONSENT_CHANNELS)
            channel = rng.choice([c for c in channels if c != "newsletter_link"])
            granted = self.day(first, last)
            at = self.when(granted)
            evidence = (f"paper form PF-{rng.randint(10000, 99999)}" if channel == "paper_form"
                        else f"web form submission W-{rng.randint(100000, 999999)}"
                        if channel == "web_form" else None)
            scope: tuple[str | None, str | None] = (None, None)
            if self.policy.purpose(purpose).specific:  # names whom and what it covers
                scope = ("Fictional Wellbeing Partners Ltd", "identity,contact")
            out.append((subject_id, purpose, "grant", channel, int(channel in WRITTEN_CHANNELS),
                        evidence, f"{granted.year}-01", at, DEMO_ACTOR, at, *scope))
            latest = max(latest, at)
            if rng.random() < 0.25:  # withdrawn while still in touch with the clinic
                withdrawn = self.when(self.day(granted, min(self.today, last + timedelta(days=365))))
                via = "newsletter_link" if purpose == "newsletter" else rng.choice(("email", "phone"))
                out.append((subject_id, purpose, "withdraw", via, int(via in WRITTEN_CHANNELS),
                            None, f"{granted.year}-01", withdrawn, DEMO_ACTOR, withdrawn, None,
                            None))
                latest = max(latest, withdrawn)
        return latest

    def disclosure(self, subject_id: str, first: date, last: date,
                   out: list[tuple[Any, ...]]) -> str:
        rng = self.rng
        kind = rng.choice(("laboratory", "laboratory", "laboratory", "specialist", "hospital",
                           "payment_processor"))
        recipient, purpose, categories = RECIPIENTS[kind]
        at = self.when(self.day(first, last))
        out.append((subject_id, recipient, kind, purpose, self.basis[purpose], categories, None,
                    at, DEMO_ACTOR, at))
        return at

    def hold(self, subject_id: str, out: list[tuple[Any, ...]]) -> None:
        rng = self.rng
        until = (self.today + timedelta(days=rng.randint(30, 720))).isoformat() \
            if rng.random() < 0.5 else None
        since = self.when(self.today - timedelta(days=rng.randint(1, 400)))
        out.append((self.new_id("H"), subject_id, rng.choice(HOLD_REASONS), until, since))

    def request(self, subject_id: str, last: date, out: list[tuple[Any, ...]]) -> str:
        rng = self.rng
        recent = rng.random() < 0.4  # a few are still open, most were answered
        received = self.day(self.today - timedelta(days=25 if recent else 400), self.today)
        closed = received + timedelta(days=rng.randint(5, 28))
        is_open = closed >= self.today
        verified = (received + timedelta(days=rng.randint(0, 4))).isoformat()
        # Mostly access requests; now and then another right (answered by withdrawing it, so no
        # action need be invented for the demo).
        kind = rng.choices(("access", "rectification", "erasure", "objection"),
                           weights=(85, 7, 4, 4))[0]
        outcome = None if is_open else ("done" if kind == "access" else "withdrawn")
        out.append((self.new_id("R"), subject_id, rng.choice(("email", "letter", "phone",
                                                               "in_clinic")),
                    received.isoformat(), min(verified, self.today.isoformat()),
                    "open" if is_open else "closed", None if is_open else closed.isoformat(),
                    self.when(received), kind, outcome))
        return received.isoformat()

    def flush(self, conn: Any, batch: dict[str, list[tuple[Any, ...]]]) -> None:
        summary = self.summary
        conn.executemany(SUBJECT_INSERT, batch["subjects"])
        conn.executemany(ITEM_INSERT, batch["items"])
        conn.executemany(CONSENT_INSERT, batch["consents"])
        conn.executemany(DISCLOSURE_INSERT, batch["disclosures"])
        conn.executemany(
            "INSERT INTO holds (id, subject_id, reason, until, created_at) VALUES (?, ?, ?, ?, ?)",
            batch["holds"])
        conn.executemany(
            "INSERT INTO requests (id, subject_id, channel, received_on, id_verified_on, status, "
            "closed_on, created_at, kind, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch["requests"])
        summary.subjects += len(batch["subjects"])
        summary.items += len(batch["items"])
        summary.consent_events += len(batch["consents"])
        summary.disclosures += len(batch["disclosures"])
        summary.holds += len(batch["holds"])
        summary.requests += len(batch["requests"])
        for rows in batch.values():
            rows.clear()


def build_demo(s: Session, *, subjects: int, seed: int = 1) -> DemoSummary:
    """Fill an empty store with a fictional clinic of `subjects` people (about ten items each)."""
    if not 1 <= subjects <= MAX_SUBJECTS:
        raise BadInput(f"--subjects must be between 1 and {MAX_SUBJECTS:,}")
    if s.conn.execute("SELECT EXISTS (SELECT 1 FROM subjects)").fetchone()[0]:
        raise BadInput("this store already holds subjects; pigment demo only fills an empty store "
                       "(give a new --db path and it creates one)")
    conn = s.conn
    cache_size = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute("PRAGMA cache_size = -65536")
    try:
        summary = _Clinic(s, subjects, seed).build()
    finally:
        conn.execute(f"PRAGMA cache_size = {cache_size}")
    s.audit("demo", None, seed=seed, subjects=summary.subjects, items=summary.items,
            consent_events=summary.consent_events, disclosures=summary.disclosures,
            holds=summary.holds, requests=summary.requests)
    return summary
