/*
 * test_rules_template.c - the template language of alerting rules
 * (src/rules/template.c).
 *
 * Where the expected strings come from: every output and message below that
 * Prometheus can produce was checked with Debian's promtool 2.42 ("promtool
 * test rules" prints each alert's expanded annotations, "promtool check
 * rules" the parse errors), with the same labels {instance="host:9100",
 * job="node"}, external label region="eu" and external URL. Two systematic
 * differences are not Prometheus's behaviour but ours, by design: Prometheus
 * prepends its 112-byte prelude ({{$labels := .Labels}}...) to the text, so
 * its columns on line 1 are 112 larger; and its parse errors carry a line
 * only ("template: T:1: ..."), where ours add the column of the token at
 * fault. Comments name the Go rule behind results that surprise.
 */
#include <pthread.h>

#include "harness.h"
#include "rules/template.h"

/* Deliberately unsorted: Go's maps come out sorted whatever the input order. */
static const struct dw_label labels[] = {{"job", "node"}, {"instance", "host:9100"}};
static const struct dw_label external[] = {{"region", "eu"}};
#define URL "http://prom.example:9090/prefix"

/* A fake storage for `query`: three "up" series, an erroring expression. */
static int64_t queried_at;

static int fake_query(void *ctx, const char *expr, int64_t at_ms, struct dw_tmpl_vector *out,
                      char *err, size_t errcap)
{
    (void)ctx;
    queried_at = at_ms;
    if (strcmp(expr, "bad(") == 0) {
        snprintf(err, errcap, "1:5: parse error: unclosed left parenthesis");
        return -1;
    }
    if (strcmp(expr, "up") != 0)
        return 0;
    struct dw_label a[] = {{"__name__", "up"}, {"job", "node"}, {"instance", "a:9100"}};
    struct dw_label b[] = {{"__name__", "up"}, {"job", "api"}, {"instance", "b:9100"}};
    struct dw_label c[] = {{"__name__", "up"}, {"job", "db"}, {"instance", "c:9100"}};
    dw_tmpl_vector_add(out, a, 3, 1);
    dw_tmpl_vector_add(out, b, 3, 0);
    dw_tmpl_vector_add(out, c, 3, 1);
    return 0;
}

static struct dw_tmpl_data data(double value)
{
    return (struct dw_tmpl_data){.labels = labels,
                                 .nlabels = 2,
                                 .external = external,
                                 .nexternal = 1,
                                 .external_url = URL,
                                 .value = value,
                                 .now_ms = 1700000000000,
                                 .query = fake_query};
}

/* The expansion of text with $value = value, or its error. Valid until the next call. */
static const char *run_v(const char *text, double value)
{
    static char *last;
    free(last);
    struct dw_tmpl_data d = data(value);
    char *err;
    last = dw_tmpl_expand("T", text, &d, &err);
    if (!last)
        last = err;
    return last;
}

static const char *run(const char *text)
{
    return run_v(text, 1);
}

/* The compile error of text (dw_tmpl_compile's own format), "" if it compiles. */
static const char *compile_error(const char *text)
{
    static char err[512];
    struct dw_tmpl *t = dw_tmpl_compile("T", text, err, sizeof err);
    if (t)
        err[0] = '\0';
    dw_tmpl_free(&t);
    return err;
}

struct tcase {
    const char *text;
    const char *want;
};

static void check_cases(const struct tcase *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ_STR(run(c[i].text), c[i].want);
}

#define CHECK(cases) check_cases(cases, sizeof cases / sizeof cases[0])

/* ---- data and printing ---- */

TEST(text_without_actions_is_copied)
{
    ASSERT_TRUE(dw_tmpl_is_literal("CPU at 95% on {host}, $value"));
    ASSERT_FALSE(dw_tmpl_is_literal("{{ $value }}"));
    /* Go would print it unchanged too: no action, nothing to expand. */
    ASSERT_EQ_STR(run("CPU at 95% on {host}, $value"), "CPU at 95% on {host}, $value");
    ASSERT_EQ_STR(run(""), "");
}

TEST(labels_value_and_dot)
{
    static const struct tcase c[] = {
        {"{{ $labels.instance }} is down", "host:9100 is down"},
        {"{{ .Labels.job }}/{{ .ExternalLabels.region }}/{{ .ExternalURL }}/{{ $externalURL }}/"
         "{{ .Value }}/{{ $.Labels.instance }}",
         "node/eu/" URL "/" URL "/1/host:9100"},
        {"{{ $externalLabels.region }}", "eu"},
        /* missingkey=zero on a map[string]string: a missing label is "" */
        {"[{{ $labels.nope }}][{{ index $labels \"nope\" }}][{{ .ExternalLabels.nope }}]",
         "[][][]"},
        /* fmt prints maps with sorted keys and the struct field by field */
        {"{{ $labels }} {{ $externalLabels }}", "map[instance:host:9100 job:node] map[region:eu]"},
        {"{{ . }}", "{map[instance:host:9100 job:node] map[region:eu] " URL " 1}"},
        {"{{ printf \"%+v\" . }}", "{Labels:map[instance:host:9100 job:node] "
                                   "ExternalLabels:map[region:eu] ExternalURL:" URL " Value:1}"},
    };
    CHECK(c);
}

