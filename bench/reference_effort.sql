-- Effort per issue written by hand in DuckDB SQL: the reference the effort benchmark
-- compares `cxloop effort issues` with (same engine, same event Parquet files, same rows).
--
-- It reads the view `events` (the event log's segments) and returns one row per issue.
-- The rules are the built-in src/cxloop/rules/effort.toml, written out below; the
-- semantics are docs/effort.md's:
--
--   * a contact (contact_inbound) joins the customer's issue on attrs.order; without an
--     order, the customer's issue on attrs.topic if the previous contact on it came within
--     14 days; without either, the issue of its case (the event's ref);
--   * replies (reply_sent, callback_made), transfers and holds belong to the issue of the
--     contacts of their case (ref and customer); a phone or store contact is answered live;
--   * the timeline's gaps are waiting for a first reply, between replies, or the customer's
--     turn (no approvals here: the benchmark's store has none);
--   * a repeat is a contact within 7 days of the previous one of its issue; a reopen a
--     contact at least 24 hours after the organization's last reply, when it spoke last;
--   * as_of is the store's data clock: the latest event time in the log, cxloop's own
--     events (ids beginning cx-) not counted.

WITH
-- the store's data clock: the latest event not written by cxloop itself
as_of AS (SELECT max(ts) AS t FROM events WHERE NOT starts_with(event_id, 'cx-')),
c0 AS (
    SELECT
        e.event_id,
        coalesce(e.customer_id, '') AS customer_id,
        e.ts,
        epoch(e.ts) AS t,
        coalesce(e.ref, e.event_id) AS ref,
        e.channel,
        e.department,
        json_extract_string(e.attrs, '$.team') AS team,
        TRY_CAST(json_extract_string(e.attrs, '$.hold_seconds') AS DOUBLE) AS queue,
        nullif(trim(json_extract_string(e.attrs, '$.order')), '') AS o,
        nullif(trim(json_extract_string(e.attrs, '$.topic')), '') AS s
    FROM events e, as_of
    WHERE e.event_type = 'contact_inbound' AND e.ts <= as_of.t
),
c1 AS (
    SELECT *,
        CASE WHEN o IS NOT NULL THEN 'order' WHEN s IS NOT NULL THEN 'subject' ELSE 'case' END
            AS kind,
        coalesce(o, s, ref) AS key
    FROM c0
),
c2 AS (
    SELECT *,
        CASE WHEN lag(t) OVER w IS NULL
              OR (kind = 'subject' AND t - lag(t) OVER w > 14 * 86400) THEN 1 ELSE 0 END AS new
    FROM c1
    WINDOW w AS (PARTITION BY customer_id, kind, key ORDER BY t, event_id)
),
cons AS MATERIALIZED (
    SELECT *,
        kind || ':' || key || '#'
            || CAST(sum(new) OVER (PARTITION BY customer_id, kind, key ORDER BY t, event_id
                                   ROWS UNBOUNDED PRECEDING) AS VARCHAR)
            || '@' || customer_id AS ik
    FROM c2
),
refs AS (SELECT customer_id, ref, min(ik) AS ik FROM cons GROUP BY ALL),
handled AS (
    SELECT r.ik, e.event_type, e.event_id, e.ts, e.attrs
    FROM events e JOIN refs r ON e.ref = r.ref AND e.customer_id = r.customer_id, as_of
    WHERE e.event_type IN ('reply_sent', 'callback_made', 'transfer', 'hold')
      AND e.ts <= as_of.t
),
pts AS (
    SELECT ik, t, 0 AS kind, event_id AS pid FROM cons
    UNION ALL
    SELECT ik, t, 1, event_id || ':live' FROM cons WHERE channel IN ('phone', 'store')
    UNION ALL
    SELECT ik, epoch(ts), 1, event_id FROM handled
    WHERE event_type IN ('reply_sent', 'callback_made')
),
p1 AS (
    SELECT *,
        coalesce(lead(t) OVER w - t, 0) AS gap,
        sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) OVER run AS outs,
        max(CASE WHEN kind = 1 THEN t END) OVER run AS last_out,
        max(CASE WHEN kind = 0 THEN t END) OVER run AS last_in
    FROM pts
    WINDOW w AS (PARTITION BY ik ORDER BY t, kind, pid),
           run AS (PARTITION BY ik ORDER BY t, kind, pid ROWS UNBOUNDED PRECEDING)
),
p2 AS (
    SELECT *,
        -- the customer spoke last: this point is a contact, or (an approval would be
        -- here) the last message before it was
        kind = 0 AS waiting,
        lag(kind) OVER w AS prev_kind,
        lag(last_out) OVER w AS prev_out,
        lag(last_in) OVER w AS prev_in,
        min(CASE WHEN kind = 0 THEN t END) OVER (PARTITION BY ik) AS first_in
    FROM p1
    WINDOW w AS (PARTITION BY ik ORDER BY t, kind, pid)
),
figures AS (
    SELECT ik,
        sum(CASE WHEN kind = 1 THEN 1 ELSE 0 END) AS replies,
        sum(CASE WHEN kind = 0 AND prev_in IS NOT NULL AND t - prev_in <= 7 * 86400
                 THEN 1 ELSE 0 END) AS repeat_contacts,
        sum(CASE WHEN kind = 0 AND prev_kind = 1 AND t - prev_out >= 86400
                 THEN 1 ELSE 0 END) AS reopens,
        (min(CASE WHEN kind = 1 AND t >= first_in THEN t END) - min(first_in)) / 3600
            AS first_reply_hours,
        (max(t) - min(t)) / 3600 AS elapsed_hours,
        sum(CASE WHEN waiting AND outs = 0 THEN gap ELSE 0 END) / 3600
            AS wait_first_reply_hours,
        sum(CASE WHEN waiting AND outs > 0 THEN gap ELSE 0 END) / 3600
            AS wait_between_replies_hours,
        sum(CASE WHEN NOT waiting THEN gap ELSE 0 END) / 3600 AS customer_turn_hours
    FROM p2
    GROUP BY ik
),
firsts AS (
    SELECT ik, ref AS issue_id, customer_id, kind AS subject_kind, key AS subject,
        ts AS started_at, department, channel, team
    FROM cons
    QUALIFY row_number() OVER (PARTITION BY ik ORDER BY t, event_id) = 1
),
per_contacts AS (
    SELECT ik, count(*) AS contacts, count(DISTINCT channel) AS channels,
        coalesce(sum(queue), 0) AS queue_seconds
    FROM cons GROUP BY ik
),
hand AS (
    SELECT ik,
        sum(CASE WHEN event_type = 'transfer' THEN 1 ELSE 0 END) AS transfers,
        coalesce(sum(TRY_CAST(json_extract_string(attrs, '$.hold_seconds') AS DOUBLE)), 0)
            AS hold_seconds
    FROM handled WHERE event_type IN ('transfer', 'hold') GROUP BY ik
)
SELECT f.issue_id, f.customer_id, f.subject_kind, f.subject, f.started_at, f.department,
    f.channel, f.team, c.contacts, c.channels, g.replies,
    coalesce(h.transfers, 0) AS transfers, coalesce(h.hold_seconds, 0) AS hold_seconds,
    c.queue_seconds, 0 AS approvals, g.repeat_contacts, g.reopens, g.first_reply_hours,
    g.elapsed_hours, g.wait_first_reply_hours, g.wait_between_replies_hours,
    0.0 AS wait_approval_hours, g.customer_turn_hours, f.ik
FROM firsts f
JOIN per_contacts c USING (ik)
JOIN figures g USING (ik)
LEFT JOIN hand h USING (ik)
