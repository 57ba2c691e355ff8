/*
 * email.c - the e-mail channel: Alertmanager's email_config, sent over SMTP
 * by libcurl (smtp:// with STARTTLS, or smtps:// on port 465).
 *
 * DESIGN
 * render: the whole RFC 5322 message but its To: header, CRLF line ends:
 *   From, Subject (Alertmanager's default "[FIRING:2] HighLatency api
 *   (prod)" / "[RESOLVED] ...", RFC 2047 encoded when not ASCII), Date
 *   (dw_now_ms at render time), Message-ID, In-Reply-To / References,
 *   Auto-Submitted, the configured extra headers (Subject and From replace
 *   ours), MIME-Version and a multipart/alternative of text/plain and
 *   text/html, both UTF-8 in base64 (76-column lines, so no line comes near
 *   998 octets whatever the alert text). The HTML escapes every value and
 *   links the dashboard (generatorURL), the silence form and, for a page,
 *   its acknowledge and resolve links.
 *
 * Threading: the group's firing episode has a root id derived from the
 * groupKey and the earliest startsAt of its alerts (SHA-256, so it is the
 * same in every message of the episode, across restarts, without state).
 * The "fired" message uses it as its Message-ID; every other message
 * (changed, repeat, resolved, acknowledged) gets a fresh random Message-ID
 * and In-Reply-To + References naming the root, so mail clients show the
 * episode as one thread. Limitation: if the alert that started the episode
 * leaves the group before the others, later messages name another root.
 *
 * A plain message (notify_internal.h): Subject its title (else its text's
 * first line), text/plain with the text, the fields ("Severity: SEV1") and
 * "link_text: url"; text/html with the same, escaped, line breaks as <br>.
 * With a "thread" its root id is derived from the key (SHA-256,
 * "<hash.thread@domain>") and it is rendered as a reply (fresh Message-ID,
 * In-Reply-To / References the root). The notifier knows whether a message
 * of that thread was delivered to the same recipients (notify_threads):
 * when none was (no at->thread_ts), request makes this one the root - its
 * Message-ID becomes the root id and the two reply headers go - and outcome
 * reports the root so the notifier remembers it. So the first message
 * delivered is the root and the later ones name it, whatever was given up.
 *
 * The To: header depends on the destination, which render does not know:
 * request composes "To: ..." + the rendered message into the attempt
 * (at->upload), and the envelope recipients (at->rcpt) from the same list.
 * Addresses are split at commas; "Name <addr>" gives addr for the envelope
 * (quoted names holding commas are not supported).
 *
 * request: smtp://host:port/HELLO (the URL path is the EHLO name), MAIL
 * FROM, RCPT TO each recipient, the message uploaded through a read
 * callback over at->upload. require_tls: STARTTLS is required (CURLUSESSL_ALL)
 * except on 465 where TLS starts at once; false: plain SMTP. The password
 * (or its file, read at each request) never reaches a log.
 *
 * outcome: CURLE_OK delivered; the last SMTP reply decides otherwise: 4xx
 * (421, 450, 451, 452) retried, 5xx (550, 553, 554) given up; a refused
 * login is given up; time-outs and connection errors are retried.
 *
 * Threads: the notifier's delivery thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "notify/notify_internal.h"

#define ALERTS_LISTED 50
#define ALERT_LINE_MAX 500
#define SUBJECT_MAX 200        /* characters */
#define THREAD_MARK ".thread@" /* in the root id of a plain message's thread */

/* ---- addresses ---- */

/* The addr-spec of "Name <addr>" or of a bare address, trimmed; a heap string. */
static char *addr_spec(const char *s, size_t n)
{
    const char *lt = memchr(s, '<', n);
    if (lt) {
        const char *gt = memchr(lt, '>', n - (size_t)(lt - s));
        if (gt)
            return dw_strndup(lt + 1, (size_t)(gt - lt - 1));
    }
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return dw_strndup(s, n);
}

/* "example.org" of an address, or "dojowatch.invalid". */
static char *domain_of(const char *from)
{
    char *a = addr_spec(from, strlen(from));
    const char *at = strrchr(a, '@');
    char *d = dw_strdup(at && at[1] ? at + 1 : "dojowatch.invalid");
    free(a);
    return d;
}

/* ---- headers ---- */

static const char *header_value(const struct y_email *c, const char *name)
{
    for (size_t i = 0; i < c->nheaders; i++)
        if (strcasecmp(c->headers[i].key, name) == 0 && c->headers[i].value)
            return c->headers[i].value;
    return NULL;
}

