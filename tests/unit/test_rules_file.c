/*
 * test_rules_file.c - Prometheus rule files (src/rules/rulefile.c): what a
 * valid file loads into, every kind of error at its file:line:col with
 * promtool's wording, promtool's YAML quirks (raw values, no ${VAR}
 * expansion, null items, merge keys), the limits, all-or-nothing loading of
 * several files, and the DojoPool example rules checked against the plan in
 * examples/dojopool.yaml.
 *
 * tests/integration/test_rules_file.py runs the real promtool on the same
 * kind of files; here positions and messages are pinned exactly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "plan/plan.h"
#include "rules/rulefile.h"
#include "testutil.h"

#ifndef DW_SOURCE_ROOT
#define DW_SOURCE_ROOT "."
#endif

#define EXAMPLE_RULES DW_SOURCE_ROOT "/examples/rules/dojopool.rules.yml"
#define EXAMPLE_CONFIG DW_SOURCE_ROOT "/examples/dojopool.yaml"
#define RULE_CONFIGS DW_SOURCE_ROOT "/tests/configs/rules"

/* ---- helpers ---- */

static struct dw_rule_set *load(const char *yaml, struct dw_diags *d)
{
    struct dw_rule_set *s = NULL;
    dw_diags_init(d);
    int rc = dw_rules_load_string("t.yml", yaml, strlen(yaml), 60000, &s, d);
    ASSERT_EQ_INT(rc, s ? 0 : -1);
    return s;
}

/* Loads a valid file; fails the test with the diagnostics otherwise. */
static struct dw_rule_set *load_ok(const char *yaml)
{
    struct dw_diags d;
    struct dw_rule_set *s = load(yaml, &d);
    char *text = diags_text(&d);
    if (!s)
        DW_FAIL_("expected a valid file, got:\n%s", text);
    free(text);
    dw_diags_release(&d);
    return s;
}

/* Loads an invalid file; returns its diagnostics, one formatted line each. */
static char *load_fail(const char *yaml)
{
    struct dw_diags d;
    struct dw_rule_set *s = load(yaml, &d);
    ASSERT_NULL(s);
    ASSERT_TRUE(dw_diags_errors(&d) > 0);
    char *text = diags_text(&d);
    dw_diags_release(&d);
    return text;
}

/* The file is invalid and one of its errors is exactly `line`. */
#define ASSERT_ERROR(yaml, line)                                                                   \
    do {                                                                                           \
        char *t_ = load_fail(yaml);                                                                \
        ASSERT_CONTAINS(t_, line "\n");                                                            \
        free(t_);                                                                                  \
    } while (0)

static const char *label(const struct dw_rule_pair *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return p[i].value;
    return NULL;
}

static const struct dw_rule_pair *pair(const struct dw_rule_pair *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0)
            return &p[i];
    return NULL;
}

/* ---- what a valid file loads into ---- */

static const char good[] = "groups:\n"
                           "  - name: api\n"
                           "    interval: 1s\n"
                           "    limit: 10\n"
                           "    rules:\n"
                           "      - record: job:up:sum\n"
                           "        expr: sum by (job) (up)\n"
                           "        labels: {team: api}\n"
                           "      - alert: APIDown\n"
                           "        expr: up{job=\"api\"} == 0\n"
                           "        for: 2m\n"
                           "        keep_firing_for: 30s\n"
                           "        labels:\n"
                           "          severity: critical\n"
                           "          priority: P0\n"
                           "        annotations:\n"
                           "          summary: \"{{ $labels.instance }} is down\"\n"
                           "          runbook: https://runbooks.example/api-down\n"
                           "  - name: slow\n"
                           "    rules:\n"
                           "      - alert: Slow\n"
                           "        expr: vector(1)\n";

TEST(valid_file_loads_groups_and_rules)
{
    struct dw_rule_set *s = load_ok(good);
    ASSERT_EQ_UINT(s->ngroups, 2);
    ASSERT_EQ_UINT(s->nrules, 3);
    ASSERT_EQ_UINT(s->nfiles, 1);
    ASSERT_EQ_STR(s->files[0], "t.yml");
    const struct dw_rule_group *g = &s->groups[0];
    ASSERT_EQ_STR(g->name, "api");
    ASSERT_EQ_STR(g->file, "t.yml");
    ASSERT_EQ_INT(g->line, 2);
    ASSERT_EQ_INT(g->col, 5);
    ASSERT_EQ_INT(g->interval_ms, 1000);
    ASSERT_TRUE(g->own_interval);
    ASSERT_EQ_INT(g->limit, 10);
    ASSERT_EQ_UINT(g->nrules, 2);

    const struct dw_rule *rec = &g->rules[0];
    ASSERT_EQ_INT(rec->kind, DW_RULE_RECORD);
    ASSERT_EQ_STR(dw_rule_kind_name(rec->kind), "record");
    ASSERT_EQ_STR(rec->name, "job:up:sum");
    ASSERT_EQ_STR(rec->expr, "sum by (job) (up)");
    ASSERT_NOT_NULL(rec->query);
    ASSERT_EQ_UINT(rec->nlabels, 1);
    ASSERT_NULL(rec->labels[0].tmpl);
    ASSERT_EQ_UINT(rec->nannotations, 0);
    ASSERT_TRUE(rec->group == g);
    ASSERT_EQ_UINT(rec->index, 0);
    ASSERT_EQ_INT(rec->line, 6);
    ASSERT_EQ_INT(rec->col, 9);

    const struct dw_rule *alert = &g->rules[1];
    ASSERT_EQ_INT(alert->kind, DW_RULE_ALERT);
    ASSERT_EQ_STR(dw_rule_kind_name(alert->kind), "alert");
    ASSERT_EQ_STR(alert->name, "APIDown");
    ASSERT_EQ_INT(alert->for_ms, 120000);
    ASSERT_EQ_INT(alert->keep_firing_for_ms, 30000);
    ASSERT_EQ_UINT(alert->index, 1);
    ASSERT_EQ_INT(alert->line, 9);
    /* Sorted by name, like Prometheus's label sets. */
    ASSERT_EQ_UINT(alert->nlabels, 2);
    ASSERT_EQ_STR(alert->labels[0].name, "priority");
    ASSERT_EQ_STR(alert->labels[1].name, "severity");
    ASSERT_EQ_UINT(alert->nannotations, 2);
    ASSERT_EQ_STR(alert->annotations[0].name, "runbook");
    ASSERT_NULL(alert->annotations[0].tmpl); /* no "{{": used as written */
    ASSERT_EQ_STR(alert->annotations[1].name, "summary");
    ASSERT_EQ_STR(alert->annotations[1].value, "{{ $labels.instance }} is down");
    ASSERT_NOT_NULL(alert->annotations[1].tmpl);

    /* No interval: the loader's default; no limit: 0. */
    ASSERT_EQ_INT(s->groups[1].interval_ms, 60000);
    ASSERT_FALSE(s->groups[1].own_interval);
    ASSERT_EQ_INT(s->groups[1].limit, 0);
    dw_rule_set_free(&s);
    ASSERT_NULL(s);
    dw_rule_set_free(&s); /* NULL is a no-op */
}

