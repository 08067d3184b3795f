"""Who wants which events: stored choices per person, else the defaults of their role; and the scope check.

A subscription is (event type, channel) with a scope - `mine` (my accounts and deals, or me as a forecast
node), `team` (everyone below me in the manager tree), `region` (my region), `all` - and a frequency
(`immediate`, `daily` or `weekly` digest). The scope is always bounded by the role
(`services.auth.Principal.scope`): a rep's `all` is still only their book. A person with any stored row
uses only their stored rows (an unsubscribe is a stored row with `active` false).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import auth, db
from services.alerts import tables as T
from services.alerts.events import EVENT_TYPES
from services.hierarchy import region_people, scope_people

CHANNELS = ("inbox", "email", "webhook")
SCOPES = ("mine", "team", "region", "all")
FREQUENCIES = ("immediate", "daily", "weekly")
ACCOUNT_EVENTS = ("high_risk", "risk_up", "renewal_at_risk", "adoption_worse", "expansion_ready")
MODEL_EVENTS = ("drift", "model_rejected")

# role -> (event types, scope, e-mail frequency); every default also goes to the in-app inbox immediately
ROLE_DEFAULTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    auth.REP: (("high_risk", "renewal_at_risk", "commit_slipped", "expansion_ready"), "mine", "daily"),
    auth.MANAGER: (("high_risk", "risk_up", "commit_slipped", "forecast_drop", "commit_missing"), "team", "daily"),
    auth.REGIONAL_VP: (("high_risk", "commit_slipped", "forecast_drop", "commit_missing"), "team", "weekly"),
    auth.CRO: (("forecast_drop", "commit_slipped"), "all", "weekly"),
    auth.CSM: (ACCOUNT_EVENTS, "mine", "daily"),
    auth.CS_MANAGER: (ACCOUNT_EVENTS, "team", "daily"),
    auth.DATA_SCIENTIST: (MODEL_EVENTS, "all", "daily"),
    auth.ARCHITECT: (MODEL_EVENTS, "all", "weekly"),
    auth.ADMIN: (MODEL_EVENTS, "all", "daily"),
    auth.DATA_OWNER: (("model_rejected",), "all", "weekly"),
}
COLUMNS = ["person_id", "event_type", "channel", "scope", "frequency", "active"]


def defaults(person_id: str, role: str) -> pd.DataFrame:
    types, scope, email = ROLE_DEFAULTS.get(role, ((), "mine", "daily"))
    rows = [(person_id, t, ch, scope, freq, True) for t in types
            for ch, freq in (("inbox", "immediate"), ("email", email))]
    return pd.DataFrame(rows, columns=COLUMNS)


def stored(engine: Engine, person_id: str | None = None) -> pd.DataFrame:
    T.ensure(engine)
    q = sa.select(*[T.SUBSCRIPTIONS.c[c] for c in COLUMNS])
    if person_id is not None:
        q = q.where(T.SUBSCRIPTIONS.c.person_id == person_id)
    with engine.connect() as conn:
        return pd.read_sql(q, conn)


def for_person(engine: Engine, person_id: str, role: str) -> pd.DataFrame:
    """The person's subscriptions in force: their stored rows if any, else their role's defaults."""
    own = stored(engine, person_id)
    return own if not own.empty else defaults(person_id, role)


def save(engine: Engine, person_id: str, rows: pd.DataFrame) -> int:
    """Replace the person's subscriptions by `rows` (COLUMNS; person_id is forced), validated."""
    rows = rows.assign(person_id=person_id)[COLUMNS]
    for col, allowed in (("event_type", tuple(EVENT_TYPES)), ("channel", CHANNELS), ("scope", SCOPES),
                         ("frequency", FREQUENCIES)):
        bad = sorted(set(rows[col]) - set(allowed))
        if bad:
            raise ValueError(f"unknown {col} {', '.join(map(str, bad))}; choose among {', '.join(allowed)}")
    T.ensure(engine)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(T.SUBSCRIPTIONS.delete().where(T.SUBSCRIPTIONS.c.person_id == person_id))
        records = [{**r, "active": bool(r["active"]), "updated_at": now}
                   for r in rows.drop_duplicates(["event_type", "channel"]).to_dict("records")]
        if records:
            conn.execute(T.SUBSCRIPTIONS.insert(), records)
    return len(rows)


def all_in_force(engine: Engine, people: pd.DataFrame) -> pd.DataFrame:
    """Every person's active subscriptions in force (stored or default), with their role."""
    own = stored(engine)
    parts = []
    for p in people[people.role.isin(auth.ROLES)].itertuples():
        mine = own[own.person_id == p.person_id]
        parts.append((mine if not mine.empty else defaults(p.person_id, p.role)).assign(role=p.role))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*COLUMNS, "role"])
    return out[out.active.astype(bool)].reset_index(drop=True)


class Audience:
    """Which people an event concerns, and whether a subscriber with a scope may receive it."""

    def __init__(self, engine: Engine, people: pd.DataFrame | None = None) -> None:
        self.people = people if people is not None else db.read_table("people", engine)
        accounts = db.read_table("accounts", engine, columns=["account_id", "owner_id", "csm_id"])
        self.account_people = {r.account_id: {x for x in (r.owner_id, r.csm_id) if isinstance(x, str)}
                               for r in accounts.itertuples()}
        self.region = dict(zip(self.people.person_id, self.people.region, strict=True))
        self.role = dict(zip(self.people.person_id, self.people.role, strict=True))
        self._subtree: dict[str, set[str]] = {}
        self._regions: dict[str, set[str]] = {}

    def subtree(self, person_id: str) -> set[str]:
        if person_id not in self._subtree:
            self._subtree[person_id] = scope_people(self.people, person_id)
        return self._subtree[person_id]

    def in_region(self, region: str) -> set[str]:
        if region not in self._regions:
            self._regions[region] = region_people(self.people, region)
        return self._regions[region]

    def concerned(self, event: dict) -> set[str]:
        """The people whose book the event is in: the account's owner and CSM, or the node person."""
        if event.get("account_id"):
            return self.account_people.get(event["account_id"], set()) | (
                {event["person_id"]} if event.get("person_id") else set())
        return {event["person_id"]} if event.get("person_id") else set()

    def allows(self, subscriber: str, scope: str, event: dict) -> bool:
        """Whether `subscriber` with `scope` receives `event`; never outside the subscriber's role bound."""
        role = self.role.get(subscriber)
        who = self.concerned(event)
        if not who:  # model events: for those who may see model health, whatever the scope
            return auth.can(auth.Principal(subscriber, "", None, role), "model_health") if role else False
        if role in auth.BOUNDED and not who & self.subtree(subscriber):
            return False  # outside the role's bound, whatever was asked for
        if scope == "mine":
            return subscriber in who
        if scope == "team":
            return bool(who & self.subtree(subscriber))
        if scope == "region":
            region = self.region.get(subscriber)
            return isinstance(region, str) and bool(region) and bool(who & self.in_region(region))
        return scope == "all"