static bool is_ascii_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* "Subject: ..." as ASCII, or RFC 2047 encoded words (45 bytes of UTF-8 each) folded. */
static void put_subject(struct dw_buf *b, const char *subject)
{
    char *s = text_cut(subject, SUBJECT_MAX);
    dw_buf_puts(b, "Subject:");
    if (is_ascii_printable(s)) {
        dw_buf_printf(b, " %s\r\n", s);
        free(s);
        return;
    }
    size_t len = strlen(s), i = 0;
    while (i < len) {
        size_t n = len - i < 45 ? len - i : 45;
        while (i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
            n--; /* never split a UTF-8 sequence */
        char *enc = dw_base64(s + i, n, false);
        dw_buf_printf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : " ", enc);
        free(enc);
        i += n;
    }
    dw_buf_puts(b, "\r\n");
    free(s);
}

static void put_date(struct dw_buf *b, int64_t ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct dw_civil c;
    dw_civil_at(NULL, ms, &c);
    dw_buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[c.weekday], c.day,
                  months[c.month - 1], c.year, c.hour, c.minute, c.second);
}

static char *hex(const uint8_t *p, size_t n)
{
    char *s = dw_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    return s;
}

/* The episode's root id: groupKey and the earliest startsAt. */
static char *thread_root(json_t *doc, const char *domain)
{
    const char *key = json_string_value(json_object_get(doc, "groupKey"));
    char *seed = dw_asprintf("%s\n%lld", key ? key : "", (long long)msg_first_start(doc));
    char sum[65];
    dw_sha256_hex(seed, strlen(seed), sum);
    free(seed);
    sum[32] = '\0';
    return dw_asprintf("<%s.episode@%s>", sum, domain);
}

static char *fresh_id(const char *domain)
{
    uint8_t r[16];
    dw_random_bytes(r, sizeof r);
    char *h = hex(r, sizeof r);
    char *id = dw_asprintf("<%s@%s>", h, domain);
    free(h);
    return id;
}

/* A plain message thread's root id: its key, hashed ("<hash.thread@domain>"). */
static char *message_root(const char *thread, const char *domain)
{
    char *seed = dw_asprintf("message\n%s", thread);
    char sum[65];
    dw_sha256_hex(seed, strlen(seed), sum);
    free(seed);
    sum[32] = '\0';
    return dw_asprintf("<%s%s%s>", sum, THREAD_MARK, domain);
}

static void put_ids(struct dw_buf *b, json_t *doc, const char *domain)
{
    json_t *m = msg_plain(doc);
    const char *thread = msg_plain_get(m, "thread");
    if (m && !thread) {
        char *id = fresh_id(domain);
        dw_buf_printf(b, "Message-ID: %s\r\n", id);
        free(id);
        return;
    }
    /* a message of a thread is rendered as a reply; request makes the first one the root */
    const char *kind = m ? "reply" : json_string_value(json_object_get(doc, "kind"));
    char *root = m ? message_root(thread, domain) : thread_root(doc, domain);
    if (kind && strcmp(kind, "fired") == 0) {
        dw_buf_printf(b, "Message-ID: %s\r\n", root);
    } else {
        char *id = fresh_id(domain);
        dw_buf_printf(b, "Message-ID: %s\r\nIn-Reply-To: %s\r\nReferences: %s\r\n", id, root, root);
        free(id);
    }
    free(root);
}

/* The subject of either form: the group title, or a message's title (else its text's start). */
static char *title_of(json_t *doc)
{
    json_t *m = msg_plain(doc);
    if (!m)
        return msg_title(doc);
    const char *t = msg_plain_get(m, "title");
    if (t)
        return text_cut(t, SUBJECT_MAX);
    const char *text = msg_plain_get(m, "text");
    char *line = dw_strndup(text, strcspn(text, "\r\n"));
    char *cut = text_cut(line, SUBJECT_MAX);
    free(line);
    return cut;
}