TEST(value_prints_as_go_float64)
{
    /* fmt's %v: the shortest digits that read back, in exponent form when the
     * decimal exponent is below -4 or 6 and up; so 1234567 shows as 1.234567e+06
     * in a Prometheus alert. */
    ASSERT_EQ_STR(run_v("{{ $value }}", 1234567), "1.234567e+06");
    ASSERT_EQ_STR(run_v("{{ $value }}", 0.1 + 0.2), "0.30000000000000004");
    ASSERT_EQ_STR(run_v("{{ $value }}", 99.5), "99.5");
    ASSERT_EQ_STR(run_v("{{ $value }} {{ $value | humanize }} {{ humanizeDuration $value }}", NAN),
                  "NaN NaN NaN");
    ASSERT_EQ_STR(
        run_v("{{ $value }} {{ $value | humanize }} {{ humanizeTimestamp $value }}", INFINITY),
        "+Inf +Inf +Inf");
    ASSERT_EQ_STR(run_v("{{ $value }}", -INFINITY), "-Inf");
    /* Literals: ints stay ints (0x10, 017 octal, 'a' a rune); ".eE" make float64s. */
    ASSERT_EQ_STR(run("{{ 1e6 }}|{{ 123456.0 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ 1e21 }}|{{ -0.0 }}|"
                      "{{ 0x10 }}|{{ 'a' }}|{{ 1.0 }}|{{ 017 }}|{{ 123456789.0 }}"),
                  "1e+06|123456|0.0001|1e-05|1e+21|-0|16|97|1|15|1.23456789e+08");
}

/* ---- Prometheus's number functions ---- */

TEST(humanize_family)
{
    static const struct tcase c[] = {
        /* SI prefixes with %.4g */
        {"{{ humanize \"1e3\" }}|{{ humanize 1000 }}|{{ humanize 0.001234 }}|{{ humanize 0 }}|"
         "{{ humanize -1500 }}|{{ humanize 1e30 }}|{{ humanize 1e-30 }}",
         "1k|1k|1.234m|0|-1.5k|1e+06Y|1e-06y"},
        {"{{ humanize1024 1048576 }}|{{ humanize1024 0.5 }}|{{ humanize1024 1023 }}|"
         "{{ humanize1024 1025 }}|{{ humanize1024 -2048 }}",
         "1Mi|0.5|1023|1.001ki|-2ki"},
        /* whole seconds from a minute up, %.4g below */
        {"{{ humanizeDuration 90 }}|{{ humanizeDuration 0 }}|{{ humanizeDuration 0.0012 }}|"
         "{{ humanizeDuration 3.14159 }}|{{ humanizeDuration 3661 }}|"
         "{{ humanizeDuration 86400.5 }}|{{ humanizeDuration -90 }}|"
         "{{ humanizeDuration \"899.99\" }}",
         "1m 30s|0s|1.2ms|3.142s|1h 1m 1s|1d 0h 0m 0s|-1m 30s|14m 59s"},
        {"{{ humanizePercentage 0.1234 }}|{{ humanizePercentage 0.1234567 }}|"
         "{{ humanizePercentage 1 }}",
         "12.34%|12.35%|100%"},
        /* time.Time.String() in UTC, at millisecond precision */
        {"{{ humanizeTimestamp 1435065584.128 }}|{{ humanizeTimestamp 0 }}|"
         "{{ humanizeTimestamp -1.5 }}|{{ toTime 1435065584 }}",
         "2015-06-23 13:19:44.128 +0000 UTC|1970-01-01 00:00:00 +0000 UTC|"
         "1969-12-31 23:59:58.5 +0000 UTC|2015-06-23 13:19:44 +0000 UTC"},
    };
    CHECK(c);
    ASSERT_EQ_STR(run_v("{{ $value | humanize }}", 1234567), "1.235M");
    ASSERT_EQ_STR(run_v("{{ humanizeDuration $value }}", 90), "1m 30s");
    ASSERT_EQ_STR(run_v("{{ humanizePercentage $value }}", 0.1234), "12.34%");
}

