"""Getting in: first-run setup, sign-in, throttling, CSRF, sessions, second factor, resets."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.web.admin.helpers import PASSWORD, csrf, login, make_user, post, signed_in
from tidings.bootstrap import Runtime
from tidings.db.tables import outbox
from tidings.mail import links
from tidings.services import accounts, runtime_settings, setup


def _setup_form(token: str = "", **overrides: str) -> dict[str, str]:
    data = {"email": "owner@example.org", "name": "Olga", "password": PASSWORD,
            "publisher_name": "The Gazette", "postal_address": "1 Main St\nSpringfield",
            "from_email": "news@example.org"}
    data.update(overrides)
    return data


def test_a_fresh_install_offers_only_the_setup_notice(client: TestClient) -> None:
    for path in ("/admin", "/admin/lists", "/admin/settings", "/admin/login"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/setup-pending"
    page = client.get("/admin/setup-pending")
    assert "setup link" in page.text


def test_the_setup_link_creates_the_first_admin_once(client: TestClient,
                                                     runtime: Runtime) -> None:
    url = links.setup_url(runtime.settings.base_url, runtime.tokens)
    path = url.removeprefix(runtime.settings.base_url)
    token = csrf(client, path)
    response = client.post(path, data={**_setup_form(), "csrf": token},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    assert client.get("/admin").status_code == 200  # signed in straight away
    values = runtime_settings.get_all(runtime.db)
    assert values["publisher.name"] == "The Gazette"
    assert values["publisher.postal_address"] == "1 Main St\nSpringfield"
    assert values["mail.from_email"] == "news@example.org"
    assert values["setup.completed"] is True
    assert not setup.pending(runtime.db)
    # Once used, the link is dead, even with a valid form.
    again = client.get(path)
    assert again.status_code == 400
    replay = client.post(path, data={**_setup_form(email="intruder@example.org"),
                                     "csrf": token}, follow_redirects=False)
    assert replay.status_code in (400, 403)
    assert "intruder" not in client.get("/admin/users").text


def test_setup_refuses_forged_expired_and_incomplete_input(client: TestClient,
                                                          runtime: Runtime) -> None:
    assert client.get("/admin/setup/forged-token").status_code == 400
    old = links.setup_url(runtime.settings.base_url, runtime.tokens,
                          now=time.time() - links.SETUP_MAX_AGE - 120)
    assert client.get(old.removeprefix(runtime.settings.base_url)).status_code == 410
    path = links.setup_url(runtime.settings.base_url, runtime.tokens).removeprefix(
        runtime.settings.base_url)
    response = client.post(path, data={**_setup_form(postal_address="  "),
                                       "csrf": csrf(client, path)})
    assert response.status_code == 422 and "postal address" in response.text
    assert setup.pending(runtime.db)  # nothing half-applied


def test_sign_in_and_out(client: TestClient, runtime: Runtime) -> None:
    make_user(runtime, "ann@example.org")
    wrong = login(client, "ann@example.org", "not the password")
    assert wrong.status_code == 401 and "wrong" in wrong.text
    unknown = login(client, "nobody@example.org", "whatever-password")
    assert unknown.status_code == 401 and unknown.text.count("wrong") == wrong.text.count("wrong")
    ok = login(client, "ANN@example.org")
    assert ok.status_code == 303
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    assert client.get("/admin").status_code == 200
    post(client, "/admin/logout")
    assert client.get("/admin", follow_redirects=False).headers["location"].startswith(
        "/admin/login")


def test_sign_in_never_redirects_elsewhere(client: TestClient, runtime: Runtime) -> None:
    make_user(runtime, "ann@example.org")
    token = csrf(client, "/admin/login")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.cookies.clear()
        token = csrf(client, "/admin/login")
        response = client.post("/admin/login", data={
            "email": "ann@example.org", "password": PASSWORD, "next": target, "csrf": token},
            follow_redirects=False)
        assert response.headers["location"] == "/admin"


def test_failed_sign_ins_lock_the_account_with_a_clear_message(client: TestClient,
                                                              runtime: Runtime) -> None:
    make_user(runtime, "ann@example.org")
    for _ in range(5):
        assert login(client, "ann@example.org", "wrong password!").status_code in (401, 429)
    locked = login(client, "ann@example.org")  # even the right password waits
    assert locked.status_code == 429
    assert re.search(r"Try again in \d+ minutes?", locked.text)
    assert int(locked.headers["retry-after"]) > 0
    make_user(runtime, "bob@example.org")
    assert login(client, "bob@example.org").status_code == 303  # other accounts unaffected


def test_failed_sign_ins_from_one_address_are_throttled(client: TestClient,
                                                       runtime: Runtime) -> None:
    make_user(runtime, "ann@example.org")
    for i in range(20):
        login(client, f"guess{i}@example.org", "wrong password!")
    response = login(client, "ann@example.org")
    assert response.status_code == 429 and "network address" in response.text


def test_forms_without_a_valid_csrf_token_are_refused(client: TestClient,
                                                      runtime: Runtime) -> None:
    signed_in(client, runtime)
    data = {"slug": "daily", "name": "Daily"}
    assert client.post("/admin/lists/new", data=data).status_code == 403
    assert client.post("/admin/lists/new", data={**data, "csrf": "x" * 32}).status_code == 403
    other = TestClient(client.app, base_url="https://news.example.org")
    foreign = csrf(other, "/admin/login")  # a genuine token, but for another page and session
    assert client.post("/admin/lists/new", data={**data, "csrf": foreign}).status_code == 403
    cross_site = client.post("/admin/lists/new", data={**data, "csrf": csrf(client, "/admin")},
                             headers={"origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert "daily" not in client.get("/admin/lists").text
    assert post(client, "/admin/lists/new", data).status_code == 303
    assert "Daily" in client.get("/admin/lists").text


def test_a_login_form_needs_its_token_too(client: TestClient, runtime: Runtime) -> None:
    make_user(runtime, "ann@example.org")
    response = client.post("/admin/login", data={"email": "ann@example.org",
                                                 "password": PASSWORD})
    assert response.status_code == 403


def test_changing_the_password_ends_every_other_session(app: FastAPI,
                                                        runtime: Runtime) -> None:
    make_user(runtime, "ann@example.org")
    with TestClient(app, base_url="https://news.example.org") as laptop, \
            TestClient(app, base_url="https://news.example.org") as phone:
        login(laptop, "ann@example.org")
        login(phone, "ann@example.org")
        assert phone.get("/admin").status_code == 200
        response = post(laptop, "/admin/account/password",
                        {"current_password": PASSWORD, "new_password": "a whole new secret"})
        assert response.status_code == 303
        assert laptop.get("/admin").status_code == 200  # this session continues
        gone = phone.get("/admin", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/admin/login")
        phone.cookies.clear()
        assert login(phone, "ann@example.org").status_code == 401
        assert login(phone, "ann@example.org", "a whole new secret").status_code == 303


def test_a_disabled_user_is_signed_out_at_once(app: FastAPI, runtime: Runtime) -> None:
    make_user(runtime, "boss@example.org")
    make_user(runtime, "ed@example.org")
    with TestClient(app, base_url="https://news.example.org") as boss, \
            TestClient(app, base_url="https://news.example.org") as ed:
        login(boss, "boss@example.org")
        login(ed, "ed@example.org")
        uid = next(u for u in _users(runtime) if u.email == "ed@example.org").uid
        post(boss, f"/admin/users/{uid}/active", {"active": "false"})
        assert ed.get("/admin", follow_redirects=False).status_code == 303
        ed.cookies.clear()
        assert "disabled" in login(ed, "ed@example.org").text


def _users(runtime: Runtime) -> list:  # type: ignore[type-arg]
    from tidings.services import team

    return team.all_users(runtime.db)


def _enable_totp(client: TestClient) -> str:
    """Turn the second factor on with the current code; return the key."""
    page = client.get("/admin/account").text
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page)
    sealed = re.search(r'name="sealed" value="([^"]+)"', page)
    assert secret and sealed
    response = post(client, "/admin/account/totp", {
        "sealed": sealed.group(1), "code": pyotp.TOTP(secret.group(1)).now(),
        "password": PASSWORD})
    assert response.status_code == 303
    return secret.group(1)


def _next_code(secret: str) -> str:
    """The next time step's code: accepted now (one step of clock drift is allowed), and
    later than the step enrolment used, whatever the timing of the test."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + totp.interval)


