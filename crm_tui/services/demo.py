"""Demo data: a realistic CRM, the same for the same seed and clock, bulk-loaded in chunks.

Rows are plain dicts with pre-assigned ids (so children reference parents without RETURNING),
inserted by services.bulk; the derived columns come from the same helpers the services use.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from crm_tui.errors import InvalidInput
from crm_tui.models import Contact, Source, Tag, User
from crm_tui.models.case import Case, CaseEntry, Survey, case_minutes
from crm_tui.services import bulk, permissions
from crm_tui.services import validation as v
from crm_tui.services.common import Actor, audit
from crm_tui.services.companies import company_search_text
from crm_tui.services.contacts import derived_fields
from crm_tui.services.pipelines import default_pipeline, list_lost_reasons

MAX_CONTACTS = 1_000_000
CONTACT_CHUNK = 10_000
ROW_CHUNK = 20_000
HISTORY_DAYS = 540  # activities spread over the past ~18 months

# parents before children; the service desk's cases, their threads and surveys last
TABLES = {t.name: t for t in (*bulk.TABLES, Case.__table__, CaseEntry.__table__, Survey.__table__)}
SUMMARY_TABLES = ("users", "companies", "contacts", "deals", "activities", "tasks")


@dataclass(frozen=True)
class DemoSummary:
    users: int
    companies: int
    contacts: int
    deals: int
    activities: int
    tasks: int


# --- vocabulary ---------------------------------------------------------------------------

DEMO_USERS = [  # login, name, role, timezone
    ("maya", "Maya Okafor", "manager", "America/New_York"),
    ("liam", "Liam O'Connor", "sales", "America/New_York"),
    ("sofia", "Sofía Hernández", "sales", "Europe/Madrid"),
    ("noah", "Noah Fischer", "sales", "Europe/Berlin"),
    ("amara", "Amara Nwosu", "sales", "Europe/London"),
    ("jules", "Jules Lefèvre", "sales", "Europe/Paris"),
]
FIRST_NAMES = (
    "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Daniel Karen Matthew Nancy Anthony Lisa Mark Emily Steven Olivia Paul Emma "
    "Andrew Ava Joshua Mia Kevin Grace Brian Hannah Ryan Chloe Ethan Zoe Lucas Priya Arjun Wei Mei Hiroshi "
    "Yuki Omar Fatima Ahmed Layla Kwame Ama Ivan Olga Pedro Lucia Marco Giulia Lars Ingrid Sven Astrid "
    "José Zoë Chloé Björn Søren Łukasz Anaïs Renée Hélène Jürgen Noémie François Inês João Ñora Małgorzata "
    "Göran Ólafur Çağla Dvořák Tomás Rocío Élodie Mónica"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson "
    "Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green Adams Baker "
    "Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris "
    "Patel Shah Chen Wang Li Kim Park Nakamura Tanaka Singh Kumar Ali Hassan Mensah Okoye Ivanova Petrov "
    "Rossi Bianchi Larsen Nilsson Berg O'Brien McAllister Van der Berg "
    "García Müller Sánchez Núñez Jiménez Dvořák Ødegaard Çelik Yılmaz Nguyễn Šimić Wójcik Löfgren "
    "Fernández Björklund Lefèvre Gonçalves Håkansson Schröder Márquez"
).replace("Van der Berg", "Vanderberg").split()
TITLES = (
    "CEO", "CTO", "CFO", "COO", "VP Sales", "VP Engineering", "VP Marketing", "Head of Operations",
    "Head of Procurement", "Director of IT", "Engineering Manager", "Product Manager", "Sales Manager",
    "Account Executive", "Office Manager", "Marketing Lead", "Data Analyst", "Software Engineer",
    "Purchasing Agent", "Founder", "Operations Analyst", "HR Director", "Customer Success Manager",
)
COMPANY_WORDS = (
    "Blue Harbor Northwind Summit Redwood Silverline Ironbridge Brightpath Cedar Falcon Granite Horizon "
    "Juniper Keystone Lakeside Maple Meridian Nimbus Oakridge Pinnacle Quantum Riverstone Sapphire Sterling "
    "Tidewater Upland Vertex Willow Zenith Apex Beacon Cobalt Evergreen Foxglove Harbor Lumen Orion Polar "
    "Atlas Crescent Delta Ember Fjord Glacier Helix Indigo Jasper Kestrel Lighthouse Magnolia Onyx "
    "Café Lumière Søndergaard Müller Škoda Brückner Peñalta Ålesund Garçon"
).split()
COMPANY_KINDS = (
    "Labs", "Logistics", "Analytics", "Systems", "Foods", "Health", "Energy", "Capital", "Robotics",
    "Studios", "Software", "Consulting", "Manufacturing", "Partners", "Bio", "Retail", "Media", "Networks",
)
COMPANY_SUFFIXES = ("", "", "", "Inc", "LLC", "Ltd", "GmbH", "SA", "Group", "& Co")
INDUSTRIES = (
    "Software", "Logistics", "Healthcare", "Finance", "Manufacturing", "Retail", "Education", "Energy",
    "Media", "Hospitality", "Construction", "Biotech", "Agriculture", "Telecom", "Consulting",
)
SIZES = ("1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+")
TLDS = (".com", ".com", ".com", ".io", ".co", ".net", ".de", ".fr", ".es", ".co.uk")
CITIES = [  # city, country (picks the phone format)
    ("New York, NY", "US"), ("San Francisco, CA", "US"), ("Chicago, IL", "US"), ("Austin, TX", "US"),
    ("Boston, MA", "US"), ("Seattle, WA", "US"), ("London", "GB"), ("Paris", "FR"), ("Berlin", "DE"),
    ("Madrid", "ES"),
]
STREET_DRAW = 10
STREETS = {  # by country: an address reads as one place
    "US": ("Market St", "Main St", "Harbor Blvd", "Oak Avenue", "Elm Street"),
    "GB": ("King's Road", "Station Road", "High Street", "Church Lane"),
    "FR": ("Rue de Rivoli", "Boulevard Haussmann", "Rue du Bac", "Avenue de l'Opéra"),
    "DE": ("Friedrichstraße", "Kastanienallee", "Torstraße", "Bergmannstraße"),
    "ES": ("Calle Mayor", "Gran Vía", "Calle de Alcalá", "Paseo del Prado"),
}
US_AREAS = (212, 415, 312, 617, 206, 512, 303, 404, 646, 510, 718, 305)
PERSONAL_DOMAINS = ("gmail.com", "outlook.com", "proton.me", "yahoo.com", "icloud.com")
TAGS = ("vip", "newsletter", "partner", "decision-maker", "technical", "budget-holder", "churn-risk",
        "event:websummit-2026", "renewal", "referral-source")
PRODUCTS = ("Platform licence", "Annual subscription", "Onboarding package", "Support renewal",
            "Pilot project", "Enterprise upgrade", "Data migration", "Training days", "Expansion seats")
LOST_REASONS = ("Price too high", "Went with a competitor", "No budget", "No decision / went dark",
                "Missing feature", "Bad timing")  # the list a new database starts with (when it has none)
CURRENCIES = ("USD",) * 8 + ("EUR", "EUR", "GBP")
CALL_OUTCOMES = ("connected", "left voicemail", "no answer", "call back later")
CALL_SUBJECTS = ("Intro call", "Discovery call", "Check-in", "Pricing questions", "Follow-up call")
EMAIL_SUBJECTS = ("Following up", "Proposal attached", "Quick question", "Meeting notes", "Re: pricing",
                  "Case study you asked for")
MEETING_SUBJECTS = ("Demo", "Kick-off meeting", "Quarterly review", "On-site visit", "Negotiation meeting")
NOTE_SUBJECTS = ("Background", "Org chart", "Budget notes", "Competitor intel", "Personal note")
NOTE_BODIES = ("Prefers email over calls.", "Budget cycle starts in January.", "Reports to the CFO.",
               "Evaluating two other vendors.", "Met at the trade show; very engaged.")
CASE_SUBJECTS = ("Cannot sign in", "Invoice shows the wrong amount", "Export to CSV fails", "How do I add a user?",
                 "Slow dashboard this morning", "Refund request", "Integration stopped syncing", "Password reset link expired",
                 "Feature request: dark mode", "Data import stuck at 90%", "Charged twice this month", "API returns 500")
CASE_CATEGORIES = ("billing", "login", "bug", "how-to", "feature request", "integrations", None)
CASE_PRIORITIES = ("low",) * 2 + ("normal",) * 5 + ("high",) * 2 + ("urgent",)
CASE_CHANNELS = ("email",) * 5 + ("phone", "phone", "web", "chat", "in_person")
# wall-clock SLA targets per priority, hours: first response, resolution
CASE_TARGETS = {"low": (24, 120), "normal": (8, 72), "high": (4, 24), "urgent": (1, 4)}
CASE_REPLIES = ("Thanks for reaching out, I'm looking into it now.", "Could you send a screenshot of the error?",
                "We've found the cause and are deploying a fix.", "That should be sorted now; can you confirm?",
                "I've corrected the invoice and sent it again.", "Here are the steps: Settings → Users → Add.")
CASE_FOLLOW_UPS = ("It still happens after the update.", "Thanks, that fixed it!", "Any news on this?",
                   "Attached the screenshot.", "Confirmed, all good now.")
CASE_NOTES = ("Reproduced on staging.", "Escalated to engineering.", "Customer is on the Enterprise plan.",
              "Same issue as last month; check the sync logs.")
TASK_TITLES = ("Call {first}", "Email {first} the case study", "Send proposal to {company}",
               "Follow up with {first}", "Prepare demo for {company}", "Check in on {deal}",
               "Book a meeting with {first}", "Update the quote for {deal}")
RECURRENCES = ("FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2", "FREQ=MONTHLY", "FREQ=WEEKLY;BYDAY=MO")
# weighted choices, pre-expanded: rng.choice over a tuple is several times cheaper than rng.choices
SOURCES = tuple(s.value for s in Source)
WEIGHTED_SOURCES = sum(((s,) * w for s, w in zip(SOURCES, (6, 4, 3, 2, 2, 2, 1))), ())
INTERACTIONS = ("call",) * 8 + ("email",) * 9 + ("meeting",) * 3
LIFECYCLES = ("lead",) * 9 + ("prospect",) * 4 + ("customer",) * 4 + ("former",) * 3
_ASCII = str.maketrans({"ø": "o", "ł": "l", "ı": "i", "ß": "ss", "æ": "ae", "đ": "d", "å": "a"})


def _slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: for email local parts and domains."""
    return re.sub(r"[^a-z0-9]", "", v.strip_accents(text.lower().translate(_ASCII)))


