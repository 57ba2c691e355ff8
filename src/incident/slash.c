/*
 * slash.c - opening an incident from Slack: the `/incident` slash command.
 *
 * DESIGN
 * Slack POSTs the command as a form (text, user_id, user_name, channel_name,
 * command, response_url ...) with X-Slack-Request-Timestamp and
 * X-Slack-Signature: "v0=" + hex HMAC-SHA-256 of "v0:<timestamp>:<raw body>"
 * under the app's signing secret (incidents.slack.signing_secret or
 * signing_secret_file, read at each request so a rotated file is picked
 * up). A request older or newer than 5 minutes is refused (replays), and so
 * is one whose signature does not verify (constant-time comparison).
 *
 * The text is "[sevN] title" ("/incident sev1 Payments fail"; without a
 * severity, incidents.slack.default_severity, SEV2); "help" or nothing
 * answers the usage. The incident is opened by the person whose Slack handle
 * is the user's name (people[].slack "@name"), else "slack:<name>". The
 * answer is Slack's JSON: in_channel with the id and link when it opened,
 * ephemeral for usage and input errors (Slack shows those to the user
 * alone), so everything but a bad signature is HTTP 200.
 *
 * Threads: any HTTP thread; dw_incident_create locks.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident/incident_internal.h"

#define SKEW_MS (5 * 60000)

/* The signing secret (an empty inline one, as an unset ${VAR} gives, counts as none). */
static char *secret(struct dw_incidents *inc, char **err)
{
    pthread_mutex_lock(&inc->mu);
    const struct y_slack_cmd *y = &inc->conf->y.slack;
    char *s = dw_secret_get(y->signing_secret && *y->signing_secret ? y->signing_secret : NULL,
                            y->signing_secret_file, err);
    pthread_mutex_unlock(&inc->mu);
    return s;
}

static bool signature_ok(const char *key, const char *ts, const char *sig, const char *body,
                         size_t len)
{
    if (strlen(sig) != 3 + 64 || strncmp(sig, "v0=", 3) != 0)
        return false;
    struct dw_buf msg;
    dw_buf_init(&msg, 0);
    dw_buf_printf(&msg, "v0:%s:", ts);
    dw_buf_append(&msg, body, len);
    uint8_t mac[32];
    dw_hmac_sha256(key, strlen(key), msg.data, msg.len, mac);
    dw_buf_release(&msg);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    return dw_ct_equal(hex, sig + 3, 64);
}

static char *answer(const char *type, const char *text)
{
    json_t *o = json_pack("{s:s, s:s}", "response_type", type, "text", text);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* The person whose Slack handle is @name (or name), else "slack:<name>". */
static char *who(struct dw_incidents *inc, const char *name)
{
    size_t n = 0;
    const struct dw_plan_person *p = dw_config_people(inc->cfg, &n);
    for (size_t i = 0; name && i < n; i++) {
        const char *h = p[i].slack;
        if (h && (strcmp(h, name) == 0 || (h[0] == '@' && strcmp(h + 1, name) == 0)))
            return dw_strdup(p[i].id);
    }
    return dw_asprintf("slack:%s", name && *name ? name : "unknown");
}

int dw_incident_slack_command(struct dw_incidents *inc, const struct dw_incident_slack *in,
                              int64_t now, char **out, char **err)
{
    *out = NULL;
    char *serr = NULL;
    char *key = secret(inc, &serr);
    if (!key) {
        dw_set_err(err, "%s",
                   serr ? serr
                        : "no Slack signing secret is configured (incidents.slack.signing_secret)");
        free(serr);
        return DW_INCIDENT_EDENIED;
    }
    int64_t ts = 0;
    char extra;
    bool fresh = in->timestamp && sscanf(in->timestamp, "%" SCNd64 "%c", &ts, &extra) == 1 &&
                 ts * 1000 > now - SKEW_MS && ts * 1000 < now + SKEW_MS;
    bool ok = fresh && in->signature && in->body &&
              signature_ok(key, in->timestamp, in->signature, in->body, in->body_len);
    free(key);
    if (!ok) {
        dw_set_err(err, fresh ? "X-Slack-Signature does not verify"
                              : "X-Slack-Request-Timestamp is missing or more than 5 minutes "
                                "away from now");
        return DW_INCIDENT_EDENIED;
    }
    const char *text = in->text ? in->text : "";
    while (isspace((unsigned char)*text))
        text++;
    const char *cmd = in->command && *in->command ? in->command : "/incident";
    if (!*text || strcmp(text, "help") == 0) {
        char *usage = dw_asprintf("Usage: %s [sev1|sev2|sev3|sev4] title, e.g. `%s sev1 "
                                  "Payments fail for every card`",
                                  cmd, cmd);
        *out = answer("ephemeral", usage);
        free(usage);
        return 0;
    }
    pthread_mutex_lock(&inc->mu);
    int sev = (int)inc->conf->y.slack.default_severity;
    pthread_mutex_unlock(&inc->mu);
    if (strncasecmp(text, "sev", 3) == 0 && text[3] >= '1' && text[3] <= '4' &&
        (isspace((unsigned char)text[4]) || !text[4])) {
        sev = text[3] - '0';
        text += 4;
        while (isspace((unsigned char)*text))
            text++;
    }
    char *by = who(inc, in->user_name);
    char id[DW_INCIDENT_ID_LEN], *cerr = NULL;
    struct dw_incident_new n = {.title = text, .severity = sev};
    int rc = dw_incident_create(inc, &n, by, now, id, &cerr);
    if (rc == DW_INCIDENT_EINVAL) {
        char *msg = dw_asprintf("Not opened: %s", cerr ? cerr : "bad input");
        *out = answer("ephemeral", msg);
        free(msg);
        rc = 0;
    } else if (rc == 0) {
        char *base = inc->oncall ? dw_oncall_base_url(inc->oncall) : NULL;
        char *msg = dw_asprintf("%s opened SEV%d incident %s: %s%s%s/api/incidents/%s", by, sev, id,
                                text, base && *base ? "\n" : "", base && *base ? base : "", id);
        if (!base || !*base)
            msg[strlen(msg) - strlen("/api/incidents/") - strlen(id)] = '\0';
        *out = answer("in_channel", msg);
        free(msg);
        free(base);
    } else {
        dw_set_err(err, "%s", cerr ? cerr : "the store failed");
    }
    free(cerr);
    free(by);
    return rc;
}
