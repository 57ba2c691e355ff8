"""Integration: the public status page (/status) end to end in Debian's headless chromium,
against a real daemon on 127.0.0.1 (tests/browser/status-*.mjs; skipped with a reason when
chromium is missing, unless DW_REQUIRE_BROWSER=1).

- page_renders_with_seeded_history: the store gets 90-day history seeded into
  status_intervals (the daemon runs once to create its tables, stops, the rows are
  inserted, it starts again), then the page is checked on a desktop with and without
  JavaScript, in dark mode and on a phone: title, landmarks, heading order, every
  component and its state (also after overrides), the colour and the label of each seeded
  day's bar, the 90-day uptime against what the seeded intervals imply, contrast, no
  horizontal scrolling, legible text, no request off loopback.
- incidents_reach_the_page_and_leave_it: incidents opened over the API are timed from the
  API's answer to their title being visible on /status (reloaded), and again when
  resolved, until they leave "Active incidents" (they stay in the history).
- injected_text_stays_text: script, attribute and javascript: URL payloads in the
  configuration, a maintenance, an incident's title / notes / public update are shown
  literally and never run.
Screenshots go to <build>/browser-screenshots/test_status_browser/<case>/. Each test prints
the delays it measured ("latency: ...") and the known defects of src/ it met ("known
defect: ..."): those are checked to still be there, so fixing one fails the test until its
entry in the .mjs is removed and the check becomes a plain one.
"""
import datetime
import json
import os
import shutil
import sqlite3
import tempfile
import time
import xml.etree.ElementTree as ET

import browser
from collectcfg import config_with
from dwtest import TOKENS, Daemon, wait_until

DAY_MS = 86400000
HOUR_MS = 3600000
STATES = ("operational", "under_maintenance", "degraded_performance", "partial_outage",
          "major_outage")  # best to worst, as src/status/status.h orders them

BASE = """scrape: {host: {enabled: false}}
probes: {checks: []}
alerting:
  route: {receiver: critical, group_by: [alertname]}
  receivers: [{name: critical}]
"""

PAGE = BASE + """status:
  title: DojoPool Status
  url: https://status.example.test
  uptime_target: 99.9
  groups: [{id: platform, name: Platform}]
  components:
    - {id: api, name: API, description: The game and account API, group: platform}
    - {id: realtime, name: Real-time matches, group: platform}
    - {id: web, name: Website, description: dojopool.com and its CDN}
    - {id: database, name: Database, showcase: false}
"""
COMPONENTS = [  # as PAGE configures them, in page order (groups first)
    {"id": "api", "name": "API", "group": "Platform", "showcase": True},
    {"id": "realtime", "name": "Real-time matches", "group": "Platform", "showcase": True},
    {"id": "web", "name": "Website", "group": "Components", "showcase": True},
    {"id": "database", "name": "Database", "group": "Components", "showcase": False},
]

# The seeded history: (component, days before today, start hour, end hour, state); hours
# may run past 24 (into the next day). Days with no row have no data.
HISTORY = [
    ("api", 1, 0, 24, "operational"),
    ("api", 2, 0, 18, "operational"), ("api", 2, 18, 24, "degraded_performance"),
    ("api", 3, 0, 21, "operational"), ("api", 3, 21, 24, "partial_outage"),
    ("api", 4, 0, 23, "operational"), ("api", 4, 23, 24, "major_outage"),
    ("api", 5, 0, 22, "operational"), ("api", 5, 22, 24, "under_maintenance"),
    # day 6: no data
    ("api", 7, 0, 24, "operational"),
    # worst of several states; maintenance is better than degraded; a span over midnight
    ("web", 2, 0, 12, "operational"), ("web", 2, 12, 16, "under_maintenance"),
    ("web", 2, 16, 20, "degraded_performance"), ("web", 2, 20, 24, "major_outage"),
    ("web", 3, 0, 6, "under_maintenance"), ("web", 3, 6, 8, "degraded_performance"),
    ("web", 4, 0, 24, "under_maintenance"),
    ("web", 5, 0, 12, "operational"),
    ("web", 7, 20, 28, "partial_outage"),
]
SLACK_MS = 10 * 60000  # the most the daemon itself can observe today during the test


def utc_midnight(ms):
    return ms - ms % DAY_MS


