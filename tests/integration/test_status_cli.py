"""Integration tests of `dojowatch status` against a real daemon: components
and overrides (set, cleared, refused to a viewer), one component with its
uptime, a public incident update (the component's state follows, the page
shows the text, a notice is made), maintenance created, listed, changed,
completed and deleted, subscribers imported from CSV and JSON (a bad line is
reported as FILE:LINE:COL and nothing lands; a 20,000-line file lands every
row in two requests, quietly when stderr is not a terminal and with a
progress line when it is), listed page by page and with --all, deleted; the
admin-only commands refused to a viewer with the reason; bad usage exits 2
before any request. Every -o json answer is checked against the HTTP API."""
import atexit
import json
import os
import pty
import shutil
import subprocess
import tempfile

from collectcfg import config_with
from dwtest import BINARY, TOKENS, Daemon, cli, env_with_tokens, run, test, wait_until

TMP = tempfile.mkdtemp(prefix="dwstatuscli-")
atexit.register(shutil.rmtree, TMP, ignore_errors=True)

SECTIONS = """scrape: {host: {enabled: false}}
probes: {checks: []}
rules: {files: []}
alerting:
  route: {receiver: critical, group_by: [alertname]}
  receivers: [{name: critical}]
status:
  title: DojoPool Status
  url: https://status.example.test
  groups: [{id: platform, name: Platform}]
  subscribers: {send_rate: 1}
  components:
    - {id: api, name: API, group: platform, alerts: {service: api}}
    - {id: web, name: Website, alerts: {service: web}}
"""
CONFIG = config_with(SECTIONS, TMP)
BIG = 20000


def status(*args, d=None, token="responder"):
    """`dojowatch status ARGS` against daemon d (or none): (status, stdout, stderr)."""
    env = None
    if d:
        env = env_with_tokens({"DOJOWATCH_SERVER": d.url(""), "DOJOWATCH_TOKEN": TOKENS[token]})
    return cli("status", *args, env=env, timeout=120)


def ok(*args, d, token="responder"):
    rc, out, err = status(*args, d=d, token=token)
    assert rc == 0, (args, rc, out, err)
    return out


def as_json(*args, d, token="responder"):
    return json.loads(ok(*args, "-o", "json", d=d, token=token))


def api(d, path, token="admin"):
    r = d.get(path, token=TOKENS[token])
    assert r.status == 200, (path, r.status, r.text)
    return r.json()["data"]


def write(name, text):
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def counts(d):
    page = api(d, "/api/status/subscribers?limit=1")
    return page["active"], page["pending"]


@test
def components_overrides_and_one_component():
    with Daemon(config=CONFIG) as d:
        wait_until(lambda: d.get("/status/api/v2/status.json").status == 200, 10,
                   what="the first rendering")
        listed = as_json("components", d=d, token="viewer")
        want = api(d, "/api/status/components", "viewer")
        assert [(c["id"], c["name"], c["state"]) for c in listed] == \
            [(c["id"], c["name"], c["state"]) for c in want], (listed, want)
        rows = ok("components", d=d, token="viewer").splitlines()
        assert rows[0].split() == ["ID", "NAME", "STATE", "OVERRIDE", "REASONS"], rows
        assert [r.split()[0] for r in rows[1:]] == ["api", "web"], rows

        out = ok("override", "web", "partial_outage", d=d)
        assert out == "web is partial_outage until the override is cleared\n", out
        web = api(d, "/api/status/components/web", "viewer")
        assert web["state"] == "partial_outage" and web["override"]["state"] == "partial_outage"
        row = [r for r in ok("components", d=d).splitlines() if r.startswith("web ")][0]
        assert row.split()[2:4] == ["partial_outage", "partial_outage"], row
        cleared = as_json("override", "web", "--clear", d=d)
        assert cleared["override"] is None and cleared == api(d, "/api/status/components/web")
        assert "override cleared, now operational" in ok("override", "api", "--clear", d=d)

        both = as_json("component", "api", d=d, token="viewer")
        assert both["component"] == api(d, "/api/status/components/api"), both
        up = api(d, "/api/status/components/api/uptime")
        assert set(both["uptime"]["uptime"]) == {"7d", "30d", "90d"}, both["uptime"]
        assert both["uptime"]["target"] == up["target"] and len(both["uptime"]["days"]) == 90
        shown = ok("component", "api", d=d, token="viewer")
        for line in ("component      api", "name           API", "group          platform",
                     "override       none", "uptime 7d", "uptime 90d", "target         ",
                     "days observed  "):
            assert line in shown, (line, shown)

        rc, out, err = status("override", "web", "major_outage", d=d, token="viewer")
        assert rc == 1 and out == "" and "HTTP 403" in err and "responder" in err, (rc, err)
        rc, _, err = status("component", "nope", d=d, token="viewer")
        assert rc == 1 and "HTTP 404" in err and "no component nope" in err, (rc, err)
        rc, _, err = status("override", "nope", "--clear", d=d)
        assert rc == 1 and "HTTP 404" in err, (rc, err)