TEST(iterator_and_group_lookup)
{
    struct dw_rule_set *s = load_ok(good);
    struct dw_rule_iter it;
    dw_rule_iter_init(&it, s);
    const char *want[] = {"job:up:sum", "APIDown", "Slow"};
    const struct dw_rule *r;
    size_t n = 0;
    while ((r = dw_rule_iter_next(&it))) {
        ASSERT_TRUE(n < 3);
        ASSERT_EQ_STR(r->name, want[n++]);
        ASSERT_TRUE(r == &r->group->rules[r->index]);
    }
    ASSERT_EQ_UINT(n, 3);
    ASSERT_NULL(dw_rule_iter_next(&it));
    ASSERT_TRUE(dw_rule_set_find_group(s, "t.yml", "slow") == &s->groups[1]);
    ASSERT_NULL(dw_rule_set_find_group(s, "other.yml", "slow"));
    ASSERT_NULL(dw_rule_set_find_group(s, "t.yml", "nope"));
    dw_rule_set_free(&s);
}

TEST(interval_zero_means_default)
{
    struct dw_rule_set *s = load_ok("groups:\n- name: a\n  interval: 0s\n  rules: []\n");
    ASSERT_EQ_INT(s->groups[0].interval_ms, 60000);
    ASSERT_FALSE(s->groups[0].own_interval);
    dw_rule_set_free(&s);
    struct dw_diags d;
    dw_diags_init(&d);
    const char *y = "groups:\n- name: a\n  rules: []\n";
    ASSERT_EQ_INT(dw_rules_load_string("t.yml", y, strlen(y), 0, &s, &d), 0);
    ASSERT_EQ_INT(s->groups[0].interval_ms, 0); /* "the default" left to the caller */
    dw_rule_set_free(&s);
    dw_diags_release(&d);
}

/* Prometheus does not expand ${VAR}: label_replace uses ${1}, templates $labels. */
TEST(values_are_not_env_expanded)
{
    setenv("DW_RULES_TEST_VAR", "expanded", 1);
    struct dw_rule_set *s =
        load_ok("groups:\n"
                "- name: a\n"
                "  rules:\n"
                "  - record: x:y\n"
                "    expr: label_replace(up, \"host\", \"${1}\", \"instance\", \"(.*):.*\")\n"
                "    labels: {env: \"${DW_RULES_TEST_VAR}\"}\n"
                "  - alert: A\n"
                "    expr: up == 0\n"
                "    annotations: {summary: \"${DW_RULES_TEST_VAR} $labels {{ $value }}\"}\n");
    const struct dw_rule *r = &s->groups[0].rules[0];
    ASSERT_CONTAINS(r->expr, "\"${1}\"");
    ASSERT_EQ_STR(label(r->labels, r->nlabels, "env"), "${DW_RULES_TEST_VAR}");
    r = &s->groups[0].rules[1];
    ASSERT_EQ_STR(label(r->annotations, r->nannotations, "summary"),
                  "${DW_RULES_TEST_VAR} $labels {{ $value }}");
    dw_rule_set_free(&s);
    unsetenv("DW_RULES_TEST_VAR");
}

/* ---- promtool's YAML behaviour ---- */

TEST(scalars_of_any_type_are_strings)
{
    struct dw_rule_set *s = load_ok("groups:\n"
                                    "- name: 12\n"
                                    "  rules:\n"
                                    "  - alert: 5\n"
                                    "    expr: 1\n"
                                    "    labels: {a: 1.50, b: true, c: ~, d: null}\n");
    const struct dw_rule *r = &s->groups[0].rules[0];
    ASSERT_EQ_STR(s->groups[0].name, "12");
    ASSERT_EQ_STR(r->name, "5");
    ASSERT_EQ_STR(r->expr, "1");
    ASSERT_EQ_STR(label(r->labels, r->nlabels, "a"), "1.50");
    ASSERT_EQ_STR(label(r->labels, r->nlabels, "b"), "true");
    ASSERT_EQ_STR(label(r->labels, r->nlabels, "c"), "");
    ASSERT_EQ_STR(label(r->labels, r->nlabels, "d"), "");
    dw_rule_set_free(&s);
}

