/*
 * report.h - the incident module's two documents, rendered from one incident
 * (a jansson object, see docs in dw_incident_render_report): the internal
 * incident report and the user-facing notice, both as the seed's
 * post-launch-monitoring plan lays them out ("Internal Incident Report
 * Template" and "User-Facing Incident Notification"). Internal to
 * src/incident/.
 *
 * Templates are Mustache (mustache.h). A team may replace either default
 * with its own text from the config; report.c never renders the incident
 * itself but a *view* built from it, where every value is already made safe
 * for the output format and missing data has a placeholder ("TBD",
 * "Unknown", "None recorded"):
 *
 *   TEXT      values as they are (plain e-mail).
 *   MARKDOWN  values with line breaks folded to spaces, surrounding space
 *             trimmed, \ ` * _ [ ] < > & backslash-escaped, and a leading
 *             # - + = > ~ or "1." / "1)" escaped, so data can neither open
 *             a link, an autolink, raw HTML, code or emphasis, nor start a
 *             heading or a list.
 *   HTML      the MARKDOWN text rendered by cmark in its default safe mode
 *             (raw HTML dropped, javascript:/vbscript:/file:/data: links
 *             dropped) inside a minimal HTML document with a <title>.
 *
 * So templates use triple mustaches {{{name}}} for values; {{name}} would
 * HTML-escape the already-escaped value a second time (still safe, only
 * uglier). Whatever a custom template does, the HTML output goes through
 * cmark's safe mode.
 *
 * View of the report (top-level names): service, id, title, start, end,
 * duration, severity, affectedSystems, userImpact, businessImpact, dataLoss,
 * rootCause, contributingFactors, detection, immediateActions, permanentFix,
 * verification, shortTerm, longTerm, monitoring, commander,
 * communicationsLead, scribe, state (strings); lessons (list of strings);
 * hasTimeline, timeline (list of {at, kind, who, text}); hasActionItems,
 * actionItems (list of {check: "x" or " ", task, owner, due}); incident
 * (the whole input with every string escaped the same way).
 *
 * View of the notice: service, issue, description, affected, eta (may be
 * empty), resolved (bool), resolvedAt, statusPageUrl, incident.
 */
#ifndef DW_INCIDENT_REPORT_H
#define DW_INCIDENT_REPORT_H

#include <jansson.h>

#include "core/core.h"

/** Output formats of both documents. */
enum dw_incident_format {
    DW_INCIDENT_TEXT,     /* values unescaped; for plain-text e-mail */
    DW_INCIDENT_MARKDOWN, /* CommonMark, values escaped */
    DW_INCIDENT_HTML,     /* the Markdown through cmark, as a whole HTML document */
};

/**
 * Renders the internal incident report of `incident` and appends it to out.
 *
 * incident: an object; "id" is expected, everything else optional: title,
 * severity (1-4), severityName, priority, state, createdAt, acknowledgedAt,
 * resolvedAt, closedAt, duration (text) or durationSeconds,
 * timeToAcknowledge, timeToResolve, commander, communicationsLead, scribe,
 * affectedSystems (list or text), impact, usersAffected, businessImpact,
 * dataLoss (bool or text), dataLossDetails, rootCause, contributingFactors
 * (list or text), detection ({method, alert} or text), resolution (text, or
 * {immediateActions, permanentFix, verification}), prevention (text, or
 * {shortTerm, longTerm, monitoring}), lessonsLearned (list or text),
 * timeline [{at, kind, who, text}], actionItems [{task, owner, due, done}],
 * service (default "DojoPool"). The timeline is listed under "Incident
 * Details" as "**Timeline**", so the seed's headings stay as they are.
 *
 * template_or_null: custom Mustache text (from the config), NULL for the
 * default. Returns 0, or -1 with a heap message in *err (caller frees; err
 * may be NULL) and out as it was before the call: the template does not
 * compile ("report:LINE:COL: ..."), the output would pass out->max, or
 * incident is not an object.
 */
int dw_incident_render_report(json_t *incident, const char *template_or_null,
                              enum dw_incident_format format, struct dw_buf *out, char **err);

/**
 * Renders the user-facing notice (status page, e-mail to subscribers) of
 * `incident` and appends it to out. The first line is "Subject: ..."
 * (dw_incident_notice_subject gives it alone). Reads from the incident:
 * service, title, impact, state, resolvedAt, statusPageUrl (default the
 * seed's https://status.dojopool.com) and notice {status, title, message
 * ("We are currently experiencing <message>"), affected (completes "your
 * ability to <affected>", e.g. "join matches"), eta}. When notice.status
 * (or, without it, state) is resolved or closed, the two middle paragraphs
 * speak in the past tense. Errors as dw_incident_render_report ("notice:").
 */
int dw_incident_render_notice(json_t *incident, const char *template_or_null,
                              enum dw_incident_format format, struct dw_buf *out, char **err);

/**
 * The plain-text subject of the default notice ("DojoPool Service Update -
 * API errors") as a heap string the caller frees; for the e-mail header.
 */
char *dw_incident_notice_subject(json_t *incident);

/**
 * Config hook: checks that a custom template compiles, so the config loader
 * rejects a broken one at load time. name is used in the message
 * ("name:LINE:COL: ..."). Returns 0, or -1 with a heap message in *err.
 */
int dw_incident_template_check(const char *name, const char *text, char **err);

/** The default templates (Markdown / text), e.g. for `dojowatch incident report --template`. */
extern const char dw_incident_report_template[];
extern const char dw_incident_notice_template[];

#endif