@test
def a_public_update_and_its_notice():
    with Daemon(config=CONFIG) as d:
        r = d.post("/api/incidents", token=TOKENS["responder"],
                   data=json.dumps({"title": "Checkout errors", "severity": 3}),
                   headers={"Content-Type": "application/json"})
        assert r.status in (200, 201), (r.status, r.text)
        iid = r.json()["data"]["id"]
        sent = as_json("update", iid, "--status", "identified", "--body", "A bad deploy.",
                       "--component", "api=partial_outage", d=d)
        assert sent == {"incident": iid, "status": "identified", "body": "A bad deploy.",
                        "components": {"api": "partial_outage"}}, sent
        wait_until(lambda: api(d, "/api/status/components/api")["state"] == "partial_outage", 10,
                   what="the component to follow the update")

        def page_incident():
            doc = d.get("/status/api/v2/incidents.json").json()
            return [i for i in doc["incidents"] if i["name"] == "Checkout errors"]
        wait_until(lambda: page_incident(), 10, what="the incident on the page")
        assert page_incident()[0]["incident_updates"][0]["body"] == "A bad deploy."

        body = write("update.txt", "Rolled back; watching.\n")
        out = ok("update", iid, "--status", "monitoring", "--body-file", body, d=d)
        assert out == iid + " is monitoring on the status page (public update posted)\n", out
        wait_until(lambda: page_incident()[0]["status"] == "monitoring", 10, what="monitoring")
        assert page_incident()[0]["incident_updates"][0]["body"] == "Rolled back; watching."
        timeline = api(d, "/api/incidents/" + iid)["timeline"]
        assert any("Rolled back; watching." in t["text"] for t in timeline), timeline

        wait_until(lambda: [n["done_at"] is not None for n in api(d, "/api/status/notices")]
                   == [True, True], 10, what="both notices done (no subscribers)")
        notices = as_json("notices", d=d, token="viewer")
        assert notices == api(d, "/api/status/notices", "viewer"), notices
        assert [n["kind"] for n in notices] == ["incident", "incident"], notices
        rows = ok("notices", d=d, token="viewer").splitlines()
        assert rows[0].split()[:6] == ["ID", "KIND", "EMAILS", "WEBHOOKS", "FAILED", "PROGRESS"]
        assert len(rows) == 3 and rows[1].split()[1] == "incident", rows
        assert rows[1].split()[5] == "done" and "Monitoring: Checkout errors" in rows[1], rows

        rc, _, err = status("update", "INC-NOPE", "--status", "identified", "--body", "x", d=d)
        assert rc == 1 and "HTTP 404" in err and "INC-NOPE" in err, (rc, err)
        rc, _, err = status("update", iid, "--status", "identified", "--body", "x",
                            "--component", "nope=major_outage", d=d)
        assert rc == 1 and "HTTP 400" in err and "nope" in err, (rc, err)


