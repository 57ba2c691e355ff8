"""Integration tests of `dojowatch incident`: the example plan (no scraping,
probes or rules, so no incident opens by itself) on a daemon, and a whole
incident driven from the CLI: created by hand (SEV2), listed, acknowledged,
investigated, given a root cause, a note and an action item that gets done,
resolved; `show` has the state changes and the note in its timeline; the
report (Markdown and HTML), the notice and MTTA/MTTR come out; a refused
transition and an unknown incident print the server's reason and exit 1;
bad usage exits 2 before any request."""
import atexit
import json
import shutil
import tempfile

from collectcfg import config_with
from dwtest import TOKENS, Daemon, cli, env_with_tokens, run, test

TMP = tempfile.mkdtemp(prefix="dwincident-")
atexit.register(shutil.rmtree, TMP, ignore_errors=True)

QUIET = "scrape: {host: {enabled: false}}\nprobes: {checks: []}\nrules: {files: []}\n"
CONFIG = config_with(QUIET, TMP)


def incident(*args, d=None, token="responder"):
    """`dojowatch incident ARGS` against daemon d (or none): (status, stdout, stderr)."""
    env = None
    if d:
        env = env_with_tokens({"DOJOWATCH_SERVER": d.url(""), "DOJOWATCH_TOKEN": TOKENS[token]})
    return cli("incident", *args, env=env)


def ok(*args, d, token="responder"):
    rc, out, err = incident(*args, d=d, token=token)
    assert rc == 0, (args, rc, out, err)
    return out


def as_json(*args, d, token="responder"):
    return json.loads(ok(*args, "-o", "json", d=d, token=token))


@test
def a_whole_incident_from_the_cli():
    with Daemon(config=CONFIG) as d:
        rc, out, err = incident("list", d=d, token="viewer")
        assert rc == 0 and out.split()[:3] == ["ID", "SEV", "PRIORITY"], (rc, out, err)
        assert "no incidents" in err, err

        iid = ok("create", "--title", "Checkout errors", "--severity", "2", "--commander",
                 "primary-engineer", "--impact", "some payments fail", "--system", "api",
                 "--system", "payments", d=d).strip()
        assert iid.startswith("INC-") and len(iid.split()) == 1, iid

        rows = ok("list", d=d, token="viewer").splitlines()
        assert len(rows) == 2 and rows[1].split()[:4] == [iid, "SEV2", "P1", "triggered"], rows
        assert rows[1].rstrip().endswith("Checkout errors"), rows
        listed = as_json("list", "--state", "open", "--severity", "2", d=d, token="viewer")
        assert [i["id"] for i in listed] == [iid], listed
        assert as_json("list", "--severity", "1", d=d) == []
        assert as_json("list", "--state", "resolved", "--limit", "5", d=d) == []

        assert ok("ack", iid, d=d) == iid + " is now acknowledged\n"
        assert ok("state", iid, "investigating", d=d) == iid + " is now investigating\n"
        out = ok("update", iid, "--root-cause", "expired TLS certificate", "--data-loss", "no",
                 "--comms-lead", "devops-lead", d=d)
        assert out == iid + " updated\n", out
        assert "note added" in ok("note", iid, "rolled", "back", "the", "gateway", d=d)

        added = ok("action", iid, "--task", "alert on certificate expiry", "--owner",
                   "devops-lead", "--due", "2030-01-15", d=d)
        assert added.startswith("action item 1 added to " + iid), added
        open_items = as_json("actions", d=d, token="viewer")
        assert [(a["incident"], a["id"]) for a in open_items] == [(iid, 1)], open_items
        assert as_json("actions", "--overdue", d=d) == []  # due in 2030
        ok("action", iid, "1", "--done", d=d)
        assert as_json("actions", d=d) == []
        assert ok("resolve", iid, d=d) == iid + " is now resolved\n"

        doc = as_json("show", iid, d=d, token="viewer")
        assert doc["state"] == "resolved" and doc["rootCause"] == "expired TLS certificate", doc
        assert doc["affectedSystems"] == ["api", "payments"] and doc["dataLoss"] is False, doc
        assert doc["actionItems"][0]["done"] is True, doc["actionItems"]
        texts = " | ".join(t["text"] for t in doc["timeline"])
        for word in ("acknowledged", "investigating", "resolved", "rolled back the gateway"):
            assert word in texts, (word, doc["timeline"])
        shown = ok("show", iid, d=d, token="viewer")
        for line in ("state           resolved", "severity        2 (", "root cause      expired TLS",
                     "systems         api, payments", "rolled back the gateway",
                     "alert on certificate expiry", "\ntimeline:\nAT ", "\naction items:\nID "):
            assert line in shown, (line, shown)

        report = ok("report", iid, d=d, token="viewer")
        assert report.startswith("# Incident Report"), report[:200]
        assert "expired TLS certificate" in report, report
        html = ok("report", iid, "--format", "html", d=d, token="viewer")
        assert "<h1>" in html and "Incident Report" in html, html[:300]
        notice = ok("notice", iid, d=d, token="viewer")
        assert notice.strip(), notice
        assert "<" in ok("notice", iid, "--format", "html", d=d, token="viewer")

        stats = as_json("stats", d=d, token="viewer")
        sev2 = [s for s in stats["severities"] if s["severity"] == 2][0]
        assert sev2["incidents"] == 1 and sev2["mttr"]["count"] == 1, stats
        table = ok("stats", "--since", "now-1d", d=d, token="viewer").splitlines()
        assert table[2].split()[:2] == ["SEVERITY", "NAME"], table
        assert any(r.split()[:1] == ["2"] and r.split()[2] == "1" for r in table[3:]), table