TEST(empty_files_and_null_items)
{
    const char *ok[] = {
        "",
        "# only a comment\n",
        "groups:\n",
        "groups: []\n",
        "groups:\n- ~\n",
        "groups:\n- name: a\n",
        "groups:\n- name: a\n  rules:\n  - ~\n",
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(ok); i++) {
        struct dw_rule_set *s = load_ok(ok[i]);
        ASSERT_EQ_UINT(s->nrules, 0);
        dw_rule_set_free(&s);
    }
    /* A null rule is dropped and does not count: the next one is rule 1. */
    ASSERT_ERROR("groups:\n- name: a\n  rules:\n  - ~\n  - expr: up\n",
                 "t.yml:5:5: group \"a\", rule 1, \"\": one of 'record' or 'alert' must be set");
}

/* rulefmt reads record, alert and expr as raw nodes: `~` is the text "~". */
TEST(record_alert_expr_are_raw)
{
    ASSERT_ERROR("groups:\n- name: a\n  rules:\n  - alert: a\n    expr: ~\n",
                 "t.yml:5:11: group \"a\", rule 1, \"a\": could not parse expression: 1:1: "
                 "parse error: unexpected character: '~'");
    struct dw_rule_set *s = load_ok("groups:\n- name: a\n  rules:\n  - alert: ~\n    expr: up\n");
    ASSERT_EQ_STR(s->groups[0].rules[0].name, "~");
    dw_rule_set_free(&s);
}

TEST(only_the_first_document_counts)
{
    struct dw_rule_set *s =
        load_ok("groups: [{name: a, rules: [{record: x, expr: up}]}]\n---\nbogus: 1\n");
    ASSERT_EQ_UINT(s->nrules, 1);
    dw_rule_set_free(&s);
}

TEST(aliases_and_merge_keys)
{
    struct dw_rule_set *s = load_ok("groups:\n"
                                    "- name: a\n"
                                    "  rules:\n"
                                    "  - &base\n"
                                    "    alert: A\n"
                                    "    expr: up == 0\n"
                                    "    labels: &common {team: api, priority: P1}\n"
                                    "  - <<: *base\n"
                                    "    alert: B\n"
                                    "    labels:\n"
                                    "      <<: [*common, {extra: x, team: web}]\n"
                                    "      priority: P0\n"
                                    "  - alert: C\n"
                                    "    expr: up\n"
                                    "    labels: *common\n");
    ASSERT_EQ_UINT(s->nrules, 3);
    const struct dw_rule *b = &s->groups[0].rules[1];
    ASSERT_EQ_STR(b->name, "B"); /* the mapping's own key wins over the merge */
    ASSERT_EQ_STR(b->expr, "up == 0");
    ASSERT_EQ_UINT(b->nlabels, 3);
    ASSERT_EQ_STR(label(b->labels, b->nlabels, "priority"), "P0");
    ASSERT_EQ_STR(label(b->labels, b->nlabels, "team"), "api"); /* earlier merge wins */
    ASSERT_EQ_STR(label(b->labels, b->nlabels, "extra"), "x");
    const struct dw_rule *c = &s->groups[0].rules[2];
    ASSERT_EQ_STR(label(c->labels, c->nlabels, "team"), "api");
    dw_rule_set_free(&s);
}

TEST(limit_takes_yaml_integers)
{
    struct {
        const char *text;
        int64_t want;
    } cases[] = {
        {"0", 0},        {"-3", -3},
        {"+5", 5},       {"0x10", 16},
        {"-0x10", -16},  {"0o17", 15},
        {"017", 15},     {"0b101", 5},
        {"1_000", 1000}, {"1e3", 1000},
        {"3.0", 3},      {"08", 8},
        {"~", 0},        {"9223372036854775807", INT64_MAX},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(cases); i++) {
        char *y = dw_asprintf("groups:\n- name: a\n  limit: %s\n  rules: []\n", cases[i].text);
        struct dw_rule_set *s = load_ok(y);
        ASSERT_EQ_INT(s->groups[0].limit, cases[i].want);
        dw_rule_set_free(&s);
        free(y);
    }
    /* yaml.v3 cuts a fraction; we do too, and say so. */
    struct dw_diags d;
    struct dw_rule_set *s = load("groups:\n- name: a\n  limit: 3.5\n  rules: []\n", &d);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_INT(s->groups[0].limit, 3);
    ASSERT_EQ_UINT(d.warnings, 1);
    char *t = diags_text(&d);
    ASSERT_CONTAINS(t, "t.yml:3:10: warning: group \"a\": limit \"3.5\" is not a whole number; "
                       "using 3");
    free(t);
    dw_diags_release(&d);
    dw_rule_set_free(&s);
}

/* ---- every error kind, at its position, with promtool's wording ---- */

TEST(error_yaml_syntax)
{
    ASSERT_ERROR("groups:\n  - name: a\n    rules: [\n",
                 "t.yml:4:1: invalid YAML: flow sequence without a closing bracket");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                 "        expr: down\n",
                 "t.yml:6:9: mapping key \"expr\" already defined at line 5");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - *nope\n",
                 "t.yml:4:10: unknown anchor 'nope' referenced");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - <<: 5\n        alert: A\n"
                 "        expr: up\n",
                 "t.yml:4:9: group \"a\", rule 1, \"\": a merge key (<<) needs a mapping or a "
                 "list of mappings");
}