static void put_headers(struct dw_buf *b, const struct y_email *c, json_t *doc)
{
    const char *from = header_value(c, "From");
    dw_buf_printf(b, "From: %s\r\n", from ? from : c->from);
    char *title = title_of(doc);
    const char *subject = header_value(c, "Subject");
    put_subject(b, subject ? subject : title);
    free(title);
    put_date(b, dw_now_ms());
    char *domain = domain_of(c->from);
    put_ids(b, doc, domain);
    free(domain);
    dw_buf_puts(b, "Auto-Submitted: auto-generated\r\n");
    const char *unsub = msg_plain_get(msg_plain(doc), "unsubscribe");
    if (unsub && !strpbrk(unsub, "\r\n<>")) /* RFC 2369 + RFC 8058 one-click */
        dw_buf_printf(
            b,
            "List-Unsubscribe: <%s>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            "Precedence: bulk\r\n",
            unsub);
    for (size_t i = 0; i < c->nheaders; i++) {
        const char *k = c->headers[i].key;
        if (strcasecmp(k, "Subject") != 0 && strcasecmp(k, "From") != 0 && c->headers[i].value &&
            !strpbrk(c->headers[i].value, "\r\n"))
            dw_buf_printf(b, "%s: %s\r\n", k, c->headers[i].value);
    }
}

/* ---- the two parts ---- */

struct link {
    const char *label;
    const char *url;
};

/* Dashboard, silence, acknowledge, resolve: those that exist (silence is heap, in *silence). */
static size_t links_of(json_t *doc, struct link out[4], char **silence)
{
    size_t n = 0;
    const char *dash = msg_dashboard_url(doc);
    if (dash)
        out[n++] = (struct link){"Dashboard", dash};
    *silence = msg_silence_url(doc);
    if (*silence)
        out[n++] = (struct link){"Silence", *silence};
    json_t *page = json_object_get(doc, "page");
    const char *ack = json_string_value(json_object_get(page, "ack_url"));
    const char *res = json_string_value(json_object_get(page, "resolve_url"));
    if (ack && *ack && !msg_resolved(doc))
        out[n++] = (struct link){"Acknowledge", ack};
    if (res && *res && !msg_resolved(doc))
        out[n++] = (struct link){"Resolve", res};
    return n;
}

static char *status_line(json_t *doc)
{
    const char *prio = json_string_value(json_object_get(doc, "priority"));
    return dw_asprintf("Priority: %s. Status: %s (%zu firing, %zu resolved).", prio ? prio : "none",
                       msg_resolved(doc) ? "resolved" : "firing", msg_count(doc, "firing"),
                       msg_count(doc, "resolved"));
}

static char *text_part(json_t *doc, const char *title, const struct link *links, size_t nlinks)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    char *status = status_line(doc);
    dw_buf_printf(&b, "%s\n\n%s\n%s\n\nAlerts:\n", title, msg_summary(doc), status);
    free(status);
    json_t *alerts = json_object_get(doc, "alerts"), *a;
    size_t i;
    json_array_foreach(alerts, i, a)
    {
        if (i == ALERTS_LISTED) {
            dw_buf_printf(&b, "... and %zu more\n", json_array_size(alerts) - i);
            break;
        }
        char *line = msg_alert_line(a, ALERT_LINE_MAX);
        const char *st = json_string_value(json_object_get(a, "status"));
        dw_buf_printf(&b, "- [%s] %s\n", st ? st : "?", line);
        free(line);
    }
    if (nlinks)
        dw_buf_putc(&b, '\n');
    for (size_t k = 0; k < nlinks; k++)
        dw_buf_printf(&b, "%s: %s\n", links[k].label, links[k].url);
    return dw_buf_steal(&b);
}

static void html_alerts(struct dw_buf *b, json_t *doc)
{
    json_t *alerts = json_object_get(doc, "alerts"), *a;
    size_t i;
    dw_buf_puts(b, "<ul>\n");
    json_array_foreach(alerts, i, a)
    {
        if (i == ALERTS_LISTED) {
            dw_buf_printf(b, "<li>... and %zu more</li>\n", json_array_size(alerts) - i);
            break;
        }
        char *line = msg_alert_line(a, ALERT_LINE_MAX);
        const char *st = json_string_value(json_object_get(a, "status"));
        dw_buf_puts(b, "<li><b>");
        dw_buf_xml_escape(b, st ? st : "?");
        dw_buf_puts(b, "</b> ");
        dw_buf_xml_escape(b, line);
        dw_buf_puts(b, "</li>\n");
        free(line);
    }
    dw_buf_puts(b, "</ul>\n");
}