TEST(humanize_rejects_what_cannot_be_a_number)
{
    ASSERT_EQ_STR(run("{{ humanize \"abc\" }}"),
                  "error executing template T: template: T:1:3: executing \"T\" at <humanize "
                  "\"abc\">: error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid "
                  "syntax");
    ASSERT_EQ_STR(run("{{ humanize true }}"),
                  "error executing template T: template: T:1:3: executing \"T\" at <humanize "
                  "true>: error calling humanize: can't convert bool to float");
}

/* ---- fmt ---- */

TEST(printf_verbs_and_flags)
{
    static const struct tcase c[] = {
        {"{{ printf \"%d|%5.2f|%-6s|%06d|%x|%X|%o|%q|%v|%t|%c|%U|%e|%g|%G|%%|%s\" 42 3.14159 "
         "\"ab\" "
         "-42 255 \"hi\" 8 \"a\\\"b\" 1.5 true 65 65 1234.5678 0.000012 1e21 \"z\" }}",
         "42| 3.14|ab    |-00042|ff|6869|10|\"a\\\"b\"|1.5|true|A|U+0041|1.234568e+03|1.2e-05|"
         "1E+21|%|z"},
        /* Go's fmt reports misuse inline instead of failing */
        {"{{ printf \"%d %s\" 1.5 2 }}|{{ printf \"%d\" }}|{{ printf \"%d\" 1 2 \"x\" }}|"
         "{{ printf \"%\" }}|{{ printf \"%v %v\" nil $labels }}",
         "%!d(float64=1.5) %!s(int=2)|%!d(MISSING)|1%!(EXTRA int=2, string=x)|%!(NOVERB)|"
         "<nil> map[instance:host:9100 job:node]"},
        {"{{ printf \"%[2]d %[1]d\" 1 2 }}|{{ printf \"%*d|%-*d|%.*f\" 5 1 5 1 2 3.14159 }}|"
         "{{ printf \"%T %T %T %T %T\" 1 1.0 \"s\" $labels nil }}",
         "2 1|    1|1    |3.14|int float64 string map[string]string <nil>"},
        {"{{ printf \"%.2s|%5s|%05s|%x|% x|%#x|%#q\" \"hé\" \"h\" \"hi\" \"hi\" \"hi\" \"hi\" "
         "\"é\" }}",
         "hé|    h|000hi|6869|68 69|0x6869|`é`"},
        {"{{ printf \"%d|%+05d|%#o|%O|%b|%c|%q|%#U|%8.3d|%08.3d\" 7 7 8 8 5 9731 10 9731 7 7 }}",
         "7|+0007|010|0o10|101|☃|'\\n'|U+2603 '☃'|     007|     007"},
        {"{{ printf \"%v|%.3v|%10.3g|%-10v|%010.2f|%+.1e|%x\" 1e-7 3.14159 3.14159 2.5 -3.14159 "
         "12345.678 1.5 }}",
         "1e-07|3.14|      3.14|2.5       |-000003.14|+1.2e+04|0x1.8p+00"},
    };
    CHECK(c);
    /* a percent sign in an annotation: the value is a float64, %d does not take it */
    ASSERT_EQ_STR(
        run_v("{{ $value }}|{{ printf \"%.2f\" $value }}%|{{ printf \"%d\" $value }}", 99.5),
        "99.5|99.50%|%!d(float64=99.5)");
    /* NaN is unsigned unless asked, never zero-padded */
    ASSERT_EQ_STR(run_v("{{ printf \"%v|%f|%5v|%+v|% v|%05v\" $value $value $value $value $value "
                        "$value }}",
                        NAN),
                  "NaN|NaN|  NaN|NaN| NaN|  NaN");
}

TEST(pipelines_print_and_println)
{
    /* the piped value is the last argument; print spaces only between non-strings */
    ASSERT_EQ_STR(run_v("{{ $value | printf \"%.1f\" | printf \"[%s]\" }}|"
                        "{{ print 1 2 \"a\" \"b\" 3 true }}|{{ println 1 \"a\" }}",
                        0.25),
                  "[0.2]|1 2ab3 true|1 a\n");
}

/* ---- control flow ---- */

TEST(if_else_if_chain_on_the_value)
{
    const char *t = "{{ if gt $value 80.0 }}high{{ else if gt $value 50.0 }}medium{{ else }}low"
                    "{{ end }}";
    ASSERT_EQ_STR(run_v(t, 90), "high");
    ASSERT_EQ_STR(run_v(t, 60), "medium");
    ASSERT_EQ_STR(run_v(t, 10), "low");
}

TEST(comparing_a_float_with_an_int_literal_fails)
{
    /* Go's gt compares kinds, not numbers: float64 $value against int 1 */
    ASSERT_EQ_STR(run_v("{{ if gt $value 1 }}big{{ end }}", 5),
                  "error executing template T: template: T:1:6: executing \"T\" at <gt $value 1>: "
                  "error calling gt: incompatible types for comparison");
}