TEST(error_unknown_fields_suggest)
{
    ASSERT_ERROR("grups: []\n",
                 "t.yml:1:1: unknown field \"grups\" in a rule file (did you mean \"groups\"?)");
    ASSERT_ERROR("groups:\n  - name: a\n    intervall: 1m\n    rules: []\n",
                 "t.yml:3:5: group \"a\": unknown field \"intervall\" in a group (did you mean "
                 "\"interval\"?)");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                 "        annotation: {a: b}\n",
                 "t.yml:6:9: group \"a\", rule 1, \"A\": unknown field \"annotation\" in a rule "
                 "(did you mean \"annotations\"?)");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                 "        severity: page\n",
                 "t.yml:6:9: group \"a\", rule 1, \"A\": unknown field \"severity\" in a rule");
}

TEST(error_wrong_shapes)
{
    ASSERT_ERROR("- a\n- b\n",
                 "t.yml:1:3: a rule file must be a mapping with a \"groups\" list, got a "
                 "sequence");
    ASSERT_ERROR("groups:\n  name: a\n", "t.yml:2:3: groups must be a list, got a mapping");
    ASSERT_ERROR("groups:\n  - a\n", "t.yml:2:5: a group must be a mapping, got a scalar");
    ASSERT_ERROR("groups:\n  - name: a\n    rules: {alert: A}\n",
                 "t.yml:3:13: group \"a\": rules must be a list, got a mapping");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - up\n",
                 "t.yml:4:9: group \"a\", rule 1, \"\": a rule must be a mapping, got a scalar");
    ASSERT_ERROR("groups:\n  - name: [a]\n    rules: []\n",
                 "t.yml:2:12: name must be a string, got a sequence");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                 "        labels: [a, b]\n",
                 "t.yml:6:18: group \"a\", rule 1, \"A\": labels must be a mapping of names to "
                 "values, got a sequence");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                 "        annotations:\n          summary: [x]\n",
                 "t.yml:7:21: group \"a\", rule 1, \"A\": annotation value must be a string, got "
                 "a sequence");
    char *t = load_fail("groups:\n  - name: a\n    rules:\n      - alert: [A]\n        expr: up\n");
    ASSERT_EQ_STR(t, "t.yml:4:17: group \"a\", rule 1, \"\": alert must be a string, got a "
                     "sequence\n");
    free(t);
}

TEST(error_group_names)
{
    ASSERT_ERROR("groups:\n  - name: \"\"\n    rules: []\n",
                 "t.yml:2:5: groupname must not be empty");
    ASSERT_ERROR("groups:\n  - rules: []\n", "t.yml:2:5: groupname must not be empty");
    ASSERT_ERROR("groups:\n  - name: a\n    rules: []\n  - name: b\n    rules: []\n"
                 "  - name: a\n    rules: []\n",
                 "t.yml:6:5: groupname: \"a\" is repeated in the same file (first at line 2)");
}

TEST(error_record_and_alert)
{
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        record: a:b\n"
                 "        expr: up\n",
                 "t.yml:5:17: group \"a\", rule 1, \"A\": only one of 'record' and 'alert' must "
                 "be set");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - expr: up\n",
                 "t.yml:4:9: group \"a\", rule 1, \"\": one of 'record' or 'alert' must be set");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: \"\"\n        expr: up\n",
                 "t.yml:4:9: group \"a\", rule 1, \"\": one of 'record' or 'alert' must be set");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - record: \"job:up-sum\"\n"
                 "        expr: up\n",
                 "t.yml:4:17: group \"a\", rule 1, \"job:up-sum\": invalid recording rule name: "
                 "job:up-sum");
}

TEST(error_expr)
{
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n",
                 "t.yml:4:9: group \"a\", rule 1, \"A\": field 'expr' must be set in rule");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr:\n",
                 "t.yml:5:9: group \"a\", rule 1, \"A\": field 'expr' must be set in rule");
    /* The parser's message, at the expr's position (promtool's format). */
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n"
                 "        expr: sum(rate(x[5m])\n",
                 "t.yml:5:15: group \"a\", rule 1, \"A\": could not parse expression: 1:16: parse "
                 "error: unclosed left parenthesis");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: rate(up)\n",
                 "t.yml:5:15: group \"a\", rule 1, \"A\": could not parse expression: 1:6: parse "
                 "error: expected type range vector in call to function \"rate\", got instant "
                 "vector");
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - record: a\n        expr: \"foo{\"\n",
                 "t.yml:5:15: group \"a\", rule 1, \"a\": could not parse expression: 1:5: parse "
                 "error: unexpected end of input inside braces");
    /* A block scalar is placed at its indicator; the parser counts lines inside it. */
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - record: a:b\n        expr: |\n"
                 "          sum by (job) (\n            rate(x[5m]\n          )\n",
                 "t.yml:5:15: group \"a\", rule 1, \"a:b\": could not parse expression: 4:1: "
                 "parse error: unclosed left parenthesis");
    /* ... or at its tag or anchor. */
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - record: a:b\n"
                 "        expr:   !!str &q >-   # the query\n          sum(\n",
                 "t.yml:5:17: group \"a\", rule 1, \"a:b\": could not parse expression: 1:5: "
                 "parse error: unclosed left parenthesis");
}