static char *html_part(json_t *doc, const char *title, const struct link *links, size_t nlinks)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    dw_buf_xml_escape(&b, title);
    dw_buf_puts(&b, "</title></head><body>\n<h2>");
    dw_buf_xml_escape(&b, title);
    dw_buf_puts(&b, "</h2>\n<p><b>");
    dw_buf_xml_escape(&b, msg_summary(doc));
    char *status = status_line(doc);
    dw_buf_puts(&b, "</b></p>\n<p>");
    dw_buf_xml_escape(&b, status);
    free(status);
    dw_buf_puts(&b, "</p>\n");
    html_alerts(&b, doc);
    dw_buf_puts(&b, "<p>");
    for (size_t k = 0; k < nlinks; k++) {
        dw_buf_puts(&b, k ? " | <a href=\"" : "<a href=\"");
        dw_buf_xml_escape(&b, links[k].url);
        dw_buf_puts(&b, "\">");
        dw_buf_xml_escape(&b, links[k].label);
        dw_buf_puts(&b, "</a>");
    }
    dw_buf_puts(&b, "</p>\n</body></html>\n");
    return dw_buf_steal(&b);
}

/* ---- a plain message's parts ---- */

static char *plain_text_part(json_t *m, const char *title)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    const char *text = msg_plain_get(m, "text"), *url = msg_plain_get(m, "url");
    dw_buf_printf(&b, "%s\n\n", title);
    if (text)
        dw_buf_printf(&b, "%s\n", text);
    json_t *f;
    size_t i;
    json_array_foreach(json_object_get(m, "fields"), i, f)
    {
        dw_buf_printf(&b, "%s%s: %s\n", i ? "" : "\n",
                      json_string_value(json_object_get(f, "title")),
                      json_string_value(json_object_get(f, "value")));
    }
    if (url) {
        const char *label = msg_plain_get(m, "link_text");
        dw_buf_printf(&b, "\n%s: %s\n", label ? label : "Open", url);
    }
    const char *unsub = msg_plain_get(m, "unsubscribe");
    if (unsub)
        dw_buf_printf(&b, "\n--\nUnsubscribe: %s\n", unsub);
    return dw_buf_steal(&b);
}

/* s escaped, each line break a <br> (CRLF counted once). */
static void html_lines(struct dw_buf *b, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, "\r\n");
        char *line = dw_strndup(s, n);
        dw_buf_xml_escape(b, line);
        free(line);
        s += n;
        if (*s == '\r' && s[1] == '\n')
            s++;
        if (*s) {
            dw_buf_puts(b, "<br>\n");
            s++;
        }
    }
}

static char *plain_html_part(json_t *m, const char *title)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    const char *text = msg_plain_get(m, "text"), *url = msg_plain_get(m, "url");
    dw_buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    dw_buf_xml_escape(&b, title);
    dw_buf_puts(&b, "</title></head><body>\n<h2>");
    dw_buf_xml_escape(&b, title);
    dw_buf_puts(&b, "</h2>\n");
    if (text) {
        dw_buf_puts(&b, "<p>");
        html_lines(&b, text);
        dw_buf_puts(&b, "</p>\n");
    }
    json_t *fields = json_object_get(m, "fields"), *f;
    size_t i;
    if (json_array_size(fields))
        dw_buf_puts(&b, "<table>\n");
    json_array_foreach(fields, i, f)
    {
        dw_buf_puts(&b, "<tr><th align=\"left\">");
        dw_buf_xml_escape(&b, json_string_value(json_object_get(f, "title")));
        dw_buf_puts(&b, "</th><td>");
        dw_buf_xml_escape(&b, json_string_value(json_object_get(f, "value")));
        dw_buf_puts(&b, "</td></tr>\n");
    }
    if (json_array_size(fields))
        dw_buf_puts(&b, "</table>\n");
    if (url) {
        const char *label = msg_plain_get(m, "link_text");
        dw_buf_puts(&b, "<p><a href=\"");
        dw_buf_xml_escape(&b, url);
        dw_buf_puts(&b, "\">");
        dw_buf_xml_escape(&b, label ? label : "Open");
        dw_buf_puts(&b, "</a></p>\n");
    }
    const char *unsub = msg_plain_get(m, "unsubscribe");
    if (unsub) {
        dw_buf_puts(&b, "<hr><p><small><a href=\"");
        dw_buf_xml_escape(&b, unsub);
        dw_buf_puts(&b, "\">Unsubscribe</a></small></p>\n");
    }
    dw_buf_puts(&b, "</body></html>\n");
    return dw_buf_steal(&b);
}

