"""The real OpenID Connect flow in headless Chromium: the app (FORESIGHT_AUTH=oidc, [auth] in a secrets file
of the test's own) against a local identity provider on loopback (`oidc-provider-mock`, started here).
Two people sign in one after the other, each sees their own book, signs out; the admin finds both sign-ins on
the audit page."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures import demo_db
from fixtures.app_server import PAGE_TIMEOUT_MS, free_port, open_app_page, serve_app, settle, wait_heading

from services import audit, auth, db

oidc_provider_mock = pytest.importorskip("oidc_provider_mock", reason="pip install oidc-provider-mock")


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, dict[str, str]]]:
    """A private copy of the untrained demo, and its rep and CSM personas (id, name, email)."""
    folder = tmp_path_factory.mktemp("e2e-oidc")
    db_url = demo_db.private_copy(tmp_path_factory, demo_db.UNTRAINED, folder / "demo.db")
    table = db.read_table("people", db.get_engine(db_url)).set_index("person_id")
    chosen = {}
    for role in (auth.REP, auth.CSM, auth.ADMIN):
        person_id = auth.personas(table.reset_index()).set_index("role").loc[role, "person_id"]
        chosen[role] = {"id": person_id, "name": table.loc[person_id, "name"], "email": table.loc[person_id, "email"]}
    return db_url, chosen


@pytest.fixture(scope="module")
def oidc_app(people, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db_url, chosen = people
    users = [oidc_provider_mock.User(sub=p["email"], claims={"email": p["email"], "name": p["name"]})
             for p in chosen.values()]
    folder = tmp_path_factory.mktemp("e2e-oidc-app")
    with oidc_provider_mock.run_server_in_thread(port=0, user_claims=users) as provider:
        app_port = free_port()
        secrets = folder / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
            'cookie_secret = "e2e-cookie-secret-not-for-production"\n'
            'client_id = "foresight-e2e"\nclient_secret = "e2e-secret"\n'
            f'server_metadata_url = "http://127.0.0.1:{provider.server_port}/.well-known/openid-configuration"\n')
        with serve_app(db_url, folder / "streamlit.log", port=app_port, extra_args=["--secrets.files", str(secrets)],
                       extra_env={"FORESIGHT_AUTH": "oidc"}) as base_url:
            yield base_url


def _sign_in(page, base_url: str, email: str) -> None:
    page.goto(base_url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("button", name="Sign in").click(timeout=PAGE_TIMEOUT_MS)
    page.get_by_role("button", name=email).click(timeout=PAGE_TIMEOUT_MS)  # the provider's predefined user
    wait_heading(page, "Overview")
    settle(page)


def _sign_out(page, base_url: str):
    """Sign out; returns a fresh tab of the same browser context (cookies shared) on the sign-in screen."""
    # st.logout sends the browser to /auth/logout, which clears the identity cookie: wait for that answer,
    # then continue in a new tab so that no navigation the logout started can race the next visit.
    with page.expect_response(lambda r: "/auth/logout" in r.url, timeout=PAGE_TIMEOUT_MS):
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    fresh = page.context.new_page()  # the old tab is left open (closing it during the logout's navigation can hang)
    fresh.goto(base_url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
    fresh.get_by_role("button", name="Sign in").wait_for(timeout=PAGE_TIMEOUT_MS)
    return fresh


def test_two_people_sign_in_and_see_their_own_books(oidc_app: str, people, browser_page,
                                                    screenshot_dir: Path) -> None:
    db_url, chosen = people
    page = browser_page
    readers = {r: p for r, p in chosen.items() if r != auth.ADMIN}
    for role, person in readers.items():
        _sign_in(page, oidc_app, person["email"])
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert f"{person['name']}'s book" in body
        assert f"Signed in as {person['name']}" in page.locator('[data-testid="stSidebar"]').inner_text()
        others = [p["name"] for r, p in readers.items() if r != role]
        assert not any(f"{name}'s book" in body for name in others)
        page.screenshot(path=str(screenshot_dir / f"oidc_{role}.png"), full_page=True)
        page = _sign_out(page, oidc_app)
    signed_in = audit.entries(db.get_engine(db_url), action="sign_in")
    assert {p["id"] for p in readers.values()} <= set(signed_in.who)
    assert signed_in.details.str.contains('"mode": "oidc"').all()
    # The admin reads both sign-ins on the audit page.
    _sign_in(page, oidc_app, chosen[auth.ADMIN]["email"])
    open_app_page(page, oidc_app, "audit", "Audit log")
    for person in readers.values():
        page.get_by_label("Who (person id or os:user)").fill(person["id"])
        page.keyboard.press("Enter")
        settle(page, before_ms=500)
        assert "sign_in" in page.locator('[data-testid="stMain"]').inner_text()
    page.screenshot(path=str(screenshot_dir / "oidc_audit.png"), full_page=True)