TEST(error_fields_only_for_alerts)
{
    char *t = load_fail("groups:\n  - name: a\n    rules:\n      - record: a:b\n"
                        "        expr: up\n        for: 5m\n        keep_firing_for: 1m\n"
                        "        annotations: {summary: x}\n");
    ASSERT_EQ_STR(t, "t.yml:4:17: group \"a\", rule 1, \"a:b\": invalid field 'annotations' in "
                     "recording rule\n"
                     "t.yml:4:17: group \"a\", rule 1, \"a:b\": invalid field 'for' in recording "
                     "rule\n"
                     "t.yml:4:17: group \"a\", rule 1, \"a:b\": invalid field 'keep_firing_for' in "
                     "recording rule\n");
    free(t);
    /* Zero durations and empty annotations are fine, as in rulefmt. */
    struct dw_rule_set *s = load_ok("groups:\n- name: a\n  rules:\n  - record: a:b\n"
                                    "    expr: up\n    for: 0s\n    annotations: {}\n");
    dw_rule_set_free(&s);
}

TEST(error_label_and_annotation_names)
{
    char *t =
        load_fail("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                  "        labels:\n          ok: x\n          1bad: y\n"
                  "          __name__: z\n        annotations:\n          \"two words\": x\n");
    ASSERT_EQ_STR(t, "t.yml:8:11: group \"a\", rule 1, \"A\": invalid label name: 1bad\n"
                     "t.yml:9:11: group \"a\", rule 1, \"A\": invalid label name: __name__\n"
                     "t.yml:11:11: group \"a\", rule 1, \"A\": invalid annotation name: two "
                     "words\n");
    free(t);
}

/* The template engine's own message (template.c) follows our prefix, at the value. */
#define ASSERT_TEMPLATE_ERROR(yaml, prefix, message)                                               \
    do {                                                                                           \
        char *t_ = load_fail(yaml);                                                                \
        ASSERT_TRUE(dw_str_has_prefix(t_, prefix));                                                \
        ASSERT_CONTAINS(t_, message "\n");                                                         \
        free(t_);                                                                                  \
    } while (0)

TEST(error_templates_of_alerting_rules)
{
    ASSERT_TEMPLATE_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                          "        labels:\n          who: \"{{ $labels.instance \"\n",
                          "t.yml:7:16: group \"a\", rule 1, \"A\": label \"who\": template: "
                          "__alert_A:1",
                          "unclosed action");
    ASSERT_TEMPLATE_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                          "        annotations:\n          summary: \"{{ $value\"\n",
                          "t.yml:7:20: group \"a\", rule 1, \"A\": annotation \"summary\": "
                          "template: __alert_A:1",
                          "unclosed action");
    ASSERT_TEMPLATE_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                          "        annotations:\n          summary: \"{{ nosuchfunc 1 }}\"\n",
                          "t.yml:7:20: group \"a\", rule 1, \"A\": annotation \"summary\": "
                          "template: __alert_A:1",
                          "function \"nosuchfunc\" not defined");
    /* Recording rules' label values are not templates. */
    struct dw_rule_set *s = load_ok("groups:\n- name: a\n  rules:\n  - record: a:b\n"
                                    "    expr: up\n    labels: {x: \"{{ broken\"}\n");
    ASSERT_NULL(s->groups[0].rules[0].labels[0].tmpl);
    dw_rule_set_free(&s);
}

TEST(error_durations)
{
    char *t = load_fail("groups:\n  - name: a\n    interval: 1x\n    rules:\n      - alert: A\n"
                        "        expr: up\n        for: 1.5m\n        keep_firing_for: \"\"\n");
    ASSERT_EQ_STR(t, "t.yml:3:15: group \"a\": interval: not a valid duration string: \"1x\"\n"
                     "t.yml:7:14: group \"a\", rule 1, \"A\": for: not a valid duration string: "
                     "\"1.5m\"\n"
                     "t.yml:8:26: group \"a\", rule 1, \"A\": keep_firing_for: empty duration "
                     "string\n");
    free(t);
    ASSERT_ERROR("groups:\n  - name: a\n    interval: -1m\n    rules: []\n",
                 "t.yml:3:15: group \"a\": interval: not a valid duration string: \"-1m\"");
    ASSERT_ERROR("groups:\n  - name: a\n    interval: 30m1h\n    rules: []\n",
                 "t.yml:3:15: group \"a\": interval: not a valid duration string: \"30m1h\"");
    /* Go's time.Duration holds about 292 years. */
    ASSERT_ERROR("groups:\n  - name: a\n    rules:\n      - alert: A\n        expr: up\n"
                 "        for: 300y\n",
                 "t.yml:6:14: group \"a\", rule 1, \"A\": for: duration out of range: \"300y\"");
    ASSERT_ERROR("groups:\n  - name: a\n    interval: [1m]\n    rules: []\n",
                 "t.yml:3:16: group \"a\": interval must be a duration like 5m, got a sequence");
    struct dw_rule_set *s = load_ok("groups:\n- name: a\n  interval: 1h30m\n  rules:\n"
                                    "  - alert: A\n    expr: up\n    for: 1d2h\n"
                                    "    keep_firing_for: 1w\n");
    ASSERT_EQ_INT(s->groups[0].interval_ms, 5400000);
    ASSERT_EQ_INT(s->groups[0].rules[0].for_ms, 26 * 3600000LL);
    ASSERT_EQ_INT(s->groups[0].rules[0].keep_firing_for_ms, 7 * 86400000LL);
    dw_rule_set_free(&s);
}

