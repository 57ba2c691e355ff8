"""Integration tests of `dojowatch check-rules` against the real `promtool check
rules` of the Debian prometheus 2.42 package: on the same good and bad rule files
(tests/configs/rules/, including node-exporter-style rules written in Prometheus's
documented format) and on a table of small files that probe the YAML and rulefmt
corner cases, both must agree on valid or invalid, on the number of rules, and on
the position and wording of every error promtool places. The DojoPool example
rules must pass promtool's check and its unit tests (promtool test rules).

The promtool comparisons pass with a note when /usr/bin/promtool is not installed."""
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile

from dwtest import ROOT, cli, run, test

PROMTOOL = os.environ.get("PROMTOOL_BIN", "/usr/bin/promtool")
RULES_DIR = os.path.join(ROOT, "tests", "configs", "rules")
EXAMPLE_RULES = os.path.join(ROOT, "examples", "rules", "dojopool.rules.yml")
EXAMPLE_TEST = os.path.join(RULES_DIR, "example-dojopool-test.yml")

GOOD = sorted(glob.glob(os.path.join(RULES_DIR, "good-*.yml")))
BAD = sorted(glob.glob(os.path.join(RULES_DIR, "bad-*.yml")))

SUCCESS = re.compile(r"^  SUCCESS: (\d+) rules found$", re.M)


def have_promtool(what):
    if os.access(PROMTOOL, os.X_OK):
        return True
    print("  note: %s is not installed; %s checks dojowatch alone" % (PROMTOOL, what), flush=True)
    return False