TEST(nan_comparisons)
{
    /* gt is !(lt || eq): with NaN both are false, so NaN is "greater" than anything */
    ASSERT_EQ_STR(run_v("{{ if gt $value 80.0 }}hot{{ else }}ok{{ end }}|"
                        "{{ if lt $value 80.0 }}cold{{ else }}not cold{{ end }}",
                        NAN),
                  "hot|not cold");
}

TEST(logic_and_comparison_functions)
{
    /* and/or return an operand, the first that decides */
    ASSERT_EQ_STR(
        run("{{ if and (eq $labels.job \"node\") (ne $labels.instance \"\") }}yes{{ end }}|"
            "{{ or $labels.nope \"fallback\" }}|{{ and 1 0 2 }}|{{ not 0 }}|"
            "{{ eq 1 2 3 1 }}|{{ le \"a\" \"b\" }}"),
        "yes|fallback|0|true|true|true");
    ASSERT_EQ_STR(run("{{ eq $labels $labels }}"),
                  "error executing template T: template: T:1:3: executing \"T\" at <eq $labels "
                  "$labels>: error calling eq: non-comparable type map[instance:host:9100 "
                  "job:node]: map[string]string");
    ASSERT_EQ_STR(run("{{ lt true false }}"),
                  "error executing template T: template: T:1:3: executing \"T\" at <lt true "
                  "false>: error calling lt: invalid type for comparison");
}

TEST(range_over_labels_in_key_order)
{
    static const struct tcase c[] = {
        {"{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
         "instance=host:9100;job=node;"},
        {"{{ range $labels }}[{{ . }}]{{ end }}|{{ range $externalLabels }}{{ . }}{{ else }}none"
         "{{ end }}",
         "[host:9100][node]|eu"},
        {"{{ range (args) }}x{{ else }}empty{{ end }}|"
         "{{ range $i, $e := (args \"a\" \"b\") }}{{ $i }}={{ $e }} {{ end }}",
         "empty|arg0=a arg1=b "},
        {"{{ range $k, $v := $labels }}{{ if eq $k \"job\" }}{{ break }}{{ end }}{{ $k }} {{ end "
         "}}|"
         "{{ range $k, $v := $labels }}{{ if eq $k \"instance\" }}{{ continue }}{{ end }}{{ $k }}"
         "{{ end }}",
         "instance |job"},
    };
    CHECK(c);
    ASSERT_EQ_STR(run("{{ range $value }}x{{ end }}"),
                  "error executing template T: template: T:1:9: executing \"T\" at <$value>: "
                  "range can't iterate over 1");
}

TEST(with_and_variable_scopes)
{
    ASSERT_EQ_STR(run("{{ with $labels.job }}job={{ . }}{{ end }}|"
                      "{{ with $labels.nope }}x{{ else }}none{{ end }}|"
                      "{{ with $x := $labels.instance }}{{ $x }}{{ end }}"),
                  "job=node|none|host:9100");
    /* := declares in the block's scope, = assigns the outer variable */
    ASSERT_EQ_STR(
        run("{{ $x := \"a\" }}{{ with $labels }}{{ $x := \"b\" }}{{ $x }}{{ end }}{{ $x }}"
            "{{ range $labels }}{{ $x = . }}{{ end }}{{ $x }}"),
        "banode");
    ASSERT_EQ_STR(run("{{ $y = 3 }}"), "error executing template T: template: T:1:8: executing "
                                       "\"T\" at <3>: undefined variable: $y");
}

TEST(trim_markers_and_comments)
{
    static const struct tcase c[] = {
        {"a  {{- 1 -}}  b {{- /* c */ -}} c {{/* d */}} d\n{{- 2 }}", "a1bc  d2"},
        {"{{ range $k, $v := $labels -}}\n  {{ $k }}: {{ $v }}\n{{ end -}}\ndone",
         "instance: host:9100\njob: node\ndone"},
        /* "{{-3" is the number -3: a trim marker needs white space after it */
        {"{{-3}}|{{ 3 -}} x", "-3|3x"},
    };
    CHECK(c);
}