TEST(error_limit)
{
    ASSERT_ERROR("groups:\n  - name: a\n    limit: ten\n    rules: []\n",
                 "t.yml:3:12: group \"a\": limit must be an integer, got \"ten\"");
    /* A quoted number is a string to yaml.v3. */
    ASSERT_ERROR("groups:\n  - name: a\n    limit: \"5\"\n    rules: []\n",
                 "t.yml:3:12: group \"a\": limit must be an integer, got \"5\"");
    ASSERT_ERROR("groups:\n  - name: a\n    limit: true\n    rules: []\n",
                 "t.yml:3:12: group \"a\": limit must be an integer, got \"true\"");
    ASSERT_ERROR("groups:\n  - name: a\n    limit: 99999999999999999999\n    rules: []\n",
                 "t.yml:3:12: group \"a\": limit must be an integer, got "
                 "\"99999999999999999999\"");
}

TEST(errors_come_in_file_order_and_all_at_once)
{
    char *t = load_fail("groups:\n"
                        "  - name: a\n"
                        "    rules:\n"
                        "      - record: \"bad name\"\n"
                        "        expr: sum(\n"
                        "        for: 1m\n"
                        "  - name: a\n"
                        "    limit: x\n");
    ASSERT_EQ_STR(t, "t.yml:4:17: group \"a\", rule 1, \"bad name\": invalid field 'for' in "
                     "recording rule\n"
                     "t.yml:4:17: group \"a\", rule 1, \"bad name\": invalid recording rule name: "
                     "bad name\n"
                     "t.yml:5:15: group \"a\", rule 1, \"bad name\": could not parse expression: "
                     "1:5: parse error: unclosed left parenthesis\n"
                     "t.yml:7:5: groupname: \"a\" is repeated in the same file (first at line 2)\n"
                     "t.yml:8:12: group \"a\": limit must be an integer, got \"x\"\n");
    free(t);
}

/* promtool's duplicate-rules lint: a warning, the file still loads. */
TEST(duplicate_rules_are_a_warning)
{
    struct dw_diags d;
    struct dw_rule_set *s = load("groups:\n"
                                 "- name: a\n"
                                 "  rules:\n"
                                 "  - record: x\n"
                                 "    expr: up\n"
                                 "  - record: x\n"
                                 "    expr: up * 2\n"
                                 "    labels: {}\n"
                                 "  - record: x\n"
                                 "    expr: up\n"
                                 "    labels: {a: b}\n"
                                 "- name: b\n"
                                 "  rules:\n"
                                 "  - alert: x\n"
                                 "    expr: up\n",
                                 &d);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ_UINT(dw_diags_errors(&d), 0);
    ASSERT_EQ_UINT(d.warnings, 2);
    char *t = diags_text(&d);
    ASSERT_CONTAINS(t, "t.yml:6:5: warning: duplicate rule x: same name and labels as the rule "
                       "at line 4");
    ASSERT_CONTAINS(t, "t.yml:14:5: warning: duplicate rule x: same name and labels as the rule "
                       "at line 4");
    free(t);
    dw_diags_release(&d);
    dw_rule_set_free(&s);
}

/* ---- limits ---- */

static char *repeat(const char *head, const char *item, size_t n)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, head);
    for (size_t i = 0; i < n; i++)
        dw_buf_printf(&b, item, i);
    return dw_buf_steal(&b);
}

TEST(limit_groups_rules_labels)
{
    char *y = repeat("groups:\n", "- {name: g%zu}\n", DW_RULES_MAX_GROUPS + 1);
    char *t = load_fail(y);
    ASSERT_CONTAINS(t, "t.yml:2:4: too many groups (10001, at most 10000)");
    free(t);
    free(y);
    y = repeat("groups:\n- name: a\n  rules:\n", "  - {record: r%zu, expr: up}\n",
               DW_RULES_MAX_RULES_PER_GROUP + 1);
    t = load_fail(y);
    ASSERT_CONTAINS(t, "t.yml:4:6: group \"a\": too many rules in the group (10001, at most "
                       "10000)");
    free(t);
    free(y);
    y = repeat("groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels:\n",
               "      l%zu: x\n", DW_RULES_MAX_PAIRS + 1);
    t = load_fail(y);
    ASSERT_CONTAINS(t, "t.yml:7:7: group \"a\", rule 1, \"A\": too many labels (257, at most 256)");
    free(t);
    free(y);
}

TEST(limit_expr_length)
{
    char *expr = dw_malloc(DW_RULES_MAX_EXPR_BYTES + 2);
    memset(expr, 'a', DW_RULES_MAX_EXPR_BYTES + 1);
    expr[DW_RULES_MAX_EXPR_BYTES + 1] = '\0';
    char *y = dw_asprintf("groups:\n- name: a\n  rules:\n  - record: a\n    expr: %s\n", expr);
    char *t = load_fail(y);
    ASSERT_CONTAINS(t, "t.yml:5:11: group \"a\", rule 1, \"a\": expression is longer than 65536 "
                       "bytes");
    free(t);
    free(y);
    expr[DW_RULES_MAX_EXPR_BYTES] = '\0'; /* exactly at the limit is fine */
    y = dw_asprintf("groups:\n- name: a\n  rules:\n  - record: a\n    expr: %s\n", expr);
    struct dw_rule_set *s = load_ok(y);
    dw_rule_set_free(&s);
    free(y);
    free(expr);
}