def test_the_second_factor_is_asked_for_and_cannot_be_replayed(client: TestClient,
                                                                runtime: Runtime) -> None:
    signed_in(client, runtime)
    secret = _enable_totp(client)
    assert "Two-factor sign-in is on" in client.get("/admin/account").text
    post(client, "/admin/logout")
    step = login(client, "ann@example.org")
    assert step.headers["location"] == "/admin/login/code"
    assert client.get("/admin", follow_redirects=False).status_code == 303  # not yet in
    token = csrf(client, "/admin/login/code")
    wrong = client.post("/admin/login/code", data={"code": "000000", "csrf": token})
    assert wrong.status_code == 401
    code = _next_code(secret)
    ok = client.post("/admin/login/code", data={"code": code, "csrf": token},
                     follow_redirects=False)
    assert ok.status_code == 303
    assert client.get("/admin").status_code == 200
    post(client, "/admin/logout")
    login(client, "ann@example.org")
    replay = client.post("/admin/login/code", data={
        "code": code, "csrf": csrf(client, "/admin/login/code")})
    assert replay.status_code == 401 and "used already" in replay.text


def test_a_password_reset_does_not_skip_the_second_factor(client: TestClient,
                                                          runtime: Runtime) -> None:
    signed_in(client, runtime)
    secret = _enable_totp(client)
    post(client, "/admin/logout")
    client.cookies.clear()
    response = client.post("/admin/forgot", data={"email": "ann@example.org",
                                                  "csrf": csrf(client, "/admin/forgot")})
    assert "a link to choose a new password" in response.text
    with runtime.db.read() as conn:
        queued = conn.execute(select(outbox).where(outbox.c.kind == "password_reset")).all()
    assert len(queued) == 1 and queued[0].to_email == "ann@example.org"
    user = accounts.get(runtime.db, queued[0].payload["user_id"])
    assert user is not None
    path = links.password_reset_url(runtime.settings.base_url, runtime.tokens, user.id,
                                     user.session_version).removeprefix(
        runtime.settings.base_url)
    done = client.post(path, data={"password": "brand new password",
                                   "csrf": csrf(client, path)}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get(path).status_code == 400  # the link died with its use
    step = login(client, "ann@example.org", "brand new password")
    assert step.headers["location"] == "/admin/login/code"
    assert client.get("/admin", follow_redirects=False).status_code == 303
    ok = client.post("/admin/login/code", data={
        "code": _next_code(secret), "csrf": csrf(client, "/admin/login/code")},
        follow_redirects=False)
    assert ok.status_code == 303 and client.get("/admin").status_code == 200


def test_reset_requests_do_not_reveal_accounts(client: TestClient, runtime: Runtime) -> None:
    make_user(runtime, "ann@example.org")
    known = client.post("/admin/forgot", data={"email": "ann@example.org",
                                               "csrf": csrf(client, "/admin/forgot")})
    unknown = client.post("/admin/forgot", data={"email": "zed@example.org",
                                                 "csrf": csrf(client, "/admin/forgot")})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    with runtime.db.read() as conn:
        assert conn.execute(select(outbox.c.to_email)).scalars().all() == ["ann@example.org"]


@pytest.mark.parametrize("path", ["/admin/settings", "/admin/users", "/admin/api-keys",
                                  "/admin/events"])
def test_editors_cannot_reach_administration(client: TestClient, runtime: Runtime,
                                             path: str) -> None:
    from tidings.domain.roles import Role

    signed_in(client, runtime, role=Role.EDITOR)
    assert client.get(path).status_code == 403


def test_viewers_read_but_cannot_change(client: TestClient, runtime: Runtime) -> None:
    from tidings.domain.roles import Role

    signed_in(client, runtime, role=Role.VIEWER)
    assert client.get("/admin/lists").status_code == 200
    assert "New list" not in client.get("/admin/lists").text
    assert client.get("/admin/lists/new").status_code == 403
    assert post(client, "/admin/lists/new", {"slug": "x", "name": "X"},
                page="/admin/lists").status_code == 403


def test_pages_send_a_strict_content_security_policy(client: TestClient,
                                                    runtime: Runtime) -> None:
    signed_in(client, runtime)
    headers = client.get("/admin").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