/* One MIME part: its headers and the content in base64, 76 columns. */
static void put_part(struct dw_buf *b, const char *boundary, const char *type, const char *content)
{
    dw_buf_printf(b,
                  "--%s\r\nContent-Type: %s; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: base64\r\n\r\n",
                  boundary, type);
    char *enc = dw_base64(content, strlen(content), false);
    for (size_t i = 0, n = strlen(enc); i < n; i += 76) {
        dw_buf_append(b, enc + i, n - i < 76 ? n - i : 76);
        dw_buf_puts(b, "\r\n");
    }
    free(enc);
}

static void put_body(struct dw_buf *b, json_t *doc)
{
    uint8_t r[12];
    dw_random_bytes(r, sizeof r);
    char *rh = hex(r, sizeof r);
    char *boundary = dw_asprintf("=_dojowatch_%s", rh);
    free(rh);
    dw_buf_printf(b,
                  "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n"
                  "\r\nThis is a multi-part message in MIME format.\r\n",
                  boundary);
    char *title = title_of(doc), *silence = NULL, *text, *html;
    json_t *m = msg_plain(doc);
    if (m) {
        text = plain_text_part(m, title);
        html = plain_html_part(m, title);
    } else {
        struct link links[4];
        size_t nlinks = links_of(doc, links, &silence);
        text = text_part(doc, title, links, nlinks);
        html = html_part(doc, title, links, nlinks);
    }
    put_part(b, boundary, "text/plain", text);
    put_part(b, boundary, "text/html", html);
    dw_buf_printf(b, "--%s--\r\n", boundary);
    free(html);
    free(text);
    free(silence);
    free(title);
    free(boundary);
}

static char *email_render(const void *conf, const char *payload, const char **skip)
{
    const struct y_email *c = conf;
    json_t *doc = msg_load(payload, c->send_resolved, skip);
    if (!doc)
        return NULL;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    put_headers(&b, c, doc);
    put_body(&b, doc);
    json_decref(doc);
    return dw_buf_steal(&b);
}

/* ---- request ---- */

/* The envelope recipients of a comma-separated list, as "<addr>" lines; 0 when none. */
static size_t recipients(const char *list, struct curl_slist **out)
{
    size_t n = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        char *a = addr_spec(p, len);
        if (*a && !strpbrk(a, "\r\n<>")) {
            char *line = dw_asprintf("<%s>", a);
            *out = curl_slist_append(*out, line);
            free(line);
            n++;
        }
        free(a);
        p += len + (p[len] == ',');
    }
    return n;
}

/* smtp(s)://host:port/hello; *implicit_tls when the port is 465. */
static char *smtp_url(const struct y_email *c, bool *implicit_tls)
{
    const char *colon = strrchr(c->smarthost, ':');
    *implicit_tls = colon && strcmp(colon + 1, "465") == 0;
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_printf(&b, "%s://%s/", *implicit_tls ? "smtps" : "smtp", c->smarthost);
    dw_buf_url_encode(&b, c->hello ? c->hello : "localhost");
    return dw_buf_steal(&b);
}

static size_t read_upload(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct attempt *at = arg;
    size_t room = size * nmemb, left = at->upload_len - at->upload_pos;
    size_t n = left < room ? left : room;
    memcpy(dst, at->upload + at->upload_pos, n);
    at->upload_pos += n;
    return n;
}

static int set_auth(const struct y_email *c, CURL *e, char **err)
{
    if (!c->auth_username)
        return 0;
    char *pass = dw_secret_get(c->auth_password, c->auth_password_file, err);
    if (*err)
        return -1;
    curl_easy_setopt(e, CURLOPT_USERNAME, c->auth_username);
    curl_easy_setopt(e, CURLOPT_PASSWORD, pass ? pass : "");
    if (c->auth_identity)
        curl_easy_setopt(e, CURLOPT_SASL_AUTHZID, c->auth_identity);
    free(pass);
    return 0;
}

static void set_tls(const struct y_email *c, CURL *e, bool implicit_tls)
{
    curl_easy_setopt(e, CURLOPT_USE_SSL,
                     implicit_tls     ? (long)CURLUSESSL_ALL
                     : c->require_tls ? (long)CURLUSESSL_ALL
                                      : (long)CURLUSESSL_NONE);
    tls_apply(&c->tls, e);
}

/* The value of header `name` in the head of msg (heap); NULL when absent. */
static char *head_value(const char *msg, const char *name)
{
    const char *end = strstr(msg, "\r\n\r\n");
    size_t nl = strlen(name);
    for (const char *p = msg; end && p < end; p = strstr(p, "\r\n") + 2) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            return dw_strndup(v, (size_t)(strstr(v, "\r\n") - v));
        }
    }
    return NULL;
}

