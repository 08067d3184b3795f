"""services/auth.py (principals, roles, permissions, mode), the scope bound in services/hierarchy.py,
the audit log (services/audit.py) and the serving rules of ui/serve.py."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services import audit, auth
from services.hierarchy import NotInScope, Scope, filter_accounts, require_in_scope, resolve_scope
from ui.serve import server_args

PEOPLE = pd.DataFrame([
    ("P1", "Cara Cro", "cro", None, None, "cara@x.com"),
    ("P2", "Vic Vp", "regional_vp", "P1", "EMEA", "vic@x.com"),
    ("P3", "Mia Manager", "manager", "P2", "EMEA", "mia@x.com"),
    ("P4", "Rex Rep", "rep", "P3", "EMEA", "Rex@X.com"),
    ("P5", "Ray Rep", "rep", "P3", "EMEA", "ray@x.com"),
    ("P6", "Cas Csm Lead", "cs_manager", "P1", "EMEA", "cas@x.com"),
    ("P7", "Cy Csm", "csm", "P6", "EMEA", None),
    ("P8", "Ann Architect", "architect", None, None, "ann@x.com"),
    ("P9", "Twin", "rep", "P3", "EMEA", "twin@x.com"),
    ("P10", "Twin Too", "rep", "P3", "EMEA", "twin@x.com"),
], columns=["person_id", "name", "role", "manager_id", "region", "email"])
ACCOUNTS = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "owner_id": ["P4", "P5", "P5"],
                         "csm_id": ["P7", None, "P7"]})


def test_principal_is_matched_by_email_case_insensitively() -> None:
    p = auth.principal_for_email(PEOPLE, "rex@x.com")
    assert (p.person_id, p.role, p.scope) == ("P4", auth.REP, Scope(within="P4"))


@pytest.mark.parametrize(("email", "message"), [
    (None, "no e-mail"), ("nobody@x.com", "not in the people table"), ("twin@x.com", "e-mails must be unique")])
def test_sign_in_refusals_say_why(email: str | None, message: str) -> None:
    with pytest.raises(auth.SignInError, match=message):
        auth.principal_for_email(PEOPLE, email)


def test_groups_claim_and_titles_map_to_roles() -> None:
    role_map = {"foresight-admins": auth.ADMIN, "Account Executive": auth.REP}
    assert auth.principal_for_email(PEOPLE, "rex@x.com", ["staff", "foresight-admins"], role_map).role == auth.ADMIN
    assert auth.map_role("Account Executive", (), role_map) == auth.REP
    with pytest.raises(auth.SignInError, match="not a Foresight role"):
        auth.map_role("Chief of Vibes")


def test_what_each_role_sees() -> None:
    def book(person_id: str) -> set[str]:
        scope = auth.principal_for_id(PEOPLE, person_id).scope
        return set(filter_accounts(ACCOUNTS, resolve_scope(PEOPLE, scope)).account_id)

    assert book("P4") == {"A1"}  # rep: own book
    assert book("P3") == book("P2") == book("P1") == {"A1", "A2", "A3"}  # manager, VP, CRO: subtree
    assert book("P7") == book("P6") == {"A1", "A3"}  # CSM and CS manager: by csm_id
    assert auth.principal_for_id(PEOPLE, "P8").scope.within is None  # architect: everything


def test_a_requested_scope_is_intersected_with_the_bound() -> None:
    assert resolve_scope(PEOPLE, Scope(rep_id="P5", within="P4")) == set()
    assert resolve_scope(PEOPLE, Scope(region="EMEA", within="P4")) == {"P4"}
    assert resolve_scope(PEOPLE, Scope(rep_id="P4", within="P3")) == {"P4"}
    with pytest.raises(NotInScope, match="A2 is not in your scope"):
        require_in_scope({"A1"}, "A2")


def test_permissions_by_role() -> None:
    rep, architect = auth.principal_for_id(PEOPLE, "P4"), auth.principal_for_id(PEOPLE, "P8")
    assert auth.can(rep, "enter_commit") and not auth.can(rep, "data") and not auth.can(rep, "workbench")
    assert auth.can(architect, "workbench") and auth.can(architect, "model_health")
    assert not auth.can(architect, "log_action") and not auth.can(architect, "data")
    assert not auth.can(None, "overview")
    with pytest.raises(PermissionError, match="may not manage models"):
        auth.require(rep, "manage_models")
    with pytest.raises(KeyError):
        auth.can(rep, "no_such_permission")


def test_demo_personas_cover_each_role_once() -> None:
    personas = auth.personas(PEOPLE)
    assert list(personas.role) == [r for r in auth.ROLES if r in set(PEOPLE.role)]
    assert personas.set_index("role").loc[auth.REP, "person_id"] == "P10"  # first by id: "P10" < "P4"


def test_auth_mode() -> None:
    assert auth.auth_mode(False, None) == "demo"
    assert auth.auth_mode(True, "demo") == "oidc"  # demo mode is impossible once [auth] is configured
    with pytest.raises(RuntimeError, match="no \\[auth\\] section"):
        auth.auth_mode(False, "oidc")
    with pytest.raises(ValueError, match="FORESIGHT_AUTH must be"):
        auth.auth_mode(False, "saml")


def test_audit_log_appends_and_reads_newest_first(engine) -> None:
    audit.record(engine, "P4", "sign_in", mode="demo")
    audit.record(engine, "os:ci", "train", models="all")
    log = audit.entries(engine)
    assert list(log.action) == ["train", "sign_in"] and list(log.who) == ["os:ci", "P4"]
    assert '"mode": "demo"' in log.details.iloc[1]
    assert list(audit.entries(engine, who="P4").action) == ["sign_in"]
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(engine, "P4", "delete_everything")
    with pytest.raises(ValueError, match="needs who"):
        audit.record(engine, "", "export")


def test_demo_mode_serves_on_loopback_only(tmp_path: Path) -> None:
    none = str(tmp_path / "missing.toml")
    args = server_args(["--secrets.files", none, "--server.address", "0.0.0.0", "--server.port", "1"], {})
    assert args[-2:] == ["--server.address", "127.0.0.1"] and "0.0.0.0" not in args
    with pytest.raises(RuntimeError, match="FORESIGHT_AUTH=oidc"):
        server_args(["--secrets.files", none], {"FORESIGHT_AUTH": "oidc"})
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://h/oauth2callback"\ncookie_secret = "s"\n')
    args = ["--secrets.files", str(secrets), "--server.address", "0.0.0.0"]
    assert server_args(args, {"FORESIGHT_AUTH": "oidc"}) == args