@test
def maintenance_from_creation_to_deletion():
    with Daemon(config=CONFIG) as d:
        assert as_json("maintenance", "list", d=d, token="viewer") == []
        mid = ok("maintenance", "create", "--title", "Database upgrade", "--body", "Brief.",
                 "--components", "api, web", "--from", "now+1h", "--until", "now+2h",
                 d=d).strip()
        assert mid.startswith("MNT-") and len(mid.split()) == 1, mid
        listed = as_json("maintenance", "list", d=d, token="viewer")
        assert listed == api(d, "/api/status/maintenances", "viewer"), listed
        m = listed[0]
        assert (m["id"], m["name"], m["status"]) == (mid, "Database upgrade", "scheduled"), m
        assert [c["id"] for c in m["components"]] == ["api", "web"], m["components"]
        rows = ok("maintenance", "list", d=d).splitlines()
        assert rows[0].split()[:5] == ["ID", "STATUS", "FROM", "UNTIL", "COMPONENTS"], rows
        assert rows[1].split()[:2] == [mid, "scheduled"] and "api,web" in rows[1], rows
        assert rows[1].rstrip().endswith("Database upgrade"), rows

        assert as_json("maintenance", "update", mid, "--title", "DB upgrade", "--components",
                       "api", d=d) == {"id": mid}
        m = api(d, "/api/status/maintenances")[0]
        assert m["name"] == "DB upgrade" and [c["id"] for c in m["components"]] == ["api"], m
        assert ok("maintenance", "update", mid, "--status", "completed", d=d) == mid + " updated\n"
        assert api(d, "/api/status/maintenances")[0]["status"] == "completed"

        rc, _, err = status("maintenance", "update", mid, "--components", "nope", d=d)
        assert rc == 1 and "unknown component" in err, (rc, err)
        rc, _, err = status("maintenance", "create", "--title", "x", "--from", "now+1h",
                            "--until", "now+2h", d=d, token="viewer")
        assert rc == 1 and "HTTP 403" in err, (rc, err)
        assert as_json("maintenance", "delete", mid, d=d) == {"deleted": mid}
        assert api(d, "/api/status/maintenances") == []
        rc, _, err = status("maintenance", "delete", mid, d=d)
        assert rc == 1 and "HTTP 404" in err and mid in err, (rc, err)


def big_csv():
    lines = ["email,webhook,components"]
    for i in range(BIG):
        if i % 1000 == 7:
            lines.append('owner%d@example.com,"https://hooks.example.com/s?a=1,b=%d",api' % (i, i))
        else:
            lines.append("user%d@example.com,,%s" % (i, "api;web" if i % 3 else ""))
    return write("big.csv", "\n".join(lines) + "\n")


