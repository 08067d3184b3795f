"""Sign-in and roles through AppTest: demo mode's "sign in as" for each role, and Streamlit's OIDC with
`at.user`. A rep sees only their book on every page; the scope selector cannot reach beyond the role; an
account outside it shows "not in your scope"; pages follow the role; the audit log names who did what."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from services import audit, auth, db
from services.hierarchy import Scope, account_ids_in_scope
from ui.auth import DEMO_PERSON

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT_S = 90
OIDC = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-secret",
        "client_id": "foresight", "client_secret": "secret",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def _people(url: str) -> pd.DataFrame:
    return db.read_table("people", db.get_engine(url))


def _persona(url: str, role: str) -> str:
    personas = auth.personas(_people(url))
    return personas.loc[personas.role == role, "person_id"].iloc[0]


def _as(person_id: str, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.session_state[DEMO_PERSON] = person_id
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _book(url: str, person_id: str) -> set[str]:
    engine = db.get_engine(url)
    accounts = db.read_table("accounts", engine)
    people = _people(url)
    principal = auth.principal_for_id(people, person_id)
    return account_ids_in_scope(accounts, people, principal.scope)


def _linked_ids(at: AppTest) -> set[str]:
    frames = [d.value for d in at.dataframe if "account_link" in d.value]
    assert frames, "no account list on the page"
    return set(frames[0]["account_link"].str.extract(r"account_id=(.*)")[0])


@pytest.fixture()
def rep(trained_db_url: str) -> dict[str, Any]:
    rep_id = _persona(trained_db_url, auth.REP)
    return {"url": trained_db_url, "id": rep_id, "book": _book(trained_db_url, rep_id),
            "name": _people(trained_db_url).set_index("person_id").loc[rep_id, "name"]}


def test_demo_mode_is_labelled_and_defaults_to_the_admin(demo_db_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert any("Demo mode" in w.value for w in at.warning)
    picker = at.selectbox(key=DEMO_PERSON)
    shown = {o.rsplit(" (", 1)[1].rstrip(")") for o in picker.options}
    assert {auth.LABELS[r] for r in (auth.REP, auth.MANAGER, auth.REGIONAL_VP, auth.CRO, auth.CSM, auth.CS_MANAGER,
                                     auth.ARCHITECT, auth.ADMIN)} <= shown
    assert picker.value == _persona(demo_db_url, auth.ADMIN)


def test_rep_sees_only_their_book_on_every_page(rep: dict[str, Any]) -> None:
    at = _as(rep["id"])
    assert any(f"{rep['name']}'s book" in c.value for c in at.caption)  # overview
    at.switch_page("pages/churn_risk.py").run()
    listed = _linked_ids(at)
    assert listed and listed <= rep["book"]
    at.switch_page("pages/adoption.py").run()
    assert _linked_ids(at) <= rep["book"]
    at.switch_page("pages/forecast.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(rep["name"] in c.value for c in at.caption)
    deals = [d.value for d in at.dataframe if "owner_id" in d.value]
    assert all(set(d.owner_id) <= {rep["id"]} for d in deals)


def test_scope_selector_cannot_reach_beyond_the_role(rep: dict[str, Any]) -> None:
    at = _as(rep["id"])
    people = _people(rep["url"]).set_index("person_id")
    assert at.selectbox(key="scope_region").options == ["All regions", people.loc[rep["id"], "region"]]
    assert [o for o in at.selectbox(key="scope_rep").options if o != "All reps"] == [rep["name"]]
    assert at.selectbox(key="scope_manager").options == ["All managers"]
    # Someone picked another rep's book, then signed in as this rep: the stale choice is clamped away.
    other = next(p for p in people.index[people.role == auth.REP] if p != rep["id"])
    at = _as(_persona(rep["url"], auth.ADMIN), "pages/churn_risk.py")
    at.selectbox(key="scope_rep").set_value(other).run()
    assert _linked_ids(at) and not _linked_ids(at) & rep["book"]
    at.selectbox(key=DEMO_PERSON).set_value(rep["id"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["scope_rep"] is None
    assert _linked_ids(at) <= rep["book"]


def test_account_outside_the_book_is_not_in_scope(rep: dict[str, Any]) -> None:
    accounts = db.read_table("accounts", db.get_engine(rep["url"]))
    outside = min(set(accounts.account_id) - rep["book"])
    inside = min(rep["book"])
    at = _as(rep["id"], "pages/account.py")
    at.text_input(key="account_id_input").input(outside).run()
    assert any("not in your scope" in e.value for e in at.error)
    assert not at.header
    at.text_input(key="account_id_input").input(inside).run()
    assert not at.error and inside in at.header[0].value


def _title_after_switch(at: AppTest, page: str) -> str:
    at.switch_page(page).run()
    return at.title[0].value


def _not_in_navigation(at: AppTest, page: str) -> bool:
    try:
        at.switch_page(page)
    except ValueError as exc:  # AppTest only switches to pages st.navigation registered
        return "Could not find a navigation page" in str(exc)
    return False


@pytest.mark.parametrize(("role", "allowed", "refused"), [
    (auth.REP, ["pages/forecast.py", "pages/where_to_grow.py"], ["pages/data.py", "pages/workbench.py", "pages/model_health.py",
                                       "pages/audit.py"]),
    (auth.CSM, ["pages/churn_risk.py", "pages/where_to_grow.py"], ["pages/forecast.py", "pages/data.py", "pages/workbench.py"]),
    (auth.ARCHITECT, ["pages/workbench.py", "pages/model_health.py"], ["pages/data.py", "pages/audit.py"]),
    (auth.ADMIN, ["pages/data.py", "pages/audit.py", "pages/model_health.py"], []),
])
def test_navigation_shows_only_the_roles_pages(trained_db_url: str, role: str, allowed: list[str],
                                               refused: list[str]) -> None:
    at = _as(_persona(trained_db_url, role))
    for page in allowed:
        assert _title_after_switch(at, page) != "Overview", page
    for page in refused:
        assert _not_in_navigation(at, page), page


def test_csm_sees_the_accounts_they_look_after(trained_db_url: str) -> None:
    csm = _persona(trained_db_url, auth.CSM)
    accounts = db.read_table("accounts", db.get_engine(trained_db_url))
    at = _as(csm, "pages/churn_risk.py")
    listed = _linked_ids(at)
    assert listed and listed <= set(accounts.account_id[accounts.csm_id == csm])


def test_architect_is_read_only_on_the_account_page(trained_db_url: str) -> None:
    at = _as(_persona(trained_db_url, auth.ARCHITECT), "pages/account.py")
    account = db.read_table("accounts", db.get_engine(trained_db_url)).account_id.iloc[0]
    at.text_input(key="account_id_input").input(account).run()
    assert at.header and "Log action" not in [b.label for b in at.button]


def test_oidc_matches_the_person_by_email_and_audits_the_sign_in(rep: dict[str, Any]) -> None:
    email = _people(rep["url"]).set_index("person_id").loc[rep["id"], "email"]
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": email.upper()}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any("Demo mode" in w.value for w in at.warning)
    assert any(f"{rep['name']}'s book" in c.value for c in at.caption)
    assert any("Signed in as" in c.value for c in at.sidebar.caption)
    log = audit.entries(db.get_engine(rep["url"]), action="sign_in")
    assert rep["id"] in set(log.who) and "oidc" in log.details[log.who == rep["id"]].iloc[0]


def test_oidc_refuses_an_unknown_email_and_asks_to_sign_in(demo_db_url: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": True, "email": "stranger@elsewhere.example"}
    at.run()
    assert any("not in the people table" in e.value for e in at.error)
    assert not at.title or at.title[0].value != "Overview"
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.secrets["auth"] = OIDC
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"]


def test_production_mode_without_an_identity_provider_refuses(demo_db_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORESIGHT_AUTH", "oidc")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S).run()
    assert any("FORESIGHT_AUTH=oidc" in e.value for e in at.error)
    assert not at.title


def test_audit_page_lists_a_commit_with_its_author(trained_db_url: str) -> None:
    cro = _persona(trained_db_url, auth.CRO)
    at = _as(cro, "pages/forecast.py")
    next(n for n in at.text_input if n.label.startswith("Commit for")).input("777,000")
    at.button[[b.label for b in at.button].index("Save commit")].click().run()
    assert not at.exception
    from services.forecast import read as fc
    saved = fc.commit_history(db.get_engine(trained_db_url), cro, fc.current_quarter(fc.nodes_at(
        db.get_engine(trained_db_url))), Scope())
    assert saved.submitted_by.iloc[0] == cro
    admin = _as(_persona(trained_db_url, auth.ADMIN), "pages/audit.py")
    table = admin.dataframe[0].value
    assert {"sign_in", "commit"} <= set(table.action)
    assert cro in set(table.who[table.action == "commit"])


def test_csv_export_is_the_reps_book_and_is_audited(rep: dict[str, Any]) -> None:
    at = _as(rep["id"], "pages/churn_risk.py")
    listed = _linked_ids(at)
    at.download_button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    log = audit.entries(db.get_engine(rep["url"]), action="export")
    assert list(log.who) == [rep["id"]]
    assert f'"rows": {len(listed)}' in log.details.iloc[0] and "at-risk list" in log.details.iloc[0]