static bool is_id_line(const char *p)
{
    static const char *const names[] = {"Message-ID:", "In-Reply-To:", "References:"};
    for (size_t i = 0; i < DW_ARRAY_LEN(names); i++)
        if (strncasecmp(p, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

/*
 * A plain message's thread: rendered as a reply to the root id derived from
 * its key. When no message of the thread was delivered to this destination
 * yet (no at->thread_ts), this one becomes the root: its Message-ID is the
 * root id and the In-Reply-To / References lines go. Appends what to send.
 */
static void put_thread_head(struct dw_buf *b, struct attempt *at, const char *body)
{
    char *root = head_value(body, "In-Reply-To");
    if (!root || !strstr(root, THREAD_MARK) || at->thread_ts) {
        free(root);
        dw_buf_puts(b, body);
        return;
    }
    const char *end = strstr(body, "\r\n\r\n") + 2; /* past the last header line */
    for (const char *p = body; p < end;) {
        const char *eol = strstr(p, "\r\n") + 2;
        if (!is_id_line(p))
            dw_buf_append(b, p, (size_t)(eol - p));
        p = eol;
    }
    dw_buf_printf(b, "Message-ID: %s\r\n", root);
    dw_buf_puts(b, end);
    at->new_root = root;
}

/* "To: list" then the rendered message, into the attempt. */
static void compose(struct attempt *at, const char *to, const char *body)
{
    struct dw_buf b;
    dw_buf_init(&b, 0);
    dw_buf_puts(&b, "To: ");
    for (const char *p = to; *p; p++)
        if (*p != '\r' && *p != '\n')
            dw_buf_putc(&b, *p);
    dw_buf_puts(&b, "\r\n");
    put_thread_head(&b, at, body);
    at->upload_len = b.len;
    at->upload_pos = 0;
    at->upload = dw_buf_steal(&b);
}

static int email_request(const void *conf, const char *to, const char *body, struct attempt *at,
                         char **err)
{
    const struct y_email *c = conf;
    const char *list = to && *to ? to : c->to;
    if (!list || !recipients(list, &at->rcpt)) {
        *err = dw_strdup("no recipient");
        return -1;
    }
    CURL *e = at->easy;
    if (set_auth(c, e, err) < 0)
        return -1;
    compose(at, list, body);
    bool implicit_tls;
    char *url = smtp_url(c, &implicit_tls);
    char *from = addr_spec(c->from, strlen(c->from));
    char *mail_from = dw_asprintf("<%s>", from);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, at->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(e, CURLOPT_READDATA, at);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)at->upload_len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, at->errbuf);
    set_tls(c, e, implicit_tls);
    free(mail_from);
    free(from);
    free(url);
    return 0;
}

/* ---- outcome ---- */

static void verdict(struct outcome *o, enum outcome_action action, const char *result)
{
    o->action = action;
    o->result = result;
}

static void email_outcome(CURL *e, CURLcode rc, const struct attempt *at, struct outcome *o)
{
    *o = (struct outcome){.retry_after_ms = -1};
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    o->status = code;
    const char *why = at->errbuf[0] ? at->errbuf : curl_easy_strerror(rc);
    snprintf(o->detail, sizeof o->detail, "smtp: %ld %.200s", code, rc == CURLE_OK ? "sent" : why);
    if (rc == CURLE_OK && at->new_root)
        snprintf(o->root_ts, sizeof o->root_ts, "%s", at->new_root);
    if (rc == CURLE_OK)
        verdict(o, OUT_DELIVERED, "success");
    else if (rc == CURLE_LOGIN_DENIED)
        verdict(o, OUT_GIVE_UP, "client_error");
    else if (code >= 500)
        verdict(o, OUT_GIVE_UP, "client_error");
    else if (code >= 400)
        verdict(o, OUT_RETRY, "server_error");
    else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL ||
             rc == CURLE_USE_SSL_FAILED)
        verdict(o, OUT_GIVE_UP, "error");
    else
        verdict(o, OUT_RETRY, rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connection_error");
}

/* A thread's root is per recipient list. */
static char *email_thread_dest(const void *conf, const char *to)
{
    const struct y_email *c = conf;
    const char *list = to && *to ? to : c->to;
    return list ? dw_strdup(list) : NULL;
}

const struct channel email_channel = {
    .kind = "email",
    .render = email_render,
    .request = email_request,
    .outcome = email_outcome,
    .thread_dest = email_thread_dest,
};