@test
def refusals_print_the_servers_reason():
    with Daemon(config=CONFIG) as d:
        rc, out, err = incident("show", "INC-NOPE", d=d)
        assert rc == 1 and out == "", (rc, out, err)
        assert "HTTP 404" in err and "no incident INC-NOPE" in err, err
        rc, _, err = incident("ack", "INC-NOPE", d=d)
        assert rc == 1 and "INC-NOPE" in err, (rc, err)
        rc, _, err = incident("report", "INC-NOPE", d=d)
        assert rc == 1 and "no incident INC-NOPE" in err, (rc, err)
        iid = ok("create", "--title", "Slow search", "--severity", "SEV3", d=d).strip()
        rc, _, err = incident("state", iid, "postmortem", d=d)  # triggered -> postmortem
        assert rc == 1 and "HTTP 400" in err and "you can go to" in err, (rc, err)
        rc, _, err = incident("update", iid, "--commander", "nobody", d=d)
        assert rc == 1 and "nobody" in err, (rc, err)
        rc, _, err = incident("create", "--title", "x", "--severity", "1", d=d, token="viewer")
        assert rc == 1 and "HTTP 403" in err, (rc, err)
        other = ok("create", "--title", "Slow search again", "--severity", "3", d=d).strip()
        assert ok("merge", other, "--into", iid, d=d) == "%s merged into %s\n" % (other, iid)
        assert as_json("show", other, d=d)["mergedInto"] == iid
        rc, _, err = incident("action", iid, "7", "--done", d=d)
        assert rc == 1 and "HTTP 404" in err, (rc, err)


@test
def bad_usage_exits_2():
    cases = [
        ((), "usage: dojowatch incident"),
        (("lst",), "did you mean 'list'"),
        (("show",), "which incident?"),
        (("show", "a", "b"), "unexpected argument 'b'"),
        (("list", "--title", "x"), "--title does not apply"),
        (("list", "--state", "sleeping"), "unknown state 'sleeping'"),
        (("list", "--severity", "5"), "--severity needs 1"),
        (("list", "--limit", "0"), "--limit needs a number"),
        (("list", "--since", "yesterday"), "is not a time"),
        (("create", "--severity", "2"), "--title is required"),
        (("create", "--title", "x"), "--severity is required"),
        (("state", "INC-1"), "which state?"),
        (("state", "INC-1", "fixed"), "unknown state 'fixed'"),
        (("update", "INC-1"), "nothing to change"),
        (("update", "INC-1", "--data-loss", "maybe"), "--data-loss needs yes or no"),
        (("note", "INC-1"), "what does the note say?"),
        (("action", "INC-1"), "--task is required"),
        (("action", "INC-1", "--task", "x", "--done"), "needs the action item's number"),
        (("action", "INC-1", "x", "--done"), "not an action item's number"),
        (("action", "INC-1", "1"), "nothing to change"),
        (("merge", "INC-1"), "--into is required"),
        (("report", "INC-1", "--format", "pdf"), "unknown format 'pdf'"),
        (("notice", "INC-1", "-o", "json"), "leave out -o json"),
        (("stats", "--since", "now", "--until", "now-1d"), "--until must be after --since"),
        (("list", "-o", "yaml"), "unknown output format"),
    ]
    for args, msg in cases:
        rc, out, err = incident(*args)
        assert rc == 2, (args, rc, out, err)
        assert msg in err, (args, err)
    for sub in ("list", "show", "create", "ack", "state", "resolve", "update", "note", "action",
                "actions", "merge", "report", "notice", "stats"):
        rc, out, _ = incident(sub, "--help")
        assert rc == 0 and out.startswith("usage: dojowatch incident " + sub), (sub, out)
    rc, out, _ = incident("--help")
    assert rc == 0 and "exit status" in out, out
    rc, out, _ = cli("help")
    assert rc == 0 and "incident" in out, out


if __name__ == "__main__":
    run()
