/*
 * json_in.c - request bodies of the Alertmanager API v2: PostableAlerts
 * (POST /api/v2/alerts) and PostableSilence (POST /api/v2/silences).
 *
 * DESIGN
 * Shape errors (not JSON, not an array, a member of the wrong type, a time
 * that is not RFC 3339, a required member missing) refuse the whole body,
 * as Alertmanager's generated API validation does before its handler runs;
 * the semantic checks of each alert (labels, times) are best-effort inside
 * dw_alerter_put, which stores the valid alerts and reports the others.
 * Go's zero time ("0001-01-01T00:00:00Z") means "unset". Unknown members
 * are ignored, as Go's decoder does. Strings stay owned by the parsed
 * document until the call returns.
 */
#include <stdlib.h>
#include <string.h>

#include "alert/alert_internal.h"

static json_t *load(const char *body, size_t len, char **err)
{
    json_error_t je;
    json_t *doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        *err = dw_asprintf("body is not valid JSON: %s (line %d, column %d)", je.text, je.line,
                           je.column);
    return doc;
}

static int opt_string(json_t *o, const char *key, const char *what, const char **out, char **err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        *err = dw_asprintf("%s.%s: expected a string", what, key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int opt_time(json_t *o, const char *key, const char *what, int64_t *out, char **err)
{
    const char *s;
    if (opt_string(o, key, what, &s, err) < 0)
        return -1;
    if (parse_time(s, out) < 0) {
        *err = dw_asprintf("%s.%s: \"%s\" is not an RFC 3339 time", what, key, s);
        return -1;
    }
    return 0;
}

/* Borrowed pairs of a JSON object of strings. */
static int pairs(json_t *o, const char *what, const char *key, struct dw_label **out, size_t *n,
                 char **err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    *n = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v)) {
        *err = dw_asprintf("%s.%s: expected an object of strings", what, key);
        return -1;
    }
    *out = dw_calloc(json_object_size(v) + 1, sizeof **out);
    const char *name;
    json_t *val;
    json_object_foreach(v, name, val)
    {
        if (!json_is_string(val)) {
            *err = dw_asprintf("%s.%s.%s: expected a string", what, key, name);
            return -1;
        }
        (*out)[(*n)++] = (struct dw_label){name, json_string_value(val)};
    }
    return 0;
}

static int one_alert(json_t *o, size_t i, struct dw_alert_in *in, char **err)
{
    char what[32];
    snprintf(what, sizeof what, "alert %zu", i);
    if (!json_is_object(o)) {
        *err = dw_asprintf("%s: expected an object", what);
        return -1;
    }
    if (!json_object_get(o, "labels")) {
        *err = dw_asprintf("%s: labels is required", what);
        return -1;
    }
    struct dw_label *labels, *ann;
    if (pairs(o, what, "labels", &labels, &in->nlabels, err) < 0)
        return free(labels), -1;
    in->labels = labels;
    if (pairs(o, what, "annotations", &ann, &in->nannotations, err) < 0)
        return free(ann), -1;
    in->annotations = ann;
    in->state = DW_ALERT_FIRING;
    if (opt_time(o, "startsAt", what, &in->starts_at_ms, err) < 0 ||
        opt_time(o, "endsAt", what, &in->ends_at_ms, err) < 0 ||
        opt_string(o, "generatorURL", what, &in->generator_url, err) < 0)
        return -1;
    return 0;
}

static void free_inputs(struct dw_alert_in *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)in[i].labels);
        free((void *)in[i].annotations);
    }
    free(in);
}

int dw_alerter_put_json(struct dw_alerter *a, const char *body, size_t len, int64_t now, char **err)
{
    json_t *doc = load(body, len, err);
    if (!doc)
        return DW_ALERT_EINVAL;
    if (!json_is_array(doc)) {
        json_decref(doc);
        *err = dw_strdup("expected a JSON array of alerts");
        return DW_ALERT_EINVAL;
    }
    size_t n = json_array_size(doc);
    struct dw_alert_in *in = dw_calloc(n ? n : 1, sizeof *in);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (one_alert(json_array_get(doc, i), i, &in[i], err) < 0)
            rc = DW_ALERT_EINVAL;
    if (rc == 0)
        rc = dw_alerter_put(a, in, n, now, err);
    free_inputs(in, n);
    json_decref(doc);
    return rc;
}

/* ---- silences ---- */

static int req_string(json_t *o, const char *key, const char *what, const char **out, char **err)
{
    if (opt_string(o, key, what, out, err) < 0)
        return -1;
    if (!*out) {
        *err = dw_asprintf("%s: %s is required", what, key);
        return -1;
    }
    return 0;
}

static int req_bool(json_t *o, const char *key, const char *what, bool def, bool required,
                    bool *out, char **err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (required) {
            *err = dw_asprintf("%s: %s is required", what, key);
            return -1;
        }
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) {
        *err = dw_asprintf("%s.%s: expected true or false", what, key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int matchers_in(json_t *arr, struct dw_silence_matcher **out, size_t *n, char **err)
{
    if (!json_is_array(arr)) {
        *err = dw_strdup("silence: matchers is required (an array)");
        return -1;
    }
    *n = json_array_size(arr);
    *out = dw_calloc(*n ? *n : 1, sizeof **out);
    for (size_t i = 0; i < *n; i++) {
        json_t *m = json_array_get(arr, i);
        char what[32];
        snprintf(what, sizeof what, "matchers[%zu]", i);
        struct dw_silence_matcher *sm = &(*out)[i];
        if (!json_is_object(m)) {
            *err = dw_asprintf("%s: expected an object", what);
            return -1;
        }
        if (req_string(m, "name", what, &sm->name, err) < 0 ||
            req_string(m, "value", what, &sm->value, err) < 0 ||
            req_bool(m, "isRegex", what, false, true, &sm->is_regex, err) < 0 ||
            req_bool(m, "isEqual", what, true, false, &sm->is_equal, err) < 0)
            return -1;
    }
    return 0;
}

static int silence_in(json_t *o, struct dw_silence_in *in, struct dw_silence_matcher **ms,
                      char **err)
{
    const char *starts, *ends;
    if (!json_is_object(o)) {
        *err = dw_strdup("expected a JSON object (a silence)");
        return -1;
    }
    if (opt_string(o, "id", "silence", &in->id, err) < 0 ||
        matchers_in(json_object_get(o, "matchers"), ms, &in->nmatchers, err) < 0 ||
        req_string(o, "startsAt", "silence", &starts, err) < 0 ||
        req_string(o, "endsAt", "silence", &ends, err) < 0 ||
        req_string(o, "createdBy", "silence", &in->created_by, err) < 0 ||
        req_string(o, "comment", "silence", &in->comment, err) < 0 ||
        opt_time(o, "startsAt", "silence", &in->starts_at_ms, err) < 0 ||
        opt_time(o, "endsAt", "silence", &in->ends_at_ms, err) < 0)
        return -1;
    in->matchers = *ms;
    return 0;
}

int dw_alerter_silence_set_json(struct dw_alerter *a, const char *body, size_t len, int64_t now,
                                char id_out[DW_SILENCE_ID_LEN], char **err)
{
    json_t *doc = load(body, len, err);
    if (!doc)
        return DW_ALERT_EINVAL;
    struct dw_silence_in in = {0};
    struct dw_silence_matcher *ms = NULL;
    int rc = silence_in(doc, &in, &ms, err) < 0 ? DW_ALERT_EINVAL : 0;
    if (rc == 0)
        rc = dw_alerter_silence_set(a, &in, now, id_out, err);
    free(ms);
    json_decref(doc);
    return rc;
}