TEST(limit_file_size)
{
    size_t n = DW_RULES_MAX_FILE_BYTES + 1;
    char *big = dw_malloc(n);
    memset(big, '#', n);
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_rule_set *s = NULL;
    ASSERT_EQ_INT(dw_rules_load_string("big.yml", big, n, 0, &s, &d), -1);
    char *t = diags_text(&d);
    ASSERT_EQ_STR(t, "big.yml: file is larger than 16 MiB\n");
    free(t);
    dw_diags_release(&d);

    char *dir = tmpdir_new();
    char *path = write_file_n(dir, "big.yml", big, n);
    dw_diags_init(&d);
    const char *paths[] = {path};
    ASSERT_EQ_INT(dw_rules_load_files(paths, 1, 0, &s, &d), -1);
    t = diags_text(&d);
    ASSERT_CONTAINS(t, "big.yml: file is larger than 16 MiB\n");
    free(t);
    dw_diags_release(&d);
    rm_rf(dir);
    free(path);
    free(dir);
    free(big);
}

/* Nine levels of ten aliases each would expand to 10^9 nodes. */
TEST(limit_alias_expansion)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        dw_buf_printf(&b, "a%d: &a%d [", i, i);
        for (int j = 0; j < 10; j++)
            dw_buf_printf(&b, "%s*a%d", j ? ", " : "", i - 1);
        dw_buf_puts(&b, "]\n");
    }
    dw_buf_puts(&b, "groups: []\n");
    char *t = load_fail(b.data);
    ASSERT_CONTAINS(t, "t.yml:1:1: the YAML tree is too large with its aliases expanded");
    free(t);
    dw_buf_release(&b);
}

/* ---- several files ---- */

TEST(files_load_all_or_nothing)
{
    char *dir = tmpdir_new();
    char *a =
        write_file(dir, "a.yml", "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n");
    char *b =
        write_file(dir, "b.yml", "groups:\n- name: g\n  rules:\n  - alert: B\n    expr: up\n");
    char *bad = write_file(dir, "bad.yml", "groups:\n- name: g\n  rules:\n  - alert: C\n");
    char *missing = dw_asprintf("%s/missing.yml", dir);

    /* The same group name in two files is two groups; a path given twice loads once. */
    const char *ok[] = {a, b, a};
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_rule_set *s = NULL;
    ASSERT_EQ_INT(dw_rules_load_files(ok, 3, 15000, &s, &d), 0);
    ASSERT_EQ_UINT(s->nfiles, 2);
    ASSERT_EQ_UINT(s->ngroups, 2);
    ASSERT_EQ_UINT(s->nrules, 2);
    ASSERT_EQ_STR(s->groups[0].file, a);
    ASSERT_EQ_STR(s->groups[1].file, b);
    ASSERT_EQ_INT(s->groups[1].interval_ms, 15000);
    ASSERT_TRUE(dw_rule_set_find_group(s, b, "g") == &s->groups[1]);
    ASSERT_EQ_STR(s->groups[1].rules[0].group->file, b);
    dw_rule_set_free(&s);
    dw_diags_release(&d);

    /* One bad file fails the whole load; every file's errors are reported. */
    const char *mixed[] = {a, bad, missing};
    dw_diags_init(&d);
    struct dw_rule_set sentinel;
    s = &sentinel; /* must be set to NULL */
    ASSERT_EQ_INT(dw_rules_load_files(mixed, 3, 0, &s, &d), -1);
    ASSERT_NULL(s);
    char *t = diags_text(&d);
    char *want1 = dw_asprintf("%s:4:5: group \"g\", rule 1, \"C\": field 'expr' must be set in "
                              "rule\n",
                              bad);
    char *want2 = dw_asprintf("%s: cannot open: No such file or directory\n", missing);
    ASSERT_CONTAINS(t, want1);
    ASSERT_CONTAINS(t, want2);
    ASSERT_EQ_UINT(dw_diags_errors(&d), 2);
    free(want1);
    free(want2);
    free(t);
    dw_diags_release(&d);

    dw_diags_init(&d);
    const char *dirs[] = {dir};
    ASSERT_EQ_INT(dw_rules_load_files(dirs, 1, 0, &s, &d), -1);
    t = diags_text(&d);
    ASSERT_CONTAINS(t, "cannot read: Is a directory");
    free(t);
    dw_diags_release(&d);

    rm_rf(dir);
    free(a);
    free(b);
    free(bad);
    free(missing);
    free(dir);
}

/* ---- the rule files the integration test shares with promtool ---- */

TEST(shared_good_and_bad_files)
{
    static const char *const good_files[] = {"good-node-exporter.yml", "good-recording.yml",
                                             "good-yaml-features.yml"};
    static const char *const bad_files[] = {
        "bad-expr.yml",          "bad-record-and-alert.yml", "bad-recording-fields.yml",
        "bad-labels.yml",        "bad-template.yml",         "bad-groups.yml",
        "bad-unknown-field.yml", "bad-duration.yml",         "bad-yaml.yml",
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(good_files); i++) {
        char *path = dw_asprintf("%s/%s", RULE_CONFIGS, good_files[i]);
        struct dw_diags d;
        dw_diags_init(&d);
        struct dw_rule_set *s = NULL;
        const char *paths[] = {path};
        int rc = dw_rules_load_files(paths, 1, 0, &s, &d);
        char *t = diags_text(&d);
        if (rc != 0)
            DW_FAIL_("%s should load:\n%s", path, t);
        ASSERT_TRUE(s->nrules > 0);
        free(t);
        dw_rule_set_free(&s);
        dw_diags_release(&d);
        free(path);
    }
    for (size_t i = 0; i < DW_ARRAY_LEN(bad_files); i++) {
        char *path = dw_asprintf("%s/%s", RULE_CONFIGS, bad_files[i]);
        struct dw_diags d;
        dw_diags_init(&d);
        struct dw_rule_set *s = NULL;
        const char *paths[] = {path};
        if (dw_rules_load_files(paths, 1, 0, &s, &d) == 0)
            DW_FAIL_("%s should not load", path);
        /* Every error has a position. */
        for (size_t j = 0; j < d.n; j++)
            ASSERT_TRUE(d.items[j].line > 0);
        dw_diags_release(&d);
        free(path);
    }
}

