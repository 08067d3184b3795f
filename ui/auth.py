"""Sign-in for app.py: Streamlit's OpenID Connect (`st.login`, `st.user`) or, with no identity provider
configured, demo mode's "sign in as" picker. The principal is kept in `st.session_state`.

Configuration (`.streamlit/secrets.toml`, see the `.example`): `[auth]` is Streamlit's own OIDC section;
`[foresight]` may hold `roles` (a map from a `groups` claim value or a people role / job title to a
Foresight role), `groups_claim` (default "groups") and `admins` (e-mails that sign in as admin even when
the people table does not know them yet, to load the first data).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from services import audit
from services import auth as svc
from services.csv_out import to_csv_bytes
from ui import data

PRINCIPAL = "principal"
DEMO_PERSON = "demo_person"
SETUP = svc.Principal("setup", "Setup (no people loaded yet)", None, svc.ADMIN)


def _secrets(section: str) -> Mapping[str, Any]:
    try:
        return st.secrets.get(section) or {}
    except (FileNotFoundError, KeyError, OSError, st.errors.StreamlitSecretNotFoundError):
        return {}


def mode() -> str:
    """"oidc" or "demo"; stops the app with the reason when FORESIGHT_AUTH=oidc has no [auth]."""
    try:
        return svc.auth_mode(bool(_secrets("auth")), os.environ.get("FORESIGHT_AUTH"))
    except (RuntimeError, ValueError) as exc:
        st.error(str(exc), icon=":material/lock:")
        st.stop()
        raise


def current_principal() -> svc.Principal | None:
    """Who is signed in (None before sign-in)."""
    return st.session_state.get(PRINCIPAL)


def who() -> str:
    """The audit log's `who` for the signed-in person."""
    p = current_principal()
    return p.person_id if p else "anonymous"


def can(permission: str) -> bool:
    return svc.can(current_principal(), permission)


def _people() -> pd.DataFrame:
    url = data.current_url()
    return data.people(url) if data.has_accounts(url) else pd.DataFrame()


def _remember(principal: svc.Principal, how: str) -> svc.Principal:
    if st.session_state.get(PRINCIPAL) != principal:
        st.session_state[PRINCIPAL] = principal
        audit.record(data.engine(), principal.person_id, "sign_in", mode=how, role=principal.role,
                     email=principal.email)
    return principal


def _oidc_principal() -> svc.Principal:
    if not st.user.is_logged_in:
        st.title("Foresight")
        st.markdown("Sign in with your company account to see your accounts, deals and forecast.")
        st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login, key="auth_sign_in")
        st.stop()
    config = _secrets("foresight")
    email = st.user.get("email")
    groups = st.user.get(config.get("groups_claim", "groups")) or []
    groups = [groups] if isinstance(groups, str) else list(groups)
    admins = {e.lower() for e in config.get("admins", [])}
    try:
        try:
            principal = svc.principal_for_email(_people(), email, groups, config.get("roles"))
        except svc.SignInError:
            if not email or email.lower() not in admins:
                raise
            principal = svc.Principal(f"admin:{email.lower()}", email, email, svc.ADMIN)  # bootstrap admin
        return _remember(principal, "oidc")
    except svc.SignInError as exc:
        st.error(str(exc), icon=":material/person_off:")
        st.button("Sign out", on_click=st.logout, key="auth_sign_out_refused")
        st.stop()
        raise


def _demo_principal() -> svc.Principal:
    people = _people()
    if people.empty:  # nothing to pick from yet: setup may load the first data (Data page)
        st.session_state[PRINCIPAL] = SETUP
        return SETUP
    personas = svc.personas(people)
    ids = list(personas["person_id"])
    labels = {r.person_id: f"{r.name} ({svc.LABELS[r.role]})" for r in personas.itertuples()}
    if st.session_state.get(DEMO_PERSON) not in ids:
        admin = personas.loc[personas["role"] == svc.ADMIN, "person_id"]
        st.session_state[DEMO_PERSON] = admin.iloc[0] if not admin.empty else ids[0]
    person_id = st.sidebar.selectbox("Sign in as", ids, key=DEMO_PERSON, format_func=labels.get,
                                     help="Demo mode: pick a person to see the app as their role does.")
    principal = _remember(svc.principal_for_id(people, person_id, _secrets("foresight").get("roles")), "demo")
    st.warning(f"**Demo mode**: no identity provider is configured, so anyone on this machine can pick who to "
               f"be. You are {principal.label}; change it under *Sign in as* in the sidebar.",
               icon=":material/theater_comedy:")
    return principal


def sign_in() -> svc.Principal:
    """The signed-in principal (draws the sign-in screen and stops the run until there is one)."""
    if mode() == "oidc":
        principal = _oidc_principal()
        with st.sidebar:
            st.caption(f"Signed in as {principal.label}")
            st.button("Sign out", on_click=st.logout, key="auth_sign_out", icon=":material/logout:")
        return principal
    return _demo_principal()


def export_button(frame: pd.DataFrame, file_name: str, what: str, label: str = "Download CSV") -> None:
    """A CSV download of `frame` (through services.csv_out: cells cannot act as formulas); each download is
    written to the audit log. The CSV is built when the button is clicked, not on every rerun of the page
    (a few thousand rows took ~0.25 s a rerun)."""
    st.download_button(label, partial(to_csv_bytes, frame), file_name=file_name, mime="text/csv",
                       icon=":material/download:", on_click=_audit_export, args=(what, file_name, len(frame)))


def _audit_export(what: str, file_name: str, rows: int) -> None:
    audit.record(data.engine(), who(), "export", what=what, file_name=file_name, rows=rows)
