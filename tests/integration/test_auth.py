"""Integration: signing in to the web console against the real daemon. POST /api/auth/login
(JSON or a form) sets the dw_session cookie (HttpOnly, SameSite=Strict, Path=/, Secure with
auth.cookie_secure); GET /api/auth/me says who is signed in with the CSRF token; a state change
authenticated by the cookie needs X-CSRF-Token (403 without, allowed per role with it), bearer
tokens need none; a viewer's session cannot do a responder's things; logout ends the session;
five wrong passwords lock the name out (429 with Retry-After, over on the test clock); bodies
and fields have limits with a 4xx reason; console assets carry the Content-Security-Policy;
`dojowatch passwd` prints Argon2id hashes and check-config rejects bad ones at file:line:col;
sessions survive a restart."""
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile

from dwtest import BINARY, EXAMPLE, TOKENS, Daemon, env_with_tokens, run, test

PASSWORDS = {"admin": "admin-pass-1", "oncall": "oncall-pass-2", "viewer": "viewer-pass-3"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def passwd(stdin, *args):
    p = subprocess.run([BINARY, "passwd"] + list(args), input=stdin, capture_output=True,
                       timeout=60, env=env_with_tokens())
    return p.returncode, p.stdout.decode(), p.stderr.decode()


_hashes = {}


def hashes():
    """One Argon2id hash per example account, made by `dojowatch passwd` once."""
    if not _hashes:
        for user, pw in PASSWORDS.items():
            rc, out, err = passwd((pw + "\n").encode())
            assert rc == 0, err
            _hashes[user] = out.strip()
    return _hashes


def auth_env(extra=None):
    h = hashes()
    env = {"DOJOWATCH_ADMIN_PASSWORD_HASH": h["admin"],
           "DOJOWATCH_RESPONDER_PASSWORD_HASH": h["oncall"],
           "DOJOWATCH_VIEWER_PASSWORD_HASH": h["viewer"]}
    env.update(extra or {})
    return env_with_tokens(env)


def daemon(**kw):
    kw.setdefault("env", auth_env())
    return Daemon(**kw)


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        vals = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(vals) <= 1, (name, vals)
        return vals[0] if vals else None

    def json(self):
        return json.loads(self.body)


def call(d, method, path, body=None, cookie=None, csrf=None, token=None, headers=None):
    """One request; a dict body goes as JSON. Keeps every header (Set-Cookie included)."""
    hdrs = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    if cookie:
        hdrs["Cookie"] = "dw_session=" + cookie
    if csrf:
        hdrs["X-CSRF-Token"] = csrf
    if token:
        hdrs["Authorization"] = "Bearer " + TOKENS.get(token, token)
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    out = Answer(r.status, r.getheaders(), r.read())
    conn.close()
    return out


def login(d, user, password=None, **kw):
    return call(d, "POST", "/api/auth/login",
                {"username": user, "password": password or PASSWORDS[user]}, **kw)


def session_of(r):
    """The cookie's value and its attributes from a Set-Cookie."""
    sc = r.header("Set-Cookie")
    assert sc, r.headers
    parts = [p.strip() for p in sc.split(";")]
    name, _, value = parts[0].partition("=")
    assert name == "dw_session", sc
    return value, parts[1:]


def sign_in(d, user):
    r = login(d, user)
    assert r.status == 200, (r.status, r.body)
    cookie, _ = session_of(r)
    return cookie, r.json()["data"]["csrf_token"]


def error_of(r):
    doc = r.json()
    return doc["errorType"], doc["error"]


@test
def login_sets_a_strict_http_only_session_cookie():
    with daemon() as d:
        r = login(d, "admin")
        assert r.status == 200, (r.status, r.body)
        cookie, attrs = session_of(r)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie), cookie
        assert attrs == ["Path=/", "Max-Age=604800", "HttpOnly", "SameSite=Strict"], attrs
        assert r.header("Cache-Control") == "no-store", r.headers
        data = r.json()["data"]
        assert data["user"] == "admin" and data["role"] == "admin" and data["via"] == "session"
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", data["csrf_token"]) and data["csrf_token"] != cookie
        assert data["csrf_header"] == "X-CSRF-Token", data
        for k in ("created_at", "expires_at", "absolute_expires_at"):
            assert data[k].endswith("Z"), data
        # A form works too, and each sign-in is its own session.
        f = call(d, "POST", "/api/auth/login", "username=oncall&password=oncall-pass-2",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert f.status == 200 and f.json()["data"]["role"] == "responder", (f.status, f.body)
        assert session_of(f)[0] != cookie
        assert "signed in" in d.logs() and "oncall-pass-2" not in d.logs()


@test
def cookie_is_secure_with_auth_cookie_secure():
    text = open(EXAMPLE).read()
    assert "  # cookie_secure: true" in text
    cfg = os.path.join(tempfile.mkdtemp(prefix="dwit-auth-"), "secure.yaml")
    with open(cfg, "w") as f:
        f.write(text.replace("  # cookie_secure: true", "  cookie_secure: true", 1))
    with daemon(config=cfg) as d:
        _, attrs = session_of(login(d, "viewer"))
        assert attrs[-1] == "Secure" and "HttpOnly" in attrs, attrs


@test
def me_says_who_is_signed_in():
    with daemon() as d:
        cookie, csrf = sign_in(d, "oncall")
        r = call(d, "GET", "/api/auth/me", cookie=cookie)
        assert r.status == 200, (r.status, r.body)
        data = r.json()["data"]
        assert (data["user"], data["role"], data["via"], data["csrf_token"]) == \
            ("oncall", "responder", "session", csrf), data
        assert r.header("Cache-Control") == "no-store"
        t = call(d, "GET", "/api/auth/me", token="viewer")
        assert t.status == 200 and t.json()["data"] == {"user": "viewer", "role": "viewer",
                                                         "via": "token"}, t.body
        n = call(d, "GET", "/api/auth/me")
        assert n.status == 401 and "sign in (POST /api/auth/login)" in error_of(n)[1], n.body


@test
def a_cookie_state_change_needs_the_csrf_token_and_a_token_does_not():
    with daemon() as d:
        cookie, csrf = sign_in(d, "admin")
        r = call(d, "POST", "/-/reload", cookie=cookie)
        assert r.status == 403, (r.status, r.body)
        assert error_of(r) == ("csrf", "missing X-CSRF-Token header: a POST signed in by cookie "
                               "must carry the session's CSRF token (csrf_token of GET "
                               "/api/auth/me)"), r.body
        r = call(d, "POST", "/-/reload", cookie=cookie, csrf="A" * 43)
        assert r.status == 403 and error_of(r)[1].startswith("wrong X-CSRF-Token"), r.body
        _, other = sign_in(d, "admin")  # another session's token is not this one's
        assert call(d, "POST", "/-/reload", cookie=cookie, csrf=other).status == 403
        r = call(d, "POST", "/-/reload", cookie=cookie, csrf=csrf)
        assert r.status == 200, (r.status, r.body)
        # Reading needs no CSRF token; a bearer token never does.
        assert call(d, "GET", "/api/plan", cookie=cookie).status == 200
        assert call(d, "POST", "/-/reload", token="admin").status == 200


@test
def roles_hold_for_sessions():
    with daemon() as d:
        viewer, vcsrf = sign_in(d, "viewer")
        oncall, ocsrf = sign_in(d, "oncall")
        plan = call(d, "GET", "/api/plan", cookie=viewer)
        assert plan.status == 200, plan.body
        check = re.search(r'"id":\s*"([^"]+)"[^{}]*"class"', plan.body.decode()).group(1)
        path = "/api/plan/checks/%s/review" % check
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = call(d, "POST", path, "note=ok", cookie=viewer, csrf=vcsrf, headers=form)
        assert r.status == 403, (r.status, r.body)
        assert error_of(r) == ("forbidden", "forbidden: this route needs the responder role; "
                               "user 'viewer' has viewer"), r.body
        assert call(d, "POST", "/-/reload", cookie=viewer, csrf=vcsrf).status == 403
        r = call(d, "POST", path, "note=ok", cookie=oncall, csrf=ocsrf, headers=form)
        assert r.status == 200 and r.json()["data"]["by"] == "oncall", (r.status, r.body)
        assert call(d, "POST", "/-/reload", cookie=oncall, csrf=ocsrf).status == 403


@test
def logout_ends_the_session():
    with daemon() as d:
        cookie, csrf = sign_in(d, "admin")
        r = call(d, "POST", "/api/auth/logout", cookie=cookie)
        assert r.status == 403 and error_of(r)[0] == "csrf", (r.status, r.body)
        r = call(d, "POST", "/api/auth/logout", cookie=cookie, csrf=csrf)
        assert r.status == 200 and r.json()["data"] == {"signed_out": True, "user": "admin"}
        value, attrs = session_of(r)
        assert value == "" and "Max-Age=0" in attrs, r.headers
        r = call(d, "GET", "/api/plan", cookie=cookie)
        assert r.status == 401, (r.status, r.body)
        assert error_of(r)[1].startswith("no such session"), r.body
        assert session_of(r)[0] == ""  # the stale cookie is cleared
        assert call(d, "GET", "/api/auth/me", cookie=cookie).status == 401
        # Signing out again, or without a session, just clears the cookie.
        r = call(d, "POST", "/api/auth/logout", cookie=cookie)
        assert r.status == 200 and r.json()["data"] == {"signed_out": False}


@test
def wrong_passwords_lock_the_name_out_with_retry_after():
    with daemon(args=["--test-clock"]) as d:
        for user in ("admin", "nobody"):
            for _ in range(5):
                r = login(d, user, "wrong")
                assert r.status == 401, (r.status, r.body)
                assert error_of(r) == ("unauthorized", "wrong user name or password"), r.body
            r = login(d, user, PASSWORDS.get(user, "x"))
            assert r.status == 429, (user, r.status, r.body)
            assert r.header("Retry-After") == "60", r.headers
            assert error_of(r) == ("too_many_requests", "too many failed sign-ins for this user "
                                   "name; try again in 60 s"), r.body
        assert sign_in(d, "viewer")  # other names are not locked
        r = call(d, "POST", "/-/test/clock", "advance=1m", token="admin",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200, r.body
        assert sign_in(d, "admin")


@test
def bad_sign_ins_get_a_clear_4xx():
    with daemon() as d:
        def refused(status, body, part, **kw):
            r = call(d, "POST", "/api/auth/login", body, **kw)
            assert r.status == status, (status, r.status, r.body)
            assert part in error_of(r)[1], (part, r.body)
        refused(413, {"username": "admin", "password": "x" * 9000}, "at most 8192 bytes")
        refused(400, {"username": "a" * 65, "password": "x"}, "username is 65 bytes; the most is 64")
        refused(400, {"username": "admin", "password": "x" * 1025}, "password is 1025 bytes")
        refused(400, {"username": "admin"}, "password: expected a string")
        refused(400, {"username": "", "password": "x"}, "username is empty")
        refused(400, "{not json", "expected a JSON object")
        refused(400, "username=admin", "missing form field password",
                headers={"Content-Type": "application/x-www-form-urlencoded"})
        refused(415, "admin:x", "application/json", headers={"Content-Type": "text/plain"})
        refused(403, {"username": "admin", "password": PASSWORDS["admin"]},
                "cross-origin sign-in refused", headers={"Origin": "https://evil.example"})
        r = login(d, "admin", headers={"Origin": "http://127.0.0.1:%d" % d.port})
        assert r.status == 200, r.body
        # Beyond limits.max_body_bytes the server refuses before reading it.
        big = d.headers_only("POST", "/api/auth/login", headers={
            "Content-Type": "application/json", "Content-Length": str(2 << 20),
            "Expect": "100-continue"})
        assert big.status == 413, big.status
        # Credentials in the query string are not read.
        r = call(d, "POST", "/api/auth/login?username=admin&password=admin-pass-1", "",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 400, r.body


@test
def garbage_cookies_are_refused_where_it_matters_only():
    with daemon() as d:
        assert call(d, "GET", "/-/healthy", cookie="garbage").status == 200
        for path in ("/status", "/metrics"):  # open routes never look at the cookie
            r = call(d, "GET", path, cookie="garbage")
            assert r.status not in (401, 403) and not r.header("Set-Cookie"), (path, r.status)
        r = call(d, "GET", "/api/plan", cookie="garbage")
        assert r.status == 401 and "the session cookie is malformed" in error_of(r)[1], r.body
        # A bearer token wins over a stale cookie.
        assert call(d, "GET", "/api/plan", cookie="garbage", token="viewer").status == 200


def manifest():
    path = os.path.join(os.path.dirname(os.path.dirname(BINARY)), "http", "assets-manifest.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


@test
def console_assets_carry_the_content_security_policy():
    with daemon() as d:
        urls = ["/assets/no-such.00000000.js"]
        urls += [a["url"] for a in manifest().get("assets", manifest()).values()
                 if isinstance(a, dict) and "url" in a][:2]
        for url in urls:
            r = call(d, "GET", url)
            assert r.status in (200, 404), (url, r.status)
            assert r.header("Content-Security-Policy") == CSP, (url, r.headers)
            assert r.header("X-Content-Type-Options") == "nosniff", r.headers
            assert r.header("Referrer-Policy") == "same-origin", r.headers
            assert r.header("X-Frame-Options") == "DENY", r.headers
        print("  CSP checked on %d asset URL(s)" % len(urls))


@test
def sessions_survive_a_restart():
    d = daemon().start()
    try:
        cookie, _ = sign_in(d, "viewer")
    finally:
        d.stop()
    with daemon(data=d.data) as d2:
        r = call(d2, "GET", "/api/auth/me", cookie=cookie)
        assert r.status == 200 and r.json()["data"]["user"] == "viewer", r.body


@test
def passwd_prints_an_argon2id_hash():
    rc, out, err = passwd(b"correct horse\n")
    assert rc == 0, err
    assert re.fullmatch(r"\$argon2id\$v=19\$m=65536,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\n",
                        out), out
    rc, out2, _ = passwd(b"correct horse\r\n")
    assert rc == 0 and out2 != out  # salted
    rc, out, err = passwd(b"", "--stdin")
    assert rc == 2 and "the password is empty" in err, (rc, err)
    rc, out, err = passwd(b"x" * 1025 + b"\n")
    assert rc == 2 and "the password is 1025 bytes; the most is 1024" in err, (rc, err)
    rc, out, err = passwd(b"x" * 5000)
    assert rc == 2 and "longer than 1024 bytes" in err, (rc, err)
    rc, out, err = passwd(b"", "hunter2")
    assert rc == 2 and "never given on the command line" in err, (rc, err)
    rc, out, err = passwd(b"", "--help")
    assert rc == 0 and "Argon2id" in out and "auth.users" in out, out


@test
def check_config_points_at_a_bad_hash():
    lines = open(EXAMPLE).read().split("\n")
    row = next(i for i, l in enumerate(lines) if "${DOJOWATCH_ADMIN_PASSWORD_HASH:-}" in l)
    col = lines[row].index("${") + 1
    env = auth_env({"DOJOWATCH_ADMIN_PASSWORD_HASH": "$2b$12$abcdefghijklmnopqrstuv"})
    p = subprocess.run([BINARY, "check-config", EXAMPLE], capture_output=True, text=True,
                       timeout=60, env=env)
    want = "%s:%d:%d: auth.users[0].password_hash: is a bcrypt hash" % (EXAMPLE, row + 1, col)
    assert p.returncode == 2 and want in p.stderr, (p.returncode, p.stderr[-2000:])
    ok = subprocess.run([BINARY, "check-config", EXAMPLE], capture_output=True, text=True,
                        timeout=60, env=auth_env())
    assert ok.returncode == 0 and "users: 3 can sign in, 0 disabled" in ok.stdout, ok.stdout


if __name__ == "__main__":
    run()