def import_on_a_terminal(d, path):
    """`status subscribers import PATH` with stderr on a pseudo-terminal: (status, stderr)."""
    master, slave = pty.openpty()
    env = env_with_tokens({"DOJOWATCH_SERVER": d.url(""), "DOJOWATCH_TOKEN": TOKENS["admin"]})
    p = subprocess.Popen([BINARY, "status", "subscribers", "import", path], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    p.stdout.read()
    p.stdout.close()
    return p.wait(timeout=120), seen.decode("utf-8", "replace")


@test
def subscribers_import_list_and_delete():
    with Daemon(config=CONFIG) as d:
        # one bad line of each kind: nothing lands, every one is reported where it is
        bad = write("bad.csv", "email,webhook,components\n"
                               "ann@example.com,,api\n"
                               "not-an-address,,\n"
                               "bob@example.com,ftp://hooks.example.com/x,\n"
                               "cy@example.com,,api;wbe\n"
                               "dee@example.com,\"unclosed\n")
        rc, out, err = status("subscribers", "import", bad, d=d, token="admin")
        assert rc == 2 and out == "", (rc, out, err)
        for where, why in (("bad.csv:3:1: ", "give a valid e-mail address"),
                           ("bad.csv:4:17: ", "must start with https:// or http://"),
                           ("bad.csv:5:17: ", "unknown component 'wbe'; did you mean 'web'?"),
                           ("bad.csv:6:17: ", "a quoted field is not closed")):
            assert any(line.startswith(bad + where[len("bad.csv"):]) and why in line
                       for line in err.splitlines()), (where, why, err)
        assert "4 bad lines; nothing was imported" in err, err
        assert counts(d) == (0, 0)

        bad_json = write("bad.json", '[\n  {"email": "ann@example.com"},\n'
                                     '  {"email": "x@example.com", "components": ["nope"]},\n'
                                     '    {"mail": "y@example.com"}\n]\n')
        rc, _, err = status("subscribers", "import", bad_json, d=d, token="admin")
        assert rc == 2, (rc, err)
        assert "bad.json:3:3: unknown component 'nope'" in err, err
        assert "bad.json:4:5: unknown key \"mail\"" in err, err
        assert counts(d) == (0, 0)

        # the viewer is refused before any work, with the reason
        path = big_csv()
        for args in (("list",), ("import", path), ("delete", "1")):
            rc, out, err = status("subscribers", *args, d=d, token="viewer")
            assert rc == 1 and out == "", (args, rc, out, err)
            assert "HTTP 403" in err and "needs the admin role" in err, (args, err)
        assert counts(d) == (0, 0)

        checked = as_json("subscribers", "import", path, "--dry-run", d=d, token="admin")
        assert checked == {"file": path, "subscribers": BIG, "imported": False}, checked
        assert counts(d) == (0, 0)

        # not a terminal: the summary only
        rc, out, err = status("subscribers", "import", path, d=d, token="admin")
        assert rc == 0 and err == "", (rc, out, err)
        assert out == "%s: %d subscribers imported in 2 requests: %d new, 0 already known\n" % (
            path, BIG, BIG), out
        assert counts(d) == (BIG, 0)

        # again, on a terminal: a progress line; every address is known
        rc, seen = import_on_a_terminal(d, path)
        assert rc == 0, (rc, seen)
        assert "status subscribers import: 10000 of 20000 subscribers (50%)" in seen, seen
        assert "a second" in seen and "\r\033[K" in seen, seen
        assert counts(d) == (BIG, 0)

        again = as_json("subscribers", "import", write("more.json", json.dumps(
            [{"email": "new@example.com", "components": ["web"]},
             {"email": "USER1@example.com"}])), d=d, token="admin")
        assert (again["added"], again["known"], again["requests"]) == (1, 1, 1), again
        assert counts(d) == (BIG + 1, 0)

        page = as_json("subscribers", "list", "--limit", "5", d=d, token="admin")
        assert page == api(d, "/api/status/subscribers?limit=5"), page
        first = page["subscribers"][0]
        assert first["address"] == "user0@example.com" and first["components"] == [], first
        hook = [s for s in as_json("subscribers", "list", "--after", str(first["id"] + 6),
                                   "--limit", "1", d=d, token="admin")["subscribers"]]
        assert hook[0]["kind"] == "webhook" and hook[0]["email"] == "owner7@example.com", hook
        assert hook[0]["address"] == "https://hooks.example.com/s?a=1,b=7", hook
        every = as_json("subscribers", "list", "--all", d=d, token="admin")
        ids = [s["id"] for s in every["subscribers"]]
        assert len(ids) == BIG + 1 and ids == sorted(set(ids)), len(ids)
        assert every["active"] == BIG + 1, every["active"]
        rows = ok("subscribers", "list", "--limit", "2", d=d, token="admin")
        lines = rows.splitlines()
        assert lines[0].split() == ["ID", "KIND", "STATE", "CREATED", "COMPONENTS", "ADDRESS"]
        assert lines[1].split()[1:3] == ["email", "active"], lines
        assert lines[-1] == "2 shown; %d active, 0 pending" % (BIG + 1), lines

        out = ok("subscribers", "delete", str(first["id"]), d=d, token="admin")
        assert out == "subscriber %d deleted\n" % first["id"], out
        assert counts(d) == (BIG, 0)


@test
def bad_usage_exits_2():
    cases = [
        ((), "usage: dojowatch status"),
        (("componets",), "did you mean 'components'"),
        (("component",), "which component?"),
        (("component", "a", "b"), "unexpected argument 'b'"),
        (("components", "--all"), "--all does not apply"),
        (("override", "api"), "which state?"),
        (("override", "api", "broken"), "unknown state 'broken'"),
        (("override", "api", "major_outage", "--clear"), "not both"),
        (("update",), "which incident?"),
        (("update", "INC-1", "--body", "x"), "--status is required"),
        (("update", "INC-1", "--status", "fixed", "--body", "x"), "unknown status 'fixed'"),
        (("update", "INC-1", "--status", "identified"), "give --body TEXT or --body-file"),
        (("update", "INC-1", "--status", "identified", "--body", "x", "--body-file", "f"),
         "not both"),
        (("update", "INC-1", "--status", "identified", "--body", ""), "needs 1 to 16384"),
        (("update", "INC-1", "--status", "identified", "--body-file", "/nonexistent"),
         "cannot open"),
        (("update", "INC-1", "--status", "identified", "--body", "x", "--component", "api"),
         "--component needs ID=STATE"),
        (("update", "INC-1", "--status", "identified", "--body", "x", "--component", "api=down"),
         "unknown state 'down'"),
        (("maintenance",), "usage: dojowatch status maintenance"),
        (("maintenance", "lst"), "did you mean 'list'"),
        (("maintenance", "create", "--from", "now", "--until", "now+1h"), "--title is required"),
        (("maintenance", "create", "--title", "x"), "--from and --until are required"),
        (("maintenance", "create", "--title", "x", "--from", "now+2h", "--until", "now+1h"),
         "--until must be after --from"),
        (("maintenance", "create", "--title", "x", "--from", "tomorrow"), "is not a time"),
        (("maintenance", "update", "MNT-1"), "nothing to change"),
        (("maintenance", "update", "MNT-1", "--status", "scheduled"), "verifying or completed"),
        (("maintenance", "delete"), "which maintenance?"),
        (("maintenance", "list", "--title", "x"), "--title does not apply"),
        (("subscribers",), "usage: dojowatch status subscribers"),
        (("subscribers", "list", "--limit", "0"), "--limit needs a number"),
        (("subscribers", "list", "--after", "-1"), "--after needs a subscriber id"),
        (("subscribers", "list", "--all", "--limit", "5"), "leave out --limit"),
        (("subscribers", "import"), "which file?"),
        (("subscribers", "import", "/nonexistent.csv"), "cannot open"),
        (("subscribers", "delete", "abc"), "'abc' is not a subscriber id"),
        (("notices", "-o", "yaml"), "unknown output format"),
    ]
    for args, msg in cases:
        rc, out, err = status(*args)
        assert rc == 2, (args, rc, out, err)
        assert msg in err, (args, err)
    for sub in ("components", "component", "override", "update", "notices"):
        rc, out, _ = status(sub, "--help")
        assert rc == 0 and out.startswith("usage: dojowatch status " + sub), (sub, out)
    for group, subs in (("maintenance", ("list", "create", "update", "delete")),
                        ("subscribers", ("list", "import", "delete"))):
        for sub in subs:
            rc, out, _ = status(group, sub, "--help")
            assert rc == 0 and out.startswith("usage: dojowatch status %s %s" % (group, sub)), out
        rc, out, _ = status(group, "--help")
        assert rc == 0 and out.startswith("usage: dojowatch status " + group), out
    rc, out, _ = status("--help")
    assert rc == 0 and "exit status" in out, out
    rc, out, _ = cli("help")
    assert rc == 0 and "status" in out, out


if __name__ == "__main__":
    run()