TEST(define_template_and_block)
{
    ASSERT_EQ_STR(run("{{ define \"row\" }}{{ .arg0 }}={{ .arg1 }};{{ end }}"
                      "{{ range $k, $v := $labels }}{{ template \"row\" (args $k $v) }}{{ end }}"),
                  "instance=host:9100;job=node;");
    ASSERT_EQ_STR(run("{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" $labels.job }}"
                      "{{ template \"x\" }}{{ block \"y\" 5 }}<{{ . }}>{{ end }}"),
                  "[node][<no value>]<5>");
    ASSERT_EQ_STR(run("{{ template \"zz\" }}"),
                  "error executing template T: template: T:1:12: executing \"T\" at <{{template "
                  "\"zz\"}}>: template \"zz\" not defined");
    /* Go stops at depth 100000; a C stack stops much earlier */
    ASSERT_EQ_STR(
        run("{{ define \"rec\" }}{{ template \"rec\" . }}{{ end }}{{ template \"rec\" }}"),
        "error executing template T: template: T:1:30: executing \"rec\" at <{{template "
        "\"rec\" .}}>: exceeded maximum template depth (100)");
    /* a define does not see the prelude's variables (its own scope, as in Go) */
    ASSERT_EQ_STR(compile_error("{{ define \"x\" }}{{ $labels }}{{ end }}"),
                  "template: T:1:19: undefined variable \"$labels\"");
}

/* ---- string functions ---- */

TEST(case_functions)
{
    ASSERT_EQ_STR(
        run("{{ title \"hello world\" }}|{{ title \"foo_bar o'neil x.y 123abc aBC\" }}|"
            "{{ title \"été\" }}|{{ toUpper \"straße αβγ ñ\" }}|{{ toLower \"ÀÉÎ ΑΒΓ ДЖ\" }}"),
        "Hello World|Foo_bar O'Neil X.Y 123abc ABC|Été|STRAßE ΑΒΓ Ñ|àéî αβγ дж");
}

TEST(regex_functions)
{
    /* Go's ReplaceAllString: $1 and ${name}, $$, no replacement for the empty match
     * right after a match, UTF-8 aware steps */
    ASSERT_EQ_STR(run("{{ reReplaceAll \"(.*):.*\" \"$1\" \"host:9100\" }}|"
                      "{{ reReplaceAll \"a*\" \"-\" \"baaac\" }}|"
                      "{{ reReplaceAll \"o\" \"${1}x$$\" \"foo\" }}|"
                      "{{ reReplaceAll \"(?P<h>[a-z]+)\" \"<${h}>\" \"ab cd\" }}|"
                      "{{ reReplaceAll \"\" \"-\" \"héé\" }}"),
                  "host|-b-c-|fx$x$|<ab> <cd>|-h-é-é-");
    ASSERT_EQ_STR(
        run("{{ match \"^h\" \"host\" }}|{{ match \"os\" \"host\" }}|"
            "{{ match \"^x\" \"host\" }}|{{ if match \"^node\" $labels.job }}yes{{ end }}"),
        "true|true|false|yes");
    /* RE2 and PCRE2 word their syntax errors differently; the frame is Go's */
    ASSERT_CONTAINS(run("{{ reReplaceAll \"(\" \"x\" \"y\" }}"),
                    "at <reReplaceAll \"(\" \"x\" \"y\">: error calling reReplaceAll: "
                    "regexp: Compile(`(`): error parsing regexp: ");
    ASSERT_CONTAINS(run("{{ match \"(\" \"x\" }}"), "error calling match: error parsing regexp: ");
    /* backtracking is bounded (RE2 has none; PCRE2 must be stopped) */
    ASSERT_CONTAINS(
        run("{{ match \"^(a+)+$\" \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\" }}"),
        "error calling match: regexp: match limit exceeded");
}

TEST(host_url_and_escaping_functions)
{
    ASSERT_EQ_STR(run("{{ stripPort \"host:9100\" }}|{{ stripPort \"[::1]:80\" }}|"
                      "{{ stripPort \"host\" }}|{{ stripDomain \"node1.example.com:9100\" }}|"
                      "{{ stripDomain \"10.0.0.1:80\" }}|{{ stripDomain \"a.b\" }}|"
                      "{{ stripDomain \"[::1]:80\" }}"),
                  "host|::1|host|node1:9100|10.0.0.1:80|a|[::1]:80");
    ASSERT_EQ_STR(run("{{ graphLink \"rate(x{a=\\\"b c\\\"}[5m])\" }}|{{ tableLink \"up\" }}|"
                      "{{ urlquery \"a b&c/d~e\" }}|{{ html \"<a href='x'>&\\\"\" }}|"
                      "{{ js \"a'b\\\"c<>&=\\n\\\\é\" }}|{{ safeHtml \"<b>\" }}"),
                  "/graph?g0.expr=rate%28x%7Ba%3D%22b+c%22%7D%5B5m%5D%29&g0.tab=0|"
                  "/graph?g0.expr=up&g0.tab=1|a+b%26c%2Fd~e|&lt;a href=&#39;x&#39;&gt;&amp;&#34;|"
                  "a\\'b\\\"c\\u003C\\u003E\\u0026\\u003D\\u000A\\\\é|<b>");
    ASSERT_EQ_STR(run("{{ externalURL }}|{{ pathPrefix }}"), URL "|/prefix");
    /* safeHtml's result is an html/template.HTML, not a string */
    ASSERT_EQ_STR(run("{{ safeHtml \"<b>\" | toUpper }}"),
                  "error executing template T: template: T:1:20: executing \"T\" at <toUpper>: "
                  "wrong type for value; expected string; got template.HTML");
}

