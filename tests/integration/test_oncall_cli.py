"""Integration tests of `dojowatch oncall`: the example plan with an oncall
section whose primary schedule rotates two people weekly (handoff Monday
09:00 UTC from 2026-11-02) and whose secondary schedule covers business hours
only (so it has gaps). `who --config` answers without a daemon and follows
the rotation; the daemon (test clock on 2026-11-03) gives the same answers;
`check` exits 3 on the gaps and 0 on a schedule without; the iCal feed is
CRLF text; `pages` on a fresh daemon is an empty table; `ack NOPE` prints the
server's reason and exits 1; overrides; a page opened by a firing P0 is
shown, acknowledged and resolved from the CLI; bad usage exits 2."""
import atexit
import json
import os
import shutil
import subprocess
import tempfile

from collectcfg import config_with
from dwtest import BINARY, TOKENS, Daemon, cli, env_with_tokens, run, test, wait_until

TMP = tempfile.mkdtemp(prefix="dwoncall-")
atexit.register(shutil.rmtree, TMP, ignore_errors=True)
CLOCK = "2026-11-03T12:00:00Z"  # Tuesday of the first week: primary-engineer's
WEEK2 = "2026-11-10T12:00:00Z"  # the second week: secondary-engineer's

# primary: two people weekly; secondary: the DevOps Lead on weekdays 09-18 only.
ONCALL_GAPS = """oncall:
  time_zone: UTC
  schedules:
    - id: primary
      name: Primary on-call
      members: [primary-engineer, secondary-engineer]
      rotation: weekly
      handoff: "09:00"
      handoff_day: monday
      start: 2026-11-02
    - id: secondary
      name: Business hours backup
      layers:
        - name: office
          members: [devops-lead]
          rotation: daily
          handoff: "09:00"
          start: 2026-11-02
          restrict: [{weekdays: [monday, friday], start: "09:00", end: "18:00"}]
"""

# Both schedules around the clock, nobody on both: no gaps, no double bookings.
ONCALL_FULL = """oncall:
  time_zone: UTC
  schedules:
    - id: primary
      name: Primary on-call
      members: [primary-engineer, devops-lead]
      rotation: weekly
      handoff: "09:00"
      handoff_day: monday
      start: 2026-11-02
    - id: secondary
      name: Secondary on-call
      members: [secondary-engineer]
      rotation: weekly
      handoff: "09:00"
      handoff_day: monday
      start: 2026-11-02
"""

RULES = """groups:
  - name: oncall-cli-it
    interval: 1s
    rules:
      - alert: ItPaged
        expr: it_oncall_gate > 0
        labels: {priority: P0, service: api}
        annotations: {summary: "the oncall gate is open"}
"""

QUIET = "scrape: {host: {enabled: false}}\nprobes: {checks: []}\n"

GAPS = config_with(ONCALL_GAPS + QUIET, TMP)
FULL = config_with(ONCALL_FULL + QUIET, TMP)


def paging_config():
    path = os.path.join(TMP, "oncall.rules.yml")
    with open(path, "w") as f:
        f.write(RULES)
    return config_with(ONCALL_GAPS + QUIET + "rules:\n  files: ['%s']\n  evaluation_interval: 1s\n"
                       % path, TMP)


def env_for(d, token="responder"):
    return env_with_tokens({"DOJOWATCH_SERVER": d.url(""), "DOJOWATCH_TOKEN": TOKENS[token]})


def oncall(*args, d=None, token="responder"):
    """`dojowatch oncall ARGS` against daemon d (or none): (status, stdout, stderr)."""
    return cli("oncall", *args, env=env_for(d, token) if d else None)


def who_json(*args, d=None):
    rc, out, err = oncall("who", "-o", "json", *args, d=d)
    assert rc == 0, err
    return json.loads(out)


def on_call(doc, schedule):
    s = [s for s in doc["schedules"] if s["id"] == schedule]
    assert len(s) == 1, doc
    return s[0]["onCall"] and s[0]["onCall"]["id"]


def daemon(config=GAPS):
    return Daemon(config=config, args=["--test-clock=" + CLOCK])


@test
def who_from_the_config_follows_the_weekly_rotation():
    first = who_json("--config", GAPS, "--at", CLOCK)
    assert first["at"] == CLOCK, first
    assert on_call(first, "primary") == "primary-engineer", first
    assert on_call(first, "secondary") == "devops-lead", first  # Tuesday 12:00
    assert [s["until"] for s in first["schedules"]] == ["2026-11-09T09:00:00Z",
                                                        "2026-11-03T18:00:00Z"], first
    second = who_json("--config", GAPS, "--at", WEEK2, "--schedule", "primary")
    assert [s["id"] for s in second["schedules"]] == ["primary"], second
    assert on_call(second, "primary") == "secondary-engineer", second
    night = who_json("--config", GAPS, "--at", "2026-11-03T23:00:00Z", "--schedule", "secondary")
    assert on_call(night, "secondary") is None, night
    rc, out, err = oncall("who", "--config", GAPS, "--at", WEEK2)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["SCHEDULE", "ON", "CALL"], out
    assert "Secondary Engineer" in lines[1] and "+15550101" in lines[1], out
    assert "secondary-oncall@dojopool.example" in lines[1], out