# --- what the database already holds --------------------------------------------------------


@dataclass(frozen=True)
class StagePlan:
    id: int
    kind: str
    rotting_days: int | None


@dataclass(frozen=True)
class DemoContext:
    """The few facts about the target database the rows depend on."""

    actor_id: int | None
    pipeline_id: int
    stages: tuple[StagePlan, ...]
    first_ids: dict[str, int]
    existing_users: dict[str, int]
    existing_tags: dict[str, int]
    lost_reasons: tuple[str, ...] = LOST_REASONS  # the team's list, the one the Lost picker offers


def demo_context(session: Session, actor: Actor) -> DemoContext:
    pipeline = default_pipeline(session)
    first_ids = {name: (session.scalar(select(func.max(t.c.id))) or 0) + 1
                 for name, t in TABLES.items() if "id" in t.c}
    logins = [u[0] for u in DEMO_USERS]
    return DemoContext(
        actor_id=actor.user_id,
        pipeline_id=pipeline.id,
        stages=tuple(StagePlan(s.id, s.kind, s.rotting_days) for s in pipeline.stages),
        first_ids=first_ids,
        existing_users=dict(session.execute(select(User.login, User.id).where(User.login.in_(logins))).all()),
        existing_tags=dict(session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(TAGS))).all()),
        lost_reasons=tuple(list_lost_reasons(session)) or LOST_REASONS,
    )