TEST(len_index_slice_args)
{
    ASSERT_EQ_STR(run("{{ len $labels }}|{{ len \"héllo\" }}|{{ index \"abc\" 1 }}|"
                      "{{ slice \"abcdef\" 1 3 }}|{{ (args 1 2).arg1 }}|{{ (args 1).arg5 }}|"
                      "{{ args 1 \"x\" }}|{{ parseDuration \"1h30m\" }}"),
                  "2|6|98|bc|2|<no value>|map[arg0:1 arg1:x]|5400");
    ASSERT_EQ_STR(run("{{ index $labels 1 }}"),
                  "error executing template T: template: T:1:3: executing \"T\" at <index $labels "
                  "1>: error calling index: value has type int; should be string");
    ASSERT_EQ_STR(run("{{ len 3 }}"), "error executing template T: template: T:1:3: executing "
                                      "\"T\" at <len 3>: error calling len: len of type int");
}

/* ---- query ---- */

TEST(query_through_the_callback)
{
    queried_at = 0;
    ASSERT_EQ_STR(run("{{ with query \"up\" }}{{ . | first | value | humanize }} "
                      "{{ (index . 0).Labels.instance }} "
                      "{{ range . | sortByLabel \"job\" }}{{ label \"instance\" . }},{{ end }}"
                      "{{ len . }}{{ end }}"),
                  "1 a:9100 b:9100,c:9100,a:9100,3");
    ASSERT_EQ_INT(queried_at, 1700000000000);
    ASSERT_EQ_STR(run("{{ range query \"up == 0\" }}x{{ else }}no result{{ end }}"), "no result");
    /* the sample prints as Prometheus's *template.sample */
    ASSERT_EQ_STR(run("{{ first (query \"up\") }}|{{ printf \"%+v\" (first (query \"up\")) }}"),
                  "{map[__name__:up instance:a:9100 job:node] 1}|"
                  "&{Labels:map[__name__:up instance:a:9100 job:node] Value:1}");
    ASSERT_EQ_STR(run("{{ query \"nothing\" | first }}"),
                  "error executing template T: template: T:1:21: executing \"T\" at <first>: "
                  "error calling first: first() called on vector with no elements");
    ASSERT_EQ_STR(run("{{ query \"bad(\" }}"),
                  "error executing template T: template: T:1:3: executing \"T\" at <query "
                  "\"bad(\">: error calling query: 1:5: parse error: unclosed left parenthesis");
    ASSERT_EQ_STR(run("{{ first $labels }}"),
                  "error executing template T: template: T:1:9: executing \"T\" at <$labels>: "
                  "wrong type for value; expected template.queryResult; got map[string]string");
}

TEST(query_without_a_callback)
{
    struct dw_tmpl_data d = data(1);
    d.query = NULL;
    char *err;
    char *out = dw_tmpl_expand("T", "{{ query \"up\" }}", &d, &err);
    ASSERT_NULL(out);
    ASSERT_EQ_STR(err, "error executing template T: template: T:1:3: executing \"T\" at <query "
                       "\"up\">: error calling query: query is not available");
    free(err);
}

/* ---- errors ---- */

TEST(execution_errors_name_the_node)
{
    static const struct tcase c[] = {
        {"{{ .Nope }}", "error executing template T: template: T:1:3: executing \"T\" at <.Nope>: "
                        "can't evaluate field Nope in type struct { Labels map[string]string; "
                        "ExternalLabels map[string]string; ExternalURL string; Value float64 }"},
        {"line1\nline2 {{ .Nope }}",
         "error executing template T: template: T:2:9: executing \"T\" at <.Nope>: can't "
         "evaluate field Nope in type struct { Labels map[string]string; ExternalLabels "
         "map[string]string; ExternalURL string; Value float64 }"},
        {"{{ $labels.instance.x }}", "error executing template T: template: T:1:10: executing "
                                     "\"T\" at <$labels.instance.x>: can't evaluate field x in "
                                     "type string"},
        {"{{ toUpper $value }}", "error executing template T: template: T:1:11: executing \"T\" "
                                 "at <$value>: wrong type for value; expected string; got float64"},
        {"{{ toUpper 3 }}", "error executing template T: template: T:1:11: executing \"T\" at "
                            "<3>: expected string; found 3"},
        /* argument counts are checked when the call runs, as in Go */
        {"{{ humanize 1 2 }}", "error executing template T: template: T:1:3: executing \"T\" at "
                               "<humanize>: wrong number of args for humanize: want 1 got 2"},
        {"{{ 3 | humanize 2 }}", "error executing template T: template: T:1:7: executing \"T\" "
                                 "at <humanize>: wrong number of args for humanize: want 1 got 2"},
        {"{{ $labels | $value }}", "error executing template T: template: T:1:13: executing \"T\" "
                                   "at <$value>: can't give argument to non-function $value"},
    };
    CHECK(c);
}