@test
def who_from_a_bad_config_or_schedule_fails():
    bad = os.path.join(TMP, "bad.yaml")
    with open(GAPS) as f:
        text = f.read().replace("rotation: weekly", "rotation: fortnightly", 1)
    with open(bad, "w") as f:
        f.write(text)
    rc, _, err = oncall("who", "--config", bad)
    assert rc == 2, (rc, err)
    assert "rotation" in err and "check-config" in err, err
    rc, _, err = oncall("who", "--config", GAPS, "--schedule", "nope")
    assert rc == 1 and 'no schedule "nope"' in err, (rc, err)


@test
def who_via_the_daemon_matches_the_config():
    with daemon() as d:
        now = who_json(d=d)  # the daemon's (test) clock: 2026-11-03
        assert now["at"] == CLOCK, now
        assert on_call(now, "primary") == "primary-engineer", now
        later = who_json("--at", WEEK2, d=d)
        assert on_call(later, "primary") == "secondary-engineer", later
        assert later == who_json("--config", GAPS, "--at", WEEK2), later
        rc, out, err = oncall("who", "--schedule", "primary", d=d)
        assert rc == 0, err
        assert len(out.splitlines()) == 2 and "Primary Engineer" in out, out
        rc, _, err = oncall("who", "--schedule", "nope", d=d)
        assert rc == 1 and "HTTP 404" in err and 'no schedule "nope"' in err, (rc, err)


@test
def check_exits_3_on_gaps():
    with daemon() as d:
        rc, out, err = oncall("check", "--from", "2026-11-03T00:00:00Z",
                              "--to", "2026-11-05T00:00:00Z", d=d)
        assert rc == 3, (rc, out, err)
        rows = out.splitlines()
        assert rows[0].split()[:2] == ["KIND", "SCHEDULE"], out
        assert any(r.split()[:2] == ["gap", "secondary"] for r in rows[1:]), out
        assert "2026-11-03T18:00:00Z" in out, out
        rc, out, err = oncall("check", "-o", "json", d=d)  # from the daemon's now, 28 days
        assert rc == 3, (rc, err)
        doc = json.loads(out)
        assert doc["from"] == CLOCK and doc["issues"], doc
        assert {i["kind"] for i in doc["issues"]} == {"gap"}, doc


@test
def check_exits_0_without_issues():
    with daemon(FULL) as d:
        rc, out, err = oncall("check", "--from", CLOCK, "--to", "2026-11-30T00:00:00Z", d=d)
        assert rc == 0, (rc, out, err)
        assert out.startswith("no gaps or double bookings"), out
        rc, out, err = oncall("check", "-o", "json", d=d)
        assert rc == 0 and json.loads(out)["issues"] == [], (rc, out, err)


@test
def ical_feed_is_crlf_icalendar():
    with daemon() as d:
        p = subprocess.run([BINARY, "oncall", "ical", "schedule", "primary"], capture_output=True,
                           env=env_for(d, "viewer"), stdin=subprocess.DEVNULL, timeout=30)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(b"BEGIN:VCALENDAR\r\n"), p.stdout[:200]
        assert b"\r\nEND:VCALENDAR\r\n" in p.stdout, p.stdout[-200:]
        assert b"DTSTART:20261102T090000Z\r\n" in p.stdout, p.stdout[:800]
        rc, out, err = oncall("ical", "person", "primary-engineer", d=d, token="viewer")
        assert rc == 0 and out.startswith("BEGIN:VCALENDAR"), (rc, err)
        rc, out, err = oncall("ical", "person", "nobody", d=d)
        assert rc == 1 and out == "" and 'no person "nobody"' in err, (rc, out, err)


@test
def pages_on_a_fresh_daemon_is_an_empty_table():
    with daemon() as d:
        rc, out, err = oncall("pages", d=d, token="viewer")
        assert rc == 0, err
        assert out.split() == ["ID", "STATE", "PRIORITY", "STEP", "CREATED", "SUMMARY"], out
        assert "no pages" in err, err
        rc, out, err = oncall("pages", "--state", "resolved", "--limit", "5", "-o", "json", d=d)
        assert rc == 0 and json.loads(out) == [], (rc, out, err)


@test
def ack_of_an_unknown_page_prints_the_reason():
    with daemon() as d:
        rc, out, err = oncall("ack", "NOPE", d=d)
        assert rc == 1, (rc, out, err)
        assert "HTTP 404" in err and "no page NOPE" in err, err
        rc, out, err = oncall("resolve", "NOPE", "NOPE2", d=d)
        assert rc == 1 and "no page NOPE2" in err, (rc, err)
        rc, _, err = oncall("page", "NOPE", d=d)
        assert rc == 1 and "no page NOPE" in err, (rc, err)
        rc, _, err = oncall("ack", "NOPE", d=d, token="viewer")  # needs a responder
        assert rc == 1 and "HTTP 403" in err, (rc, err)