/* ---- the DojoPool example rules ---- */

static bool objective_known(const struct dw_config *cfg, const char *id)
{
    const struct dw_plan_objective *(*lists[])(const struct dw_config *, size_t *) = {
        dw_config_kpis, dw_config_baselines, dw_config_success_criteria};
    for (size_t l = 0; l < DW_ARRAY_LEN(lists); l++) {
        size_t n;
        const struct dw_plan_objective *o = lists[l](cfg, &n);
        for (size_t i = 0; i < n; i++)
            if (strcmp(o[i].id, id) == 0)
                return true;
    }
    return false;
}

static const struct dw_plan_check *find_check(const struct dw_config *cfg, const char *id)
{
    size_t n;
    const struct dw_plan_check *c = dw_config_checks(cfg, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(c[i].id, id) == 0)
            return &c[i];
    return NULL;
}

static struct dw_rule_set *load_example(void)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_rule_set *s = NULL;
    const char *paths[] = {EXAMPLE_RULES};
    int rc = dw_rules_load_files(paths, 1, 0, &s, &d);
    char *t = diags_text(&d);
    if (rc != 0 || d.n != 0)
        DW_FAIL_("the example rules must load without a warning:\n%s", t);
    free(t);
    dw_diags_release(&d);
    return s;
}

static void check_example_alert(const struct dw_config *cfg, const struct dw_rule *r)
{
    const char *prio = label(r->labels, r->nlabels, "priority");
    const char *check = label(r->labels, r->nlabels, "plan_check");
    const char *kpi = label(r->labels, r->nlabels, "kpi");
    if (!prio || dw_priority_parse(prio) < 0)
        DW_FAIL_("%s: priority must be P0, P1 or P2", r->name);
    if (!check && !kpi)
        DW_FAIL_("%s: needs a plan_check or kpi label", r->name);
    if (check && !find_check(cfg, check))
        DW_FAIL_("%s: plan_check %s is not a check of examples/dojopool.yaml", r->name, check);
    if (kpi && !objective_known(cfg, kpi))
        DW_FAIL_("%s: kpi %s is not an objective of examples/dojopool.yaml", r->name, kpi);
    ASSERT_NOT_NULL(label(r->labels, r->nlabels, "service"));
    const struct dw_rule_pair *summary = pair(r->annotations, r->nannotations, "summary");
    ASSERT_NOT_NULL(summary);
    ASSERT_NOT_NULL(pair(r->annotations, r->nannotations, "description"));
    if (!summary->tmpl)
        DW_FAIL_("%s: the summary should show a value or label through a template", r->name);
    /* P0 must reach someone in about a second: evaluated every second, no `for`. */
    if (strcmp(prio, "P0") == 0) {
        ASSERT_EQ_INT(r->group->interval_ms, 1000);
        ASSERT_EQ_INT(r->for_ms, 0);
    }
}

TEST(example_rules_follow_the_plan)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_file(EXAMPLE_CONFIG, &d);
    ASSERT_NOT_NULL(cfg);
    dw_diags_release(&d);
    struct dw_rule_set *s = load_example();
    size_t nalerts = 0, per_prio[DW_PRIORITY_COUNT] = {0};
    struct dw_rule_iter it;
    dw_rule_iter_init(&it, s);
    const struct dw_rule *r;
    while ((r = dw_rule_iter_next(&it))) {
        ASSERT_NOT_NULL(r->query);
        ASSERT_TRUE(r->group->own_interval);
        if (r->kind != DW_RULE_ALERT)
            continue;
        check_example_alert(cfg, r);
        nalerts++;
        per_prio[dw_priority_parse(label(r->labels, r->nlabels, "priority"))]++;
    }
    ASSERT_TRUE(nalerts >= 20);
    for (int p = 0; p < DW_PRIORITY_COUNT; p++)
        ASSERT_TRUE(per_prio[p] > 0);
    dw_rule_set_free(&s);
    dw_config_unref(&cfg);
}

/* Every System Health and User Experience row of the plan has an alert watching it. */
TEST(example_rules_cover_the_dashboard_checks)
{
    struct dw_diags d;
    dw_diags_init(&d);
    struct dw_config *cfg = dw_config_load_file(EXAMPLE_CONFIG, &d);
    ASSERT_NOT_NULL(cfg);
    dw_diags_release(&d);
    struct dw_rule_set *s = load_example();
    size_t n;
    const struct dw_plan_check *checks = dw_config_checks(cfg, &n);
    for (size_t i = 0; i < n; i++) {
        if (checks[i].cls == DW_CLASS_BUSINESS)
            continue;
        bool watched = false;
        struct dw_rule_iter it;
        dw_rule_iter_init(&it, s);
        const struct dw_rule *r;
        while (!watched && (r = dw_rule_iter_next(&it))) {
            const char *c = label(r->labels, r->nlabels, "plan_check");
            watched = r->kind == DW_RULE_ALERT && c && strcmp(c, checks[i].id) == 0;
        }
        if (!watched)
            DW_FAIL_("no alerting rule watches the plan check %s", checks[i].id);
    }
    dw_rule_set_free(&s);
    dw_config_unref(&cfg);
}

TEST_MAIN()