TEST(parse_errors_carry_line_and_column)
{
    static const struct tcase c[] = {
        {"{{ $labels.instance ", "template: T:1:20: unclosed action"},
        {"{{ foo }}", "template: T:1:3: function \"foo\" not defined"},
        {"{{ $nope }}", "template: T:1:3: undefined variable \"$nope\""},
        {"a\n{{ if true }}x", "template: T:2:14: unexpected EOF"},
        {"x\ny {{ $labels.job\n\n  z }}", "template: T:4:2: function \"z\" not defined"},
        {"{{ end }}", "template: T:1:7: unexpected {{end}}"},
        {"{{ else }}", "template: T:1:8: unexpected {{else}}"},
        {"{{ if }}{{ end }}", "template: T:1:6: missing value for if"},
        {"{{ break }}", "template: T:1:9: {{break}} outside {{range}}"},
        {"{{ \"abc }}", "template: T:1:3: unterminated quoted string"},
        {"{{ 1x }}", "template: T:1:3: bad number syntax: \"1x\""},
        {"{{ ( 1 }}", "template: T:1:7: unclosed left paren"},
        {"{{ $value > 80 }}", "template: T:1:10: unexpected \">\" in operand"},
        {"{{/* c ", "template: T:1:2: unclosed comment"},
        {"{{/* c */ x }}", "template: T:1:2: comment ends before closing delimiter"},
        {"{{ 1 | 2 }}", "template: T:1:9: non executable command in pipeline stage 2"},
        {"{{ define \"x\" }}a{{ end }}{{ define \"x\" }}b{{ end }}",
         "template: T:1:50: template: multiple definition of template \"x\""},
        {"{{ range $a, $b, $c := . }}{{ end }}",
         "template: T:1:15: too many declarations in range"},
        {"{{ if true }}a{{ else with 1 }}b{{ end }}",
         "template: T:1:22: unexpected <with> in else"},
        {"{{ 99999999999999999999 }}",
         "template: T:1:3: integer overflow: \"99999999999999999999\""},
    };
    for (size_t i = 0; i < DW_ARRAY_LEN(c); i++)
        ASSERT_EQ_STR(compile_error(c[i].text), c[i].want);
    /* dw_tmpl_expand words them as Prometheus's Expand does */
    ASSERT_EQ_STR(run("{{ foo }}"),
                  "error parsing template T: template: T:1:3: function \"foo\" not defined");
}

/* ---- limits ---- */

/* 60 labels l00..l59: nested ranges over them multiply quickly. */
static struct dw_tmpl_data many_labels(struct dw_label *l, char names[][8])
{
    for (int i = 0; i < 60; i++) {
        snprintf(names[i], 8, "l%02d", i);
        l[i] = (struct dw_label){names[i], "v"};
    }
    struct dw_tmpl_data d = data(1);
    d.labels = l;
    d.nlabels = 60;
    return d;
}

static char *expand_many(const char *text, char **err)
{
    struct dw_label l[60];
    char names[60][8];
    struct dw_tmpl_data d = many_labels(l, names);
    return dw_tmpl_expand("T", text, &d, err);
}

TEST(output_is_limited_to_64_KiB)
{
    char *err;
    char *out = expand_many("{{ range $labels }}{{ range $labels }}{{ printf \"%100s\" \"\" }}"
                            "{{ end }}{{ end }}",
                            &err);
    ASSERT_NULL(out);
    ASSERT_EQ_STR(err,
                  "error executing template T: template: T: output is larger than 65536 bytes");
    free(err);
    /* just under the limit is fine */
    out = expand_many("{{ range $labels }}{{ printf \"%1000s\" \"\" }}{{ end }}", &err);
    ASSERT_NOT_NULL(out);
    ASSERT_EQ_UINT(strlen(out), 60000);
    free(out);
}

TEST(steps_are_limited)
{
    char *err;
    char *out = expand_many("{{ range $labels }}{{ range $labels }}{{ range $labels }}{{ end }}"
                            "{{ end }}{{ end }}",
                            &err);
    ASSERT_NULL(out);
    ASSERT_EQ_STR(err, "error executing template T: template: T: execution took more than 100000 "
                       "steps");
    free(err);
}