@test
def override_puts_someone_else_on_call():
    with daemon() as d:
        rc, out, err = oncall("override", "--schedule", "primary", "--person", "cto",
                              "--start", "2026-11-04T00:00:00Z", "--end", "2026-11-05T00:00:00Z",
                              d=d)
        assert rc == 0, err
        assert out.startswith("cto is on call for primary"), out
        doc = who_json("--at", "2026-11-04T12:00:00Z", d=d)
        assert on_call(doc, "primary") == "cto", doc
        assert on_call(who_json(d=d), "primary") == "primary-engineer"  # before the override
        rc, _, err = oncall("override", "--schedule", "primary", "--person", "nobody",
                            "--start", "2026-11-06T00:00:00Z", "--end", "2026-11-07T00:00:00Z",
                            d=d)
        assert rc == 1 and 'no person "nobody"' in err, (rc, err)
        rc, out, err = oncall("overrides", "-o", "json", d=d)
        assert rc == 0, err
        rows = json.loads(out)
        assert len(rows) == 1 and rows[0]["person"] == "cto", rows
        rc, out, err = oncall("unoverride", str(rows[0]["id"]), d=d)
        assert rc == 0 and "deleted" in out, (rc, out, err)
        doc = who_json("--at", "2026-11-04T12:00:00Z", d=d)
        assert on_call(doc, "primary") != "cto", doc
        rc, _, err = oncall("unoverride", str(rows[0]["id"]), d=d)
        assert rc == 1 and "no override" in err, (rc, err)


@test
def a_page_is_shown_acknowledged_and_resolved():
    # Real time: the rule must evaluate on a moving clock.
    with Daemon(config=paging_config()) as d:
        r = d.post("/api/v1/push", token=TOKENS["responder"], data=b"it_oncall_gate 1\n")
        assert r.status in (200, 204), r.text
        pages = []

        def opened():
            rc, out, _ = oncall("pages", "--state", "triggered", "-o", "json", d=d)
            pages[:] = json.loads(out) if rc == 0 else []
            return bool(pages)

        wait_until(opened, timeout=30, interval=0.5, what="a page")
        pid = pages[0]["id"]
        assert pages[0]["priority"] == "P0" and pages[0]["summary"] == "the oncall gate is open"
        rc, out, err = oncall("pages", d=d)
        assert rc == 0 and out.splitlines()[1].split()[:3] == [pid, "triggered", "P0"], out
        rc, out, err = oncall("page", pid, d=d)
        assert rc == 0, err
        assert "state         triggered" in out and "\nAT " in out, out
        assert any(line.split()[1:2] == ["triggered"] for line in out.splitlines()
                   if line[:4].isdigit()), out
        rc, out, err = oncall("ack", pid, "NOPE", d=d)
        assert rc == 1, (rc, out, err)  # one of two failed
        assert out == pid + " acknowledged\n" and "no page NOPE" in err, (out, err)
        rc, out, err = oncall("resolve", pid, d=d)
        assert rc == 0 and out == pid + " resolved\n", (rc, out, err)
        rc, out, err = oncall("ack", pid, d=d)
        assert rc == 0 and out == pid + " is already resolved\n", (rc, out, err)
        page = json.loads(oncall("page", pid, "-o", "json", d=d)[1])
        assert page["state"] == "resolved" and page["ackedVia"] == "cli", page
        acts = [(t["kind"], t["via"]) for t in page["timeline"]]
        assert ("acknowledged", "cli") in acts and ("resolved", "cli") in acts, acts


@test
def bad_usage_exits_2():
    cases = [
        ((), "usage: dojowatch oncall"),
        (("whoo",), "did you mean 'who'"),
        (("who", "--limit", "3"), "--limit does not apply"),
        (("who", "--at", "yesterday"), "is not a time"),
        (("pages", "--state", "open"), "unknown state 'open'"),
        (("pages", "--limit", "0"), "--limit needs a number"),
        (("page",), "which page?"),
        (("page", "a", "b"), "unexpected argument 'b'"),
        (("ack",), "which page?"),
        (("check", "extra"), "unexpected argument 'extra'"),
        (("override", "--schedule", "primary"), "--person is required"),
        (("override", "--schedule", "primary", "--person", "cto", "--start", "now",
          "--end", "now-1h"), "--end must be after --start"),
        (("ical", "team", "x"), "give 'schedule ID' or 'person ID'"),
        (("ical", "schedule", "primary", "-o", "json"), "leave out -o json"),
        (("who", "-o", "yaml"), "unknown output format"),
    ]
    for args, msg in cases:
        rc, out, err = oncall(*args)
        assert rc == 2, (args, rc, out, err)
        assert msg in err, (args, err)
    for sub in ("who", "pages", "page", "ack", "resolve", "check", "override", "overrides",
                "unoverride", "ical"):
        rc, out, _ = oncall(sub, "--help")
        assert rc == 0 and out.startswith("usage: dojowatch oncall " + sub), (sub, out)
    rc, out, _ = oncall("--help")
    assert rc == 0 and "exit status" in out and "3 `check` found issues" in out, out


if __name__ == "__main__":
    run()