def date_of(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%d")


def history_rows(today):
    return [(c, st, today - back * DAY_MS + h0 * HOUR_MS, today - back * DAY_MS + h1 * HOUR_MS)
            for c, back, h0, h1, st in HISTORY]


def seed(db, rows):
    """Inserts closed intervals into the stopped daemon's store (table status_intervals,
    src/status/status.c)."""
    con = sqlite3.connect(db, timeout=10)
    try:
        with con:
            con.executemany("INSERT INTO status_intervals (component, state, start_ms, end_ms,"
                            " open) VALUES (?, ?, ?, ?, 0)", rows)
        n = con.execute("SELECT count(*) FROM status_intervals WHERE open = 0").fetchone()[0]
        assert n >= len(rows), n
    finally:
        con.close()


def expected_days(rows, component):
    """{date: {"worst": state, "shares": {state: percent}}} of every day the rows touch:
    plain arithmetic over the intervals, as docs/internals/status.md defines the bars."""
    per = {}
    for comp, st, a, b in rows:
        if comp != component:
            continue
        day = utc_midnight(a)
        while day < b:
            ms = min(b, day + DAY_MS) - max(a, day)
            if ms > 0:
                per.setdefault(date_of(day), {}).setdefault(st, 0)
                per[date_of(day)][st] += ms
            day += DAY_MS
    out = {}
    for date, ms in per.items():
        total = sum(ms.values())
        out[date] = {"worst": max(ms, key=STATES.index),
                     "shares": {s: 100.0 * v / total for s, v in ms.items()}}
    return out


def expected_uptime(rows, component, today_ms):
    """90-day uptime in percent: (observed - outage - maintenance) / (observed - maintenance),
    with today_ms more operational time (what the daemon observed itself)."""
    ms = {s: 0 for s in STATES}
    for comp, st, a, b in rows:
        if comp == component:
            ms[st] += b - a
    ms["operational"] += today_ms
    observed = sum(ms.values())
    denom = observed - ms["under_maintenance"]
    return 100.0 * (denom - ms["partial_outage"] - ms["major_outage"]) / denom


def expectations(rows, today):
    """What status-page.mjs checks ($DW_STATUS_EXPECT); today: the first day the daemon
    observed itself."""
    days, uptime = {}, {}
    for c in COMPONENTS:
        if not c["showcase"]:
            continue
        days[c["name"]] = expected_days(rows, c["id"])
        uptime[c["name"]] = [expected_uptime(rows, c["id"], 0),
                             expected_uptime(rows, c["id"], SLACK_MS)] \
            if any(r[0] == c["id"] for r in rows) else None
    return {"title": "DojoPool Status", "components": COMPONENTS, "days": days,
            "uptime": uptime, "target": 99.9, "today": date_of(today)}


def script_env(expect=None):
    env = {"DW_STATUS_TOKEN": TOKENS["responder"]}
    if expect is not None:
        env["DW_STATUS_EXPECT"] = json.dumps(expect)
    return env


def shots_of(result):
    return {os.path.splitext(os.path.basename(p))[0]: p for p in result["screenshots"]}


def report(result):
    """Prints the measured delays and the known defects of src/ the script found."""
    for name, detail in browser.checks(result, "latency:") + browser.checks(result, "known defect"):
        print("  %s: %s" % (name, json.dumps(detail)))


@browser.test
def page_renders_with_seeded_history():
    tmp = tempfile.mkdtemp(prefix="dwstatusb-")
    try:
        cfg = config_with(PAGE, tmp)
        data = os.path.join(tmp, "data")
        started = int(time.time() * 1000)
        with Daemon(config=cfg, data=data) as d:  # creates the store and its tables
            wait_until(lambda: d.get("/status").status == 200, 15, what="the first rendering")
        today = utc_midnight(int(time.time() * 1000))
        rows = history_rows(today)
        seed(os.path.join(data, "dojowatch.db"), rows)
        # days from the one the daemon started on are its own (operational) observation,
        # should a UTC midnight fall between its start and the seeding
        expect = expectations(rows, utc_midnight(started))
        # the arithmetic the checks rely on, by hand: api has 6 observed days (144 h) with
        # 2 h of maintenance and 3 + 1 h of outage: 138 / 142 up
        assert round(expect["uptime"]["API"][0], 2) == round(100 * 138 / 142, 2), expect["uptime"]
        assert expect["days"]["API"][date_of(today - 4 * DAY_MS)]["worst"] == "major_outage"
        assert expect["days"]["Website"][date_of(today - 3 * DAY_MS)]["worst"] == \
            "degraded_performance"
        with Daemon(config=cfg, data=data) as d:
            wait_until(lambda: d.get("/status").status == 200, 15, what="the rendering")
            r = browser.run_script("status-page", d, "test_status_browser/page",
                                   env=script_env(expect))
            # the overrides the script set are what the JSON says too
            s = d.get("/status/api/v2/summary.json").json()
            states = {c["id"]: c["status"] for c in s["components"] if not c.get("group")}
            assert states == {"api": "operational", "realtime": "degraded_performance",
                              "web": "major_outage", "database": "partial_outage"}, states
        shots = shots_of(r)
        want = {"desktop": 1280, "desktop-nojs": 1280, "dark": 1280, "phone": 390 * 3,
                "desktop-outage": 1280}
        assert sorted(shots) == sorted(want), sorted(shots)
        for name, width in want.items():
            w, h = browser.png_size(shots[name])
            assert w == width and h > 200, (name, w, h)
        report(r)
        print("  chromium %s, %d checks, screenshots in %s"
              % (r["browser"], len(r["checks"]), os.path.dirname(shots["desktop"])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@browser.test
def incidents_reach_the_page_and_leave_it():
    tmp = tempfile.mkdtemp(prefix="dwstatusb-")
    try:
        with Daemon(config=config_with(PAGE, tmp)) as d:
            wait_until(lambda: d.get("/status").status == 200, 15, what="the first rendering")
            r = browser.run_script("status-incident", d, "test_status_browser/incident",
                                   env=script_env())
            # what the browser saw is what the API says
            unresolved = d.get("/status/api/v2/incidents/unresolved.json").json()["incidents"]
            assert unresolved == [], [i["name"] for i in unresolved]
            names = [i["name"] for i in d.get("/status/api/v2/incidents.json").json()["incidents"]]
            assert sum(n.startswith("Browser incident") for n in names) == 5, names
        report(r)
        shots = shots_of(r)
        assert {"incident-open", "incident-page", "incident-phone", "incident-resolved"} \
            <= set(shots), sorted(shots)
        browser.assert_pngs(r["screenshots"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Payloads: a script element, an attribute break-out, a javascript: URL.
SCRIPT = "<script>window.__pwned=1</script>"
ATTR = '"><img src=x onerror="window.__pwned=1">'
JSURL = "javascript:window.__pwned=1"
INJECT = BASE + """status:
  title: 'Status %(script)s'
  url: https://status.example.test
  groups: [{id: platform, name: 'Platform %(attr)s'}]
  components:
    - {id: api, name: 'API %(script)s', description: 'see <a href="%(js)s">here</a> %(attr)s',
       group: platform}
    - {id: web, name: 'Web %(attr)s'}
""" % {"script": SCRIPT.replace("'", "''"), "attr": ATTR.replace("'", "''"),
       "js": JSURL.replace("'", "''")}


@browser.test
def injected_text_stays_text():
    tmp = tempfile.mkdtemp(prefix="dwstatusb-")
    try:
        with Daemon(config=config_with(INJECT, tmp)) as d:
            wait_until(lambda: d.get("/status").status == 200, 15, what="the first rendering")
            env = script_env()
            env["DW_STATUS_PAYLOADS"] = json.dumps({"script": SCRIPT, "attr": ATTR, "js": JSURL})
            r = browser.run_script("status-injection", d, "test_status_browser/injection",
                                   env=env)
            # the bytes served: escaped, and the feeds are well-formed XML with the text as is
            page = d.get("/status").text
            assert "<script" not in page.lower() and "onerror=\"" not in page, page[:2000]
            assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in page, page[:2000]
            rss = ET.fromstring(d.get("/status/history.rss").body)
            titles = [e.text for e in rss.iter("item") for e in e.iter("title")]
            assert "Logins " + ATTR in titles and any(SCRIPT in (x or "") for x in titles), titles
            atom = ET.fromstring(d.get("/status/history.atom").body)
            ns = "{http://www.w3.org/2005/Atom}"
            assert "Logins " + ATTR in [e.text for e in atom.iter(ns + "title")], "atom titles"
        shots = shots_of(r)
        assert {"injection", "injection-incident"} <= set(shots), sorted(shots)
        browser.assert_pngs(r["screenshots"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    browser.run()