TEST(memory_is_limited)
{
    char *err;
    char *out = expand_many("{{ $x := \"0123456789\" }}{{ range $labels }}"
                            "{{ $x = printf \"%s%s\" $x $x }}{{ end }}{{ len $x }}",
                            &err);
    ASSERT_NULL(out);
    ASSERT_EQ_STR(err, "error executing template T: template: T: values take more than 8388608 "
                       "bytes of memory");
    free(err);
}

TEST(text_size_is_limited)
{
    size_t n = DW_TMPL_MAX_TEXT + 1;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    char err[128];
    ASSERT_NULL(dw_tmpl_compile("T", big, err, sizeof err));
    ASSERT_EQ_STR(err, "template: T: text longer than 1048576 bytes");
    free(big);
    /* deep nesting is refused instead of exhausting the stack */
    char deep[1024] = "{{ ";
    for (int i = 0; i < 150; i++)
        memcpy(deep + strlen(deep), "(", 2);
    ASSERT_CONTAINS(compile_error(deep), "max expression depth exceeded");
}

/* ---- the API ---- */

TEST(compile_once_execute_many)
{
    char err[256];
    struct dw_tmpl *t = dw_tmpl_compile(
        "__alert_HighCPU", "{{ $labels.instance }}: {{ humanize $value }}", err, sizeof err);
    ASSERT_NOT_NULL(t);
    ASSERT_EQ_STR(dw_tmpl_name(t), "__alert_HighCPU");
    struct dw_buf out;
    dw_buf_init(&out, 0);
    for (int i = 0; i < 3; i++) {
        struct dw_tmpl_data d = data(1000.0 * (i + 1));
        ASSERT_EQ_INT(dw_tmpl_execute(t, &d, &out, err, sizeof err), 0);
        dw_buf_putc(&out, ';');
    }
    ASSERT_EQ_STR(out.data, "host:9100: 1k;host:9100: 2k;host:9100: 3k;");
    dw_buf_release(&out);
    dw_tmpl_free(&t);
    ASSERT_NULL(t);
    dw_tmpl_free(&t);
    dw_tmpl_free(NULL);
}

TEST(failed_execution_leaves_the_buffer_alone)
{
    char err[256];
    struct dw_tmpl *t = dw_tmpl_compile("T", "partial {{ .Nope }}", err, sizeof err);
    ASSERT_NOT_NULL(t);
    struct dw_buf out;
    dw_buf_init(&out, 0);
    dw_buf_puts(&out, "kept");
    struct dw_tmpl_data d = data(1);
    ASSERT_EQ_INT(dw_tmpl_execute(t, &d, &out, err, sizeof err), -1);
    ASSERT_EQ_STR(out.data, "kept");
    ASSERT_CONTAINS(err, "can't evaluate field Nope");
    /* a buffer with its own maximum: the output must fit it */
    struct dw_tmpl *u = dw_tmpl_compile("T", "{{ printf \"%20s\" \"x\" }}", err, sizeof err);
    struct dw_buf small;
    dw_buf_init(&small, 10);
    ASSERT_EQ_INT(dw_tmpl_execute(u, &d, &small, err, sizeof err), -1);
    ASSERT_EQ_STR(err, "error executing template T: template: T: output does not fit the output "
                       "buffer");
    ASSERT_EQ_UINT(small.len, 0);
    /* no error buffer, no data: still safe */
    ASSERT_EQ_INT(dw_tmpl_execute(t, NULL, &out, NULL, 0), -1);
    dw_buf_release(&small);
    dw_buf_release(&out);
    dw_tmpl_free(&u);
    dw_tmpl_free(&t);
}

struct thread_arg {
    const struct dw_tmpl *t;
    int failures;
};

static void *expand_in_thread(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 200; i++) {
        struct dw_tmpl_data d = data(i);
        struct dw_buf out;
        dw_buf_init(&out, 0);
        char err[256], want[64];
        snprintf(want, sizeof want, "node %d", i);
        if (dw_tmpl_execute(a->t, &d, &out, err, sizeof err) != 0 || strcmp(out.data, want) != 0)
            a->failures++;
        dw_buf_release(&out);
    }
    return NULL;
}

TEST(one_template_runs_on_many_threads)
{
    char err[256];
    struct dw_tmpl *t = dw_tmpl_compile("T", "{{ .Labels.job }} {{ $value }}", err, sizeof err);
    ASSERT_NOT_NULL(t);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){t, 0};
        pthread_create(&th[i], NULL, expand_in_thread, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(args[i].failures, 0);
    }
    dw_tmpl_free(&t);
}

TEST_MAIN()