def planned_counts(ctx: DemoContext, contacts: int) -> dict[str, int]:
    return {
        "users": sum(1 for u in DEMO_USERS if u[0] not in ctx.existing_users),
        "companies": max(1, contacts // 10),
        "contacts": contacts,
        "deals": max(1, contacts // 5),
        "activities": 5 * contacts,
        "tasks": max(1, contacts // 5),
    }


# --- the rows ------------------------------------------------------------------------------


def demo_rows(ctx: DemoContext, *, contacts: int, seed: int, now: datetime) -> Iterator[tuple[str, list[dict]]]:
    """(table name, rows) chunks in insert order. Deterministic for (ctx, contacts, seed, now)."""
    return _Demo(ctx, contacts, seed, now.astimezone(timezone.utc)).rows()


class _Demo:
    def __init__(self, ctx: DemoContext, contacts: int, seed: int, now: datetime) -> None:
        self.ctx, self.n, self.now, self.seed = ctx, contacts, now, seed
        self.rng = random.Random(seed)
        self.manager_id: int | None = None
        self.next_ids = dict(ctx.first_ids)
        self.counts = planned_counts(ctx, contacts)

    def take_ids(self, table: str, count: int) -> range:
        first = self.next_ids[table]
        self.next_ids[table] = first + count
        return range(first, first + count)

    def ago(self, low_days: float, high_days: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(low_days, high_days))

    def rows(self) -> Iterator[tuple[str, list[dict]]]:
        yield from self.users_and_tags()
        yield "companies", self.companies()
        self.plan_contacts()
        deals = self.deals()
        yield from self.contacts()
        yield "deals", deals
        yield from self.activities()
        yield "tasks", self.tasks()
        yield from self.cases()

    # users, tags, companies

    def users_and_tags(self) -> Iterator[tuple[str, list[dict]]]:
        users, self.owner_ids = [], []
        for login, name, role, zone in DEMO_USERS:
            user_id = self.ctx.existing_users.get(login)
            if user_id is None:
                user_id = self.take_ids("users", 1)[0]
                created = self.ago(700, 800)
                users.append(dict(id=user_id, login=login, name=name, email=f"{login}@northwind-demo.com", role=role,
                                  active=True, timezone=zone, os_login=None, manager_id=None,
                                  team="Americas" if zone.startswith("America/") else "EMEA",
                                  version=1, created_at=created, updated_at=created))
            if role == "sales":
                self.owner_ids.append(user_id)
            elif role == "manager":
                self.manager_id = user_id  # works the demo's cases, with whoever loads it
        self.tag_ids = dict(self.ctx.existing_tags)
        tags = []
        for name in TAGS:
            if name not in self.tag_ids:
                self.tag_ids[name] = self.take_ids("tags", 1)[0]
                tags.append({"id": self.tag_ids[name], "name": name})
        if users:
            yield "users", users
        if tags:
            yield "tags", tags

    def companies(self) -> list[dict]:
        rng, rows, names, domains = self.rng, [], set(), set()
        self.companies_info = []  # (id, name, name_key, domain, country, owner_id)
        for company_id in self.take_ids("companies", self.counts["companies"]):
            name = self.company_name(names)
            domain = self.company_domain(name, domains)
            city, country = rng.choice(CITIES)
            owner = rng.choice(self.owner_ids)
            created = self.ago(400, 1100)
            name_key = v.fold(name)
            rows.append(dict(
                id=company_id, name=name, name_key=name_key, domain=domain, industry=rng.choice(INDUSTRIES),
                size=rng.choice(SIZES), address=self.address(city, country),
                owner_id=owner, parent_id=None, notes=None, custom={}, archived=False,
                search_text=company_search_text(name, domain),
                version=1, created_at=created, updated_at=created))
            self.companies_info.append((company_id, name, name_key, domain, country, owner))
        return rows

    def address(self, city: str, country: str) -> str:
        """A street of the city's country (one draw of ten, as before streets were per country:
        a seed gives the same data it gave)."""
        number, pick = self.rng.randint(1, 480), self.rng.randrange(STREET_DRAW)
        streets = STREETS[country]
        return f"{number} {streets[pick % len(streets)]}, {city}"

    def company_name(self, taken: set[str]) -> str:
        rng = self.rng
        for attempt in range(50):
            words = [rng.choice(COMPANY_WORDS)]
            if rng.random() < 0.4 or attempt > 5:
                words.append(rng.choice(COMPANY_WORDS))
            words.append(rng.choice(COMPANY_KINDS))
            if suffix := rng.choice(COMPANY_SUFFIXES):
                words.append(suffix)
            if attempt > 20:
                words.append(str(rng.randint(2, 999)))
            name = " ".join(dict.fromkeys(words))
            if name not in taken:
                taken.add(name)
                return name
        raise RuntimeError("ran out of company names")  # unreachable in practice: 10**8 combinations

    def company_domain(self, name: str, taken: set[str]) -> str:
        words = [_slug(w) for w in name.split()]
        base = "".join(w for w in words[:2] if w)
        domain = base + self.rng.choice(TLDS)
        serial = 2
        while domain in taken:
            domain, serial = f"{base}{serial}{self.rng.choice(TLDS)}", serial + 1
        taken.add(domain)
        return domain

    # contacts: planned first (deals and activities depend on them), rows made chunk by chunk

    def plan_contacts(self) -> None:
        rng, n = self.rng, self.n
        companies = len(self.companies_info)
        # every company gets a contact; a few people are independent (no company)
        self.company_of = [i if i < companies else (None if rng.random() < 0.04 else rng.randrange(companies))
                           for i in range(n)]
        self.owner_of = [self.companies_info[c][5] if c is not None and rng.random() < 0.8
                         else rng.choice(self.owner_ids) for c in self.company_of]
        # a tenth are new this month; the rest arrived over the past two years
        self.created_of = [self.ago(0, 30) if rng.random() < 0.1 else self.ago(30, 730) for _ in range(n)]
        self.names = [(rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)) for _ in range(n)]
        self.activity_counts = self.spread(5 * n, n)
        self.last_contacted = [self.plan_last_contact(i) for i in range(n)]

    def spread(self, total: int, n: int) -> list[int]:
        """n counts around total/n (0 to 12), adjusted to add up to exactly total."""
        rng = self.rng
        counts = [rng.choice((0, 1, 2, 3, 4, 5, 5, 6, 6, 7, 8, 9, 10, 12)) for _ in range(n)]
        diff = total - sum(counts)
        while diff:
            i = rng.randrange(n)
            if diff > 0:
                counts[i], diff = counts[i] + 1, diff - 1
            elif counts[i] > 0:
                counts[i], diff = counts[i] - 1, diff + 1
        return counts

    def window_start(self, i: int) -> datetime:
        return max(self.created_of[i], self.now - timedelta(days=HISTORY_DAYS))

    def plan_last_contact(self, i: int) -> datetime | None:
        """The latest call/email/meeting; None for the never-contacted (about one in eight)."""
        if self.activity_counts[i] == 0 or self.rng.random() < 0.12:
            return None
        start = self.window_start(i)
        span = (self.now - start).total_seconds()
        # skewed towards recent contact, as in a live pipeline
        return start + timedelta(seconds=span * (1 - self.rng.random() ** 2) * 0.999)

    def contacts(self) -> Iterator[tuple[str, list[dict]]]:
        emails_seen: set[str] = set()
        status_of = {}
        for deal in self.deal_rows:
            status_of.setdefault(self.deal_contact[deal["id"]], set()).add(deal["status"])
        for first in range(0, self.n, CONTACT_CHUNK):
            chunk: dict[str, list[dict]] = {"contacts": [], "contact_emails": [], "contact_phones": [],
                                            "contact_tags": []}
            for i in range(first, min(first + CONTACT_CHUNK, self.n)):
                self.contact(i, chunk, emails_seen, status_of.get(i, ()))
            yield from ((table, rows) for table, rows in chunk.items() if rows)

    def contact(self, i: int, chunk: dict[str, list[dict]], emails_seen: set[str], deal_statuses) -> None:
        rng = self.rng
        contact_id = self.contact_id(i)
        first, last = self.names[i]
        company = self.companies_info[self.company_of[i]] if self.company_of[i] is not None else None
        emails = self.emails(first, last, company, emails_seen)
        phones = [self.phone(company[4] if company else "US") for _ in range(rng.choice((0, 1, 1, 1, 2)))]
        phones = list(dict.fromkeys(phones))
        title = rng.choice(TITLES) if rng.random() < 0.9 else None
        created = self.created_of[i]
        chunk["contacts"].append(dict(
            id=contact_id, first_name=first, last_name=last, title=title,
            company_id=company[0] if company else None, company_key=company[2] if company else None,
            owner_id=self.owner_of[i], lifecycle=self.lifecycle(deal_statuses), source=self.source(i),
            custom=self.custom(first, last), last_contacted_at=self.last_contacted[i], archived=False, do_not_email=False,
            version=1, created_at=created, updated_at=created,
            address=None, birthday=None, social_urls=[], description=None,  # left for people to fill in
            **derived_fields(first, last, title, emails, phones)))
        chunk["contact_emails"] += [{"id": self.take_ids("contact_emails", 1)[0], "contact_id": contact_id,
                                     "email": e, "position": p} for p, e in enumerate(emails)]
        chunk["contact_phones"] += [{"id": self.take_ids("contact_phones", 1)[0], "contact_id": contact_id,
                                     "phone": ph, "position": p} for p, ph in enumerate(phones)]
        if rng.random() < 0.45:
            tags = rng.sample(TAGS, rng.choice((1, 1, 2, 3)))
            chunk["contact_tags"] += [{"contact_id": contact_id, "tag_id": self.tag_ids[t]} for t in tags]

    def contact_id(self, i: int) -> int:
        return self.ctx.first_ids["contacts"] + i

    def emails(self, first: str, last: str, company, seen: set[str]) -> list[str]:
        rng = self.rng
        local = f"{_slug(first)}.{_slug(last)}"
        domains = [company[3]] if company else []
        if not company or rng.random() < 0.3:
            domains.append(rng.choice(PERSONAL_DOMAINS))
        out = []
        for domain in domains:
            email, serial = f"{local}@{domain}", 2
            while email in seen:
                email, serial = f"{local}{serial}@{domain}", serial + rng.randint(1, 9)
            seen.add(email)
            out.append(email)
        return out

    def phone(self, country: str) -> str:
        """A valid E.164 number in the company's country (fictional ranges where they exist)."""
        r = self.rng.randint
        if country == "GB":
            return f"+4420794{r(60000, 60999)}"
        if country == "FR":
            return f"+331{r(0, 99999999):08d}"
        if country == "DE":
            return f"+4930{r(1000000, 99999999)}"
        if country == "ES":
            return f"+3491{r(0, 9999999):07d}"
        return f"+1{self.rng.choice(US_AREAS)}{r(200, 999)}{r(0, 9999):04d}"

    def lifecycle(self, deal_statuses) -> str:
        if "won" in deal_statuses:
            return "customer"
        if "open" in deal_statuses:
            return "prospect"
        return self.rng.choice(LIFECYCLES)

    def source(self, i: int) -> str:
        if i < len(SOURCES):  # every source shows up, however small the set
            return SOURCES[i]
        return self.rng.choice(WEIGHTED_SOURCES)

    def custom(self, first: str, last: str) -> dict:
        roll = self.rng.random()
        if roll < 0.1:
            return {"linkedin": f"https://www.linkedin.com/in/{_slug(first)}-{_slug(last)}"}
        if roll < 0.15:
            return {"preferred_language": self.rng.choice(("fr", "de", "es")), "newsletter": True}
        return {}

    # deals

    def deals(self) -> list[dict]:
        rng, stages = self.rng, self.ctx.stages
        weights = [{"won": 25, "lost": 17}.get(s.kind, 58 / max(1, sum(x.kind == "open" for x in stages)))
                   for s in stages]
        self.deal_rows, self.deal_contact, self.deals_of = [], {}, {}
        for j, deal_id in enumerate(self.take_ids("deals", self.counts["deals"])):
            # the first deals walk every stage (the open ones stale), so even a small set shows them all
            stage = stages[j] if j < len(stages) else rng.choices(stages, weights)[0]
            i = rng.randrange(self.n)
            self.deal_contact[deal_id] = i
            self.deals_of.setdefault(i, []).append(deal_id)
            self.deal_rows.append(self.deal(deal_id, i, stage, stale=j < len(stages) or rng.random() < 0.25))
        return self.deal_rows

    def deal(self, deal_id: int, i: int, stage: StagePlan, stale: bool) -> dict:
        rng, now = self.rng, self.now
        company = self.companies_info[self.company_of[i]] if self.company_of[i] is not None else None
        title = f"{company[1] if company else ' '.join(self.names[i])} – {rng.choice(PRODUCTS)}"
        amount = int(rng.lognormvariate(10, 0.9) // 100 * 100 + 500) * 100
        created = self.ago(20, 540)
        closed = None
        if stage.kind == "open":
            rotting = stage.rotting_days or 30
            entered = self.ago(rotting + 1, rotting * 4) if stale else self.ago(0, rotting * 0.9)
            created = min(created, entered)
            expected = (now + timedelta(days=rng.uniform(-20, 150))).date()
        else:
            span = min(180, (now - created).days - 1)
            entered = closed = created + timedelta(days=rng.uniform(min(7, span), span))
            expected = (closed + timedelta(days=rng.uniform(-15, 10))).date()
        return dict(
            id=deal_id, title=title, title_key=v.fold(title), company_id=company[0] if company else None,
            contact_id=self.contact_id(i), pipeline_id=self.ctx.pipeline_id, stage_id=stage.id,
            owner_id=self.owner_of[i], amount_minor=amount, currency=rng.choice(CURRENCIES),
            expected_close=expected, status=stage.kind,
            lost_reason=rng.choice(self.ctx.lost_reasons) if stage.kind == "lost" else None,
            stage_entered_at=entered, closed_at=closed, custom={}, archived=False, version=1,
            created_at=created, updated_at=max(entered, created))

    # activities

    def activities(self) -> Iterator[tuple[str, list[dict]]]:
        ids = iter(self.take_ids("activities", self.counts["activities"]))
        rows: list[dict] = []
        for i in range(self.n):
            for row in self.contact_activities(i):
                row["id"] = next(ids)
                rows.append(row)
            if len(rows) >= ROW_CHUNK:
                yield "activities", rows
                rows = []
        if rows:
            yield "activities", rows

    def contact_activities(self, i: int) -> list[dict]:
        """The contact's history; its latest call/email/meeting is exactly last_contacted_at."""
        rng, last = self.rng, self.last_contacted[i]
        start = self.window_start(i)
        company = self.companies_info[self.company_of[i]][0] if self.company_of[i] is not None else None
        context = (self.contact_id(i), company, self.deals_of.get(i), self.owner_of[i])
        out = []
        for k in range(self.activity_counts[i]):
            if last is not None and k == 0:
                kind, at = rng.choice(INTERACTIONS), last
            elif last is not None and rng.random() < 0.7:
                kind, at = rng.choice(INTERACTIONS), start + (last - start) * rng.random()
            else:
                kind, at = "note", start + (self.now - start) * rng.random()
            out.append(self.activity(kind, at, *context))
        return out

    def activity(self, kind: str, at: datetime, contact_id: int, company_id: int | None,
                 deals: list[int] | None, user_id: int) -> dict:
        rng = self.rng
        direction = duration = outcome = None
        if kind == "call":
            direction, duration = rng.choice(("outbound", "outbound", "inbound")), rng.randint(2, 45)
            outcome, subject, body = rng.choice(CALL_OUTCOMES), rng.choice(CALL_SUBJECTS), None
        elif kind == "email":
            direction, subject, body = rng.choice(("outbound", "inbound")), rng.choice(EMAIL_SUBJECTS), None
        elif kind == "meeting":
            duration, subject, body = rng.choice((30, 45, 60, 90)), rng.choice(MEETING_SUBJECTS), rng.choice(NOTE_BODIES)
        else:
            subject, body = rng.choice(NOTE_SUBJECTS), rng.choice(NOTE_BODIES)
        deal_id = rng.choice(deals) if deals and rng.random() < 0.5 else None
        return dict(kind=kind, direction=direction, occurred_at=at, duration_minutes=duration, outcome=outcome,
                    subject=subject, body=body, contact_id=contact_id, company_id=company_id, deal_id=deal_id,
                    user_id=user_id, email_id=None, version=1, created_at=at, updated_at=at)

    # tasks

    def tasks(self) -> list[dict]:
        rng = self.rng
        kinds = ("overdue", "today", "upcoming", "done", "recurring", "snoozed")
        rows = []
        for t, task_id in enumerate(self.take_ids("tasks", self.counts["tasks"])):
            kind = kinds[t] if t < len(kinds) else rng.choices(kinds, (20, 8, 40, 25, 4, 3))[0]
            rows.append(self.task(task_id, kind))
        return rows

    def task(self, task_id: int, kind: str) -> dict:
        rng, now = self.rng, self.now
        deal = rng.choice(self.deal_rows) if rng.random() < 0.4 else None
        i = self.deal_contact[deal["id"]] if deal else rng.randrange(self.n)
        company = self.companies_info[self.company_of[i]][1] if self.company_of[i] is not None else "them"
        title = rng.choice(TASK_TITLES).format(first=self.names[i][0], company=company,
                                               deal=deal["title"] if deal else company)
        due, done, snoozed, recurrence = self.task_times(kind)
        created = min(due, now) - timedelta(days=rng.uniform(1, 20))
        return dict(
            id=task_id, title=title, notes=None, due_at=due, assignee_id=self.owner_of[i],
            contact_id=None if deal else self.contact_id(i), company_id=None, deal_id=deal["id"] if deal else None,
            done_at=done, snoozed_until=snoozed, recurrence=recurrence,
            recurrence_start=due if recurrence else None, origin="manual", rule_name=None,
            created_by_id=self.ctx.actor_id, version=1, created_at=created, updated_at=done or created)

    def task_times(self, kind: str) -> tuple[datetime, datetime | None, datetime | None, str | None]:
        """(due, done_at, snoozed_until, recurrence) for a task of that kind, around now."""
        rng, now = self.rng, self.now
        day_end = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
        minutes_left = int((day_end - now).total_seconds() // 60)
        if kind == "overdue":
            return self.ago(0.05, 30), None, None, None
        if kind == "today":
            return now + timedelta(minutes=rng.randint(1, max(1, minutes_left - 1))), None, None, None
        if kind == "done":
            due = self.ago(1, 120)
            return due, min(now, due + timedelta(hours=rng.uniform(-48, 24))), None, None
        if kind == "snoozed":
            return self.ago(1, 10), None, now + timedelta(days=rng.uniform(1, 5)), None
        due = day_end + timedelta(days=rng.uniform(0.05, 45))
        return due, None, None, rng.choice(RECURRENCES) if kind == "recurring" else None


    # the service desk: a handful of cases per company, each with its thread, SLA due times and
    # (resolved ones) a CSAT answer; a quarterly NPS run. A random stream of their own, so the
    # rows before them are the same as before the service desk existed.

    def cases(self) -> Iterator[tuple[str, list[dict]]]:
        rng = random.Random(f"{self.seed}-cases")
        people = list(dict.fromkeys(uid for uid in (self.manager_id, self.ctx.actor_id) if uid))
        by_company: dict[int, list[int]] = {}
        for i, company in enumerate(self.company_of):
            if company is not None:
                by_company.setdefault(company, []).append(i)
        cases, entries, surveys = [], [], []
        for company, members in by_company.items():
            for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 5))):
                case = self.case(rng, self.take_ids("cases", 1)[0], company, rng.choice(members), people)
                cases.append(case)
                entries += self.case_thread(rng, case)
                if case["resolved_at"] is not None and rng.random() < 0.7:
                    surveys.append(self.csat(rng, case))
        surveys += self.nps(rng)
        if cases:
            yield "cases", cases
        for first in range(0, len(entries), ROW_CHUNK):
            yield "case_entries", entries[first:first + ROW_CHUNK]
        if surveys:
            yield "surveys", surveys

    def case(self, rng: random.Random, case_id: int, company: int, i: int, people: list[int]) -> dict:
        now = self.now
        info = self.companies_info[company]
        created = now - timedelta(days=rng.uniform(0.05, 240) if rng.random() < 0.85 else rng.uniform(0.05, 3))
        priority = rng.choice(CASE_PRIORITIES)
        first_h, resolve_h = CASE_TARGETS[priority]
        first_due, resolve_due = created + timedelta(hours=first_h), created + timedelta(hours=resolve_h)
        # most answered in time, some late; the newest may not be answered yet
        first = created + timedelta(hours=first_h * rng.uniform(0.05, 0.9 if rng.random() < 0.85 else 2.5))
        first = first if first < now else None
        resolved = (created + timedelta(hours=resolve_h * rng.uniform(0.2, 0.95 if rng.random() < 0.8 else 3)))
        resolved = resolved if first is not None and first < resolved < now and rng.random() < 0.9 else None
        closed = resolved + timedelta(days=3) if resolved is not None and resolved + timedelta(days=3) < now else None
        status = "closed" if closed else "resolved" if resolved else "new" if first is None else \
            rng.choice(("open", "open", "waiting"))
        assignee = rng.choice(people) if people and (first is not None or rng.random() < 0.5) else None
        return dict(
            id=case_id, subject=rng.choice(CASE_SUBJECTS), description="", contact_id=self.contact_id(i),
            company_id=info[0], deal_id=None, product_id=None, channel=rng.choice(CASE_CHANNELS),
            category=rng.choice(CASE_CATEGORIES), priority=priority, status=status, assignee_id=assignee,
            team="Americas" if info[4] == "US" else "EMEA", created_by=assignee, from_addr=None,
            first_response_at=first, resolved_at=resolved, closed_at=closed, sla_policy_id=None,
            first_response_due_at=first_due, resolution_due_at=resolve_due,
            sla_next_at=None if resolved or status == "waiting" else first_due if first is None else resolve_due,
            paused_at=None, paused_minutes=0, merged_into_id=None, version=1, created_at=created,
            updated_at=closed or resolved or first or created, **case_minutes(created, first, resolved))

    def case_thread(self, rng: random.Random, case: dict) -> list[dict]:
        """The customer's message, the first reply (at first_response_at), then follow-ups, replies and
        the odd internal note up to the resolution (or now)."""
        created, first = case["created_at"], case["first_response_at"]
        end = case["resolved_at"] or self.now

        def entry(at: datetime, direction: str, body: str, visibility: str = "public") -> dict:
            return dict(id=self.take_ids("case_entries", 1)[0], case_id=case["id"], visibility=visibility,
                        direction=direction, author_id=case["assignee_id"] if direction == "out" else None,
                        contact_id=case["contact_id"] if direction == "in" else None, body=body, email_id=None,
                        version=1, created_at=at, updated_at=at)

        rows = [entry(created, "in", case["subject"] + ".")]
        if first is None:
            return rows
        rows.append(entry(first, "out", rng.choice(CASE_REPLIES)))
        at = first
        for _ in range(rng.choice((0, 1, 2, 3, 4, 6))):
            at += (end - at) * rng.uniform(0.1, 0.5)
            if rng.random() < 0.2:
                rows.append(entry(at, "out", rng.choice(CASE_NOTES), "internal"))
            else:
                rows.append(entry(at, rng.choice(("in", "out")), rng.choice(CASE_FOLLOW_UPS + CASE_REPLIES)))
        return rows

    def csat(self, rng: random.Random, case: dict) -> dict:
        answered = rng.random() < 0.6
        responded = case["resolved_at"] + timedelta(hours=rng.uniform(0.5, 48))
        answered = answered and responded < self.now
        return self.survey(rng, kind="csat", case_id=case["id"], run_key=None, contact_id=case["contact_id"],
                           user_id=case["assignee_id"], team=case["team"], sent_at=case["resolved_at"],
                           responded_at=responded if answered else None,
                           score=rng.choice((5, 5, 5, 4, 4, 4, 3, 2, 1)) if answered else None)

    def nps(self, rng: random.Random) -> list[dict]:
        """Two quarterly runs, each to a fifth of the contacts; about a third answer."""
        rows = []
        for months_ago in (5, 2):
            sent = self.now - timedelta(days=30 * months_ago)
            for i in rng.sample(range(self.n), max(1, self.n // 5)):
                responded = sent + timedelta(days=rng.uniform(0.1, 14))
                answered = rng.random() < 0.35
                rows.append(self.survey(rng, kind="nps", case_id=None, run_key=f"nps-{sent:%Y-%m}",
                                        contact_id=self.contact_id(i), user_id=None, team=None, sent_at=sent,
                                        responded_at=responded if answered else None,
                                        score=rng.choice((10, 10, 9, 9, 9, 8, 8, 7, 6, 5, 3, 0)) if answered else None))
        return rows

    def survey(self, rng: random.Random, **values) -> dict:
        survey_id = self.take_ids("surveys", 1)[0]
        # a made-up token's hash: the demo's surveys were never emailed, so no link can answer them
        token = f"{survey_id:x}{rng.getrandbits(128):032x}".rjust(64, "0")[-64:]
        return dict(id=survey_id, token_hash=token, email_id=None, comment=None,
                    via="link" if values["responded_at"] else None, **values)


# --- loading -------------------------------------------------------------------------------


def load_demo(session: Session, *, contacts: int, seed: int, actor: Actor, now: datetime,
              progress: Callable[[str, int, int], None] | None = None) -> DemoSummary:
    """Load the demo set into an empty CRM, in the caller's transaction; one audit event."""
    if not 1 <= contacts <= MAX_CONTACTS:
        raise InvalidInput(f"demo contacts must be between 1 and {MAX_CONTACTS:,} (got {contacts})")
    if session.scalar(select(Contact.id).limit(1)) is not None:
        raise InvalidInput("the database already has contacts; load the demo into an empty CRM")
    dialect = session.bind.dialect.name
    if dialect == "postgresql":
        # the ids are assigned here from max(id); keep other writers out until commit
        session.execute(text(f"LOCK TABLE {', '.join(TABLES)} IN EXCLUSIVE MODE"))
    ctx = demo_context(session, actor)
    totals = planned_counts(ctx, contacts)
    _require_demo(session, actor, totals)
    done: Counter[str] = Counter()
    with bulk.search_index_deferred(session, ctx.first_ids), bulk.large_page_cache(session):
        for table, rows in demo_rows(ctx, contacts=contacts, seed=seed, now=now):
            bulk.insert_rows(session, TABLES[table], rows)
            done[table] += len(rows)
            if progress is not None and table in SUMMARY_TABLES:
                progress(table, done[table], totals[table])
    bulk.reset_sequences(session, tuple(t for t in TABLES.values() if "id" in t.c))
    summary = DemoSummary(**{name: done[name] for name in SUMMARY_TABLES})
    audit(session, actor=actor, entity="demo", entity_id=None, action="demo", now=now,
          summary=", ".join(f"{count} {name}" for name, count in asdict(summary).items()) + f" (seed {seed})")
    return summary


# what the demo's rows are, as commands would make them: records of every kind, owned by and
# assigned to the demo's users (so "someone else's" for the one who loads it)
DEMO_NEEDS = ("company.edit", "contact.edit", "contact.assign", "deal.edit", "deal.assign", "task.edit",
              "task.assign", "activity.log", "case.edit")


def _require_demo(session: Session, actor: Actor, totals: dict[str, int]) -> None:
    """Refuse unless the actor may make every row the demo adds: the demo's users need user.admin,
    the records the permission of each kind on other people's records."""
    if totals["users"]:
        permissions.require(session, actor, "user.admin")
    for action in DEMO_NEEDS:
        permissions.require(session, actor, action, owner=None)  # owner None: not the actor's own