def promtool(*args):
    p = subprocess.run([PROMTOOL] + list(args), capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def check_both(path):
    """(dojowatch status, stdout, stderr), (promtool status, stdout, stderr) or None."""
    ours = cli("check-rules", path)
    theirs = promtool("check", "rules", path) if os.access(PROMTOOL, os.X_OK) else None
    return ours, theirs


def rule_count(out):
    m = SUCCESS.search(out)
    return int(m.group(1)) if m else None


def assert_agree(path, ours, theirs, text=""):
    where = "%s%s" % (path, ("\n--- file:\n%r" % text) if text else "")
    assert ours[0] in (0, 1), "exit %d for %s: %s" % (ours[0], where, ours[2])
    if theirs is None:
        return
    assert (ours[0] == 0) == (theirs[0] == 0), (
        "disagree on %s\n--- dojowatch (%d):\n%s%s\n--- promtool (%d):\n%s%s"
        % (where, ours[0], ours[1], ours[2], theirs[0], theirs[1], theirs[2]))
    if ours[0] == 0 and rule_count(theirs[1]) is not None:  # a lint finding hides the count
        assert rule_count(ours[1]) == rule_count(theirs[1]), (ours[1], theirs[1])


# ---- the shared files ----

@test
def good_files_are_valid_for_both():
    assert GOOD, "no tests/configs/rules/good-*.yml"
    have_promtool("good files")
    for path in GOOD:
        ours, theirs = check_both(path)
        assert ours[0] == 0, "%s: %s%s" % (path, ours[1], ours[2])
        assert "Checking %s\n  SUCCESS: " % path in ours[1], ours[1]
        assert_agree(path, ours, theirs)


@test
def bad_files_are_invalid_for_both():
    assert BAD, "no tests/configs/rules/bad-*.yml"
    have_promtool("bad files")
    for path in BAD:
        ours, theirs = check_both(path)
        assert ours[0] == 1, "%s should be invalid: %s%s" % (path, ours[1], ours[2])
        assert "  FAILED:" in ours[2], ours[2]
        errors = [l for l in ours[2].splitlines() if l.startswith(path + ":")]
        assert errors, ours[2]
        for line in errors:  # every error has a position
            assert re.match(re.escape(path) + r":\d+:\d+: ", line), line
        assert_agree(path, ours, theirs)


# promtool's "FILE: L:C: group ..." lines (one position, a rule's problem).
PROMTOOL_ERROR = re.compile(r"^(\S+): (\d+):(\d+): (group \".*)$")


@test
def positions_and_messages_match_promtool():
    if not have_promtool("positions"):
        return
    compared = 0
    for path in BAD:
        ours = cli("check-rules", path)
        theirs = promtool("check", "rules", path)
        for line in theirs[2].splitlines():
            m = PROMTOOL_ERROR.match(line)
            if not m or m.group(2) == "0":  # no position in promtool
                continue
            want = "%s:%s:%s: %s" % (path, m.group(2), m.group(3), m.group(4))
            assert want in ours[2].splitlines(), "missing %r in:\n%s" % (want, ours[2])
            compared += 1
    assert compared >= 8, compared


# ---- a table of corner cases, each checked by both ----

CASES = [
    # empty and null
    "", "# comment only\n", "groups:\n", "groups: []\n", "groups:\n- ~\n",
    "groups:\n- name: a\n", "groups:\n- name: a\n  rules:\n  - ~\n",
    "groups:\n- name: a\n  rules:\n  - ~\n  - expr: up\n",
    # scalars of any type are strings; raw record/alert/expr
    "groups:\n- name: 12\n  rules:\n  - alert: 5\n    expr: 1\n    labels: {a: 1.5, b: true, c: ~}\n",
    "groups:\n- name: a\n  rules:\n  - record: 123\n    expr: up\n",
    "groups:\n- name: a\n  rules:\n  - alert: a\n    expr: ~\n",
    "groups:\n- name: a\n  rules:\n  - alert: a\n    expr: null\n",
    "groups:\n- name: a\n  rules:\n  - alert: ~\n    expr: up\n",
    "groups:\n- name: a\n  rules:\n  - alert: \"\"\n    expr: up\n",
    "groups:\n- name: ~\n  rules: []\n",
    "groups:\n- name: [a]\n  rules: []\n",
    # structure
    "- a\n", "foo: 1\n", "groups:\n  name: a\n", "groups:\n- a\n",
    "groups:\n- name: a\n  rules: {alert: A}\n", "groups:\n- name: a\n  rules:\n  - up\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: [a]\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {a: [x]}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {a: {b: c}}\n",
    # durations
    "groups:\n- name: a\n  interval: 0s\n  rules: []\n",
    "groups:\n- name: a\n  interval: 0\n  rules: []\n",
    "groups:\n- name: a\n  interval: 5\n  rules: []\n",
    "groups:\n- name: a\n  interval: \"5m\"\n  rules: []\n",
    "groups:\n- name: a\n  interval: 1h30m\n  rules: []\n",
    "groups:\n- name: a\n  interval: 30m1h\n  rules: []\n",
    "groups:\n- name: a\n  interval: 1.5m\n  rules: []\n",
    "groups:\n- name: a\n  interval: \"\"\n  rules: []\n",
    "groups:\n- name: a\n  interval: 1y2w3d4h5m6s7ms\n  rules: []\n",
    "groups:\n- name: a\n  rules:\n  - alert: x\n    expr: up\n    for: 999999999999y\n",
    "groups:\n- name: a\n  rules:\n  - alert: x\n    expr: up\n    for: 290y\n",
    "groups:\n- name: a\n  rules:\n  - alert: x\n    expr: up\n    for: ~\n",
    "groups:\n- name: a\n  rules:\n  - alert: x\n    expr: up\n    keep_firing_for: 10m\n",
    "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n    for: 0s\n",
    "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n    keep_firing_for: 1s\n",
    # limit
    "groups:\n- name: a\n  limit: 3\n  rules: []\n",
    "groups:\n- name: a\n  limit: -1\n  rules: []\n",
    "groups:\n- name: a\n  limit: \"3\"\n  rules: []\n",
    "groups:\n- name: a\n  limit: 3.0\n  rules: []\n",
    "groups:\n- name: a\n  limit: 0x10\n  rules: []\n",
    "groups:\n- name: a\n  limit: 1_000\n  rules: []\n",
    "groups:\n- name: a\n  limit: 1e3\n  rules: []\n",
    "groups:\n- name: a\n  limit: true\n  rules: []\n",
    "groups:\n- name: a\n  limit: abc\n  rules: []\n",
    "groups:\n- name: a\n  limit: 99999999999999999999\n  rules: []\n",
    # names
    "groups:\n- name: a\n  rules:\n  - record: a:b_c\n    expr: up\n",
    "groups:\n- name: a\n  rules:\n  - record: 1abc\n    expr: up\n",
    "groups:\n- name: a\n  rules:\n  - record: a-b\n    expr: up\n",
    "groups:\n- name: a\n  rules:\n  - alert: \"any name at all!\"\n    expr: up\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {_ok: x}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {a:b: x}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {__name__: x}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {__name__: x}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {a-b: x}\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: up\n    annotations: {}\n",
    "groups:\n- name: a\n  rules: []\n- name: a\n  rules: []\n",
    "groups:\n- name: a\n  rules: []\n- name: A\n  rules: []\n",
    # expressions
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: '\"string\"'\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: up[5m]\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: rate(up[5m])[30m:1m]\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: up @ start()\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: sum without() (up)\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: 'up{job=~\"a(\"}'\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: '{job=\"a\"}'\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: '{job=~\".*\"}'\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: up and on() group_left vector(1)\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: histogram_quantile(0.9, rate(x_bucket[5m]))\n",
    # templates (alerting rules only)
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ $labels.x }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ $labels.x '}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ $nosuch }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ nosuchfunc 1 }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ if }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ end }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {s: '{{ .Foo.Bar }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {s: '{{ $value | humanize }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {s: '{{ $value | printf \"%.2f\" }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {s: '{{ range $k, $v := $labels }}{{ $k }}{{ end }}'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {s: '{{ with query \"up\" }}{{ . | first | value }}{{ end }}'}\n",
    "groups:\n- name: a\n  rules:\n  - record: a\n    expr: up\n    labels: {s: '{{ broken'}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {s: '${1} $labels'}\n",
    # YAML features
    "groups:\n- name: a\n  rules:\n  - &r {alert: A, expr: up}\n  - <<: *r\n    alert: B\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      <<: [{a: b}, {a: c, d: e}]\n      f: g\n",
    "groups:\n- name: a\n  rules:\n  - <<: 5\n    alert: A\n    expr: up\n",
    "groups:\n- name: a\n  rules:\n  - *nope\n",
    "x: &a 1\ngroups: []\n",
    "groups: []\n---\nfoo: 1\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    expr: down\n",
    "groups:\n- name: a\n  rules: [\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: |\n      sum(\n        up\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: >\n      sum(up)\n      > 1\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {a: \"\\u00e9\\u00ff\"}\n",
    "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    severity: page\n",
    "groups:\n- name: a\n  evaluation_interval: 1m\n  rules: []\n",
    # bytes: a byte order mark and CRLF line ends, invalid UTF-8
    b"\xef\xbb\xbfgroups:\r\n- name: a\r\n  rules:\r\n  - alert: A\r\n    expr: up\r\n",
    b"groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {a: \"\xff\"}\n",
]


@test
def corner_cases_agree_with_promtool():
    promtool_there = have_promtool("corner cases")
    tmp = tempfile.mkdtemp(prefix="dwrules-")
    try:
        for i, text in enumerate(CASES):
            path = os.path.join(tmp, "case%03d.yml" % i)
            with open(path, "wb") as f:
                f.write(text if isinstance(text, bytes) else text.encode())
            ours = cli("check-rules", path)
            theirs = promtool("check", "rules", path) if promtool_there else None
            assert_agree(path, ours, theirs, text)
    finally:
        shutil.rmtree(tmp)


# ---- the DojoPool example ----

@test
def example_rules_pass_both():
    ours, theirs = check_both(EXAMPLE_RULES)
    assert ours[0] == 0, ours[1] + ours[2]
    assert ours[2] == "", "the example has warnings: " + ours[2]
    assert rule_count(ours[1]) >= 40, ours[1]
    assert_agree(EXAMPLE_RULES, ours, theirs)


@test
def example_rules_fire_as_designed_in_prometheus():
    if not have_promtool("promtool test rules"):
        return
    status, out, err = promtool("test", "rules", EXAMPLE_TEST)
    assert status == 0, out + err
    assert "SUCCESS" in out, out


# ---- the command line ----

@test
def json_output():
    bad = os.path.join(RULES_DIR, "bad-labels.yml")
    status, out, err = cli("check-rules", "-o", "json", GOOD[0], bad)
    assert status == 1, out + err
    results = json.loads(out)
    assert [r["file"] for r in results] == [GOOD[0], bad]
    assert results[0]["valid"] is True and results[0]["rules"] > 0 and results[0]["groups"] > 0
    assert results[0]["errors"] == []
    assert results[1]["valid"] is False and results[1]["rules"] == 0
    first = results[1]["errors"][0]
    assert first["line"] == 8 and first["col"] == 11, first
    assert first["message"].endswith("invalid label name: bad-name"), first


@test
def exit_status_and_usage():
    bad = os.path.join(RULES_DIR, "bad-expr.yml")
    status, out, err = cli("check-rules", GOOD[0], bad)
    assert status == 1, (out, err)
    assert "Checking %s\n  SUCCESS" % GOOD[0] in out and "Checking %s\n" % bad in out, out
    status, out, err = cli("check-rules", "/nonexistent/rules.yml")
    assert status == 1 and "/nonexistent/rules.yml: cannot open: No such file" in err, err
    status, out, err = cli("check-rules")
    assert status == 2 and "which files?" in err, err
    status, out, err = cli("check-rules", "--bogus", GOOD[0])
    assert status == 2, err
    status, out, err = cli("check-rules", "-o", "yaml", GOOD[0])
    assert status == 2 and "unknown output format" in err, err
    status, out, err = cli("check-rules", "--help")
    assert status == 0 and out.startswith("usage: dojowatch check-rules"), out


@test
def duplicate_rules_warn_but_pass():
    tmp = tempfile.mkdtemp(prefix="dwrules-")
    try:
        path = os.path.join(tmp, "dup.yml")
        with open(path, "w") as f:
            f.write("groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n"
                    "  - record: x\n    expr: up + 1\n")
        ours, theirs = check_both(path)
        assert ours[0] == 0, ours
        assert "%s:6:5: warning: duplicate rule x" % path in ours[2], ours[2]
        assert_agree(path, ours, theirs)
        if theirs:  # promtool lints it too, without failing
            assert "duplicate rule" in theirs[2], theirs
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    run()
