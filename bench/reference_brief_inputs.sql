-- The daily brief's engine-side inputs written by hand in DuckDB SQL: the reference the
-- scale benchmark compares cxloop.services.brief.inputs with (same engine, same event
-- Parquet files, same built ledger, every result fetched).
--
-- It reads the views `events` (the event log's segments) and `ledger` (the built promise
-- ledger), and the macro `as_of_ts()` (the ledger's as-of time). Each query below is
-- one part, named by the `-- name:` line before it; bench/scale_steps.py runs them in
-- turn. The systemic detectors are those of src/cxloop/rules/detectors.toml, one query
-- each, every one reading the log and the ledger on its own (cxloop shares that work); the signal thresholds are cxloop.domain.cases.SignalRules'.

-- name: order_values
SELECT ref, sum(amount) AS value
FROM events
WHERE event_type = 'order_placed' AND ref IS NOT NULL AND amount IS NOT NULL
GROUP BY ref;

-- name: voice_scores
SELECT voice, date_trunc('week', ts) AS week, metric, score, count(*) AS n
FROM (
    SELECT CASE WHEN event_type = 'employee_feedback' THEN 'employee' ELSE 'customer' END
               AS voice,
           ts,
           coalesce(lower(json_extract_string(attrs, '$.metric')),
                    CASE WHEN event_type = 'review' THEN 'review' END) AS metric,
           try_cast(json_extract_string(attrs, '$.score') AS DOUBLE) AS score
    FROM events
    WHERE event_type IN ('survey_response', 'review', 'contact_inbound', 'employee_feedback')
)
WHERE metric IN ('nps', 'enps', 'csat', 'review', 'ces', 'pulse') AND score IS NOT NULL
GROUP BY ALL;

-- name: incident_cells.late_deliveries_by_carrier_region
SELECT grp, date_trunc('week', opened_at) AS w_start, count(*) AS n,
       count(*) FILTER (WHERE state = 'broken') AS hits,
       min(opened_at) AS first_at, max(opened_at) AS last_at,
       max(CASE WHEN fulfilled_at < due_at THEN fulfilled_at ELSE due_at END) AS known_max,
       sum(late_hours) FILTER (WHERE state = 'broken') AS value_total
FROM (
    SELECT p.*, json_extract_string(o.attrs, '$.carrier') || ' / '
                || json_extract_string(o.attrs, '$.region') AS grp
    FROM ledger p
    JOIN events o ON o.event_id = p.source_event_id
    WHERE p.rule = 'delivery' AND o.event_type = 'order_placed' AND o.ts <= as_of_ts()
      AND p.state IN ('kept', 'exceeded', 'broken')
)
WHERE grp IS NOT NULL AND opened_at IS NOT NULL
GROUP BY ALL;

-- name: incident_cells.undelivered_by_carrier_region
-- (its failure is a delivery never made or canceled once overdue: late ones are left out)
SELECT grp, date_trunc('week', opened_at) AS w_start, count(*) AS n,
       count(*) FILTER (WHERE state = 'broken') AS hits,
       min(opened_at) AS first_at, max(opened_at) AS last_at,
       max(CASE WHEN fulfilled_at < due_at THEN fulfilled_at ELSE due_at END) AS known_max,
       sum(late_hours) FILTER (WHERE state = 'broken') AS value_total
FROM (
    SELECT p.*, json_extract_string(o.attrs, '$.carrier') || ' / '
                || json_extract_string(o.attrs, '$.region') AS grp
    FROM ledger p
    JOIN events o ON o.event_id = p.source_event_id
    WHERE p.rule = 'delivery' AND o.event_type = 'order_placed' AND o.ts <= as_of_ts()
      AND p.state IN ('kept', 'exceeded', 'broken')
      AND (p.state <> 'broken' OR p.broken_reason IN ('never_fulfilled', 'canceled'))
)
WHERE grp IS NOT NULL AND opened_at IS NOT NULL
GROUP BY ALL;

-- name: incident_cells.late_deliveries_by_seller
SELECT grp, date_trunc('month', opened_at) AS w_start, count(*) AS n,
       count(*) FILTER (WHERE state = 'broken') AS hits,
       min(opened_at) AS first_at, max(opened_at) AS last_at,
       max(CASE WHEN fulfilled_at < due_at THEN fulfilled_at ELSE due_at END) AS known_max,
       sum(late_hours) FILTER (WHERE state = 'broken') AS value_total
FROM (
    SELECT p.*, json_extract_string(o.attrs, '$.seller_id') AS grp
    FROM ledger p
    JOIN events o ON o.event_id = p.source_event_id
    WHERE p.rule = 'delivery' AND o.event_type = 'order_placed' AND o.ts <= as_of_ts()
      AND p.state IN ('kept', 'exceeded', 'broken')
)
WHERE grp IS NOT NULL AND opened_at IS NOT NULL
GROUP BY ALL;

-- name: incident_cells.late_deliveries_by_region
SELECT grp, date_trunc('week', opened_at) AS w_start, count(*) AS n,
       count(*) FILTER (WHERE state = 'broken') AS hits,
       min(opened_at) AS first_at, max(opened_at) AS last_at,
       max(CASE WHEN fulfilled_at < due_at THEN fulfilled_at ELSE due_at END) AS known_max,
       sum(late_hours) FILTER (WHERE state = 'broken') AS value_total
FROM (
    SELECT p.*, json_extract_string(o.attrs, '$.region') AS grp
    FROM ledger p
    JOIN events o ON o.event_id = p.source_event_id
    WHERE p.rule = 'delivery' AND o.event_type = 'order_placed' AND o.ts <= as_of_ts()
      AND p.state IN ('kept', 'exceeded', 'broken')
)
WHERE grp IS NOT NULL AND opened_at IS NOT NULL
GROUP BY ALL;

-- name: incident_cells.missed_callbacks_by_team
-- (window "all": one cell per team; the callback detector windows by the due time)
SELECT grp, TIMESTAMP '1970-01-01' AS w_start, count(*) AS n,
       count(*) FILTER (WHERE state = 'broken') AS hits,
       min(due_at) AS first_at, max(due_at) AS last_at,
       max(CASE WHEN fulfilled_at < due_at THEN fulfilled_at ELSE due_at END) AS known_max,
       sum(late_hours) FILTER (WHERE state = 'broken') AS value_total
FROM (
    SELECT p.*, json_extract_string(o.attrs, '$.team') AS grp
    FROM ledger p
    JOIN events o ON o.event_id = p.source_event_id
    WHERE p.rule = 'callback' AND o.event_type = 'callback_promised' AND o.ts <= as_of_ts()
      AND p.state IN ('kept', 'exceeded', 'broken')
)
WHERE grp IS NOT NULL AND due_at IS NOT NULL
GROUP BY ALL;

-- name: incident_cells.billing_deviation_by_run
SELECT grp, date_trunc('day', ts) AS w_start, count(*) AS n,
       count(*) FILTER (WHERE hit) AS hits,
       min(ts) AS first_at, max(ts) AS last_at, max(ts) AS known_max,
       sum(amount - o_amount) FILTER (WHERE hit) AS value_total
FROM (
    SELECT i.ts, i.amount, o.amount AS o_amount,
           coalesce(json_extract_string(i.attrs, '$.run'), CAST(CAST(i.ts AS DATE) AS VARCHAR))
               AS grp,
           coalesce(abs(i.amount - o.amount) > 0.02 * abs(o.amount), false) AS hit
    FROM events i
    JOIN events o ON o.ref = i.ref AND o.customer_id = i.customer_id
    WHERE i.event_type = 'invoice_issued' AND i.ts <= as_of_ts()
      AND o.event_type = 'order_placed' AND o.ts <= as_of_ts()
      AND i.amount IS NOT NULL AND o.amount IS NOT NULL
)
WHERE grp IS NOT NULL AND ts IS NOT NULL
GROUP BY ALL;

-- name: incident_cells.missing_parts_by_sku
WITH known AS (SELECT * FROM events WHERE ts <= as_of_ts()),
ships AS (
    SELECT customer_id, ref, min(ts) AS shipped_at
    FROM known WHERE event_type = 'order_shipped'
    GROUP BY ALL
),
contacted AS (
    SELECT coalesce(json_extract_string(attrs, '$.order'), ref) AS c_ref,
           min(ts) AS contacted_at
    FROM known
    WHERE event_type = 'contact_inbound'
      AND json_extract_string(attrs, '$.topic') = 'missing_parts'
    GROUP BY ALL
)
SELECT json_extract_string(o.attrs, '$.sku') AS grp,
       date_trunc('week', s.shipped_at) AS w_start,
       count(*) AS n, count(c.contacted_at) AS hits,
       min(s.shipped_at) AS first_at, max(s.shipped_at) AS last_at,
       max(coalesce(c.contacted_at, s.shipped_at)) AS known_max,
       NULL::DOUBLE AS value_total
FROM ships s
JOIN known o ON o.ref = s.ref AND o.customer_id = s.customer_id
               AND o.event_type = 'order_placed'
LEFT JOIN contacted c ON c.c_ref = s.ref
WHERE json_extract_string(o.attrs, '$.sku') IS NOT NULL AND s.shipped_at IS NOT NULL
GROUP BY ALL;

-- name: signals
WITH
since AS (SELECT as_of_ts() - INTERVAL 30 DAY AS since),
cons AS (
    SELECT ref AS contact_ref, customer_id, ts, department,
           json_extract_string(attrs, '$.order') AS "order",
           json_extract_string(attrs, '$.topic') AS topic,
           coalesce(json_extract_string(attrs, '$.order'),
                    json_extract_string(attrs, '$.topic'), ref) AS issue
    FROM events
    WHERE event_type = 'contact_inbound'
),
about AS (SELECT contact_ref, min("order") AS m_order FROM cons GROUP BY contact_ref),
promise_sig AS (
    SELECT CASE WHEN p.state = 'broken' THEN 'broken_promise' ELSE 'at_risk_promise' END
               AS kind,
           p.customer_id, coalesce(a.m_order, p.ref) AS subject,
           CASE WHEN p.state = 'broken' THEN p.due_at ELSE p.at_risk_at END AS ts,
           p.department, p.promise_id AS source_ref, p.kind AS promise_kind,
           coalesce(p.breach, p.at_risk_reason, '') AS breach,
           coalesce(p.late_hours, 0.0) AS late_hours,
           NULL::DOUBLE AS score, '' AS metric, 0::BIGINT AS contacts,
           0.0::DOUBLE AS hold_seconds, 0::BIGINT AS transfers, p.ref AS detail_ref
    FROM ledger p
    LEFT JOIN about a ON a.contact_ref = p.ref
    WHERE (p.state = 'broken' AND p.due_at >= (SELECT since FROM since))
       OR (p.state = 'at_risk' AND p.at_risk_at >= (SELECT since FROM since))
),
feedback AS (
    SELECT *, CASE metric WHEN 'nps' THEN 6.0 WHEN 'ces' THEN 3.0 ELSE 2.0 END AS lim
    FROM (
        SELECT event_id, customer_id, ref, ts, department, attrs,
               coalesce(lower(json_extract_string(attrs, '$.metric')),
                        CASE WHEN event_type = 'review' THEN 'review' ELSE 'csat' END) AS metric,
               try_cast(json_extract_string(attrs, '$.score') AS DOUBLE) AS score
        FROM events
        WHERE event_type IN ('review', 'survey_response')
          AND ts >= (SELECT since FROM since)
    )
),
feedback_sig AS (
    SELECT 'negative_feedback' AS kind, customer_id, coalesce(ref, event_id) AS subject, ts,
           department, event_id AS source_ref, '' AS promise_kind, '' AS breach,
           0.0 AS late_hours, score, metric, 0::BIGINT AS contacts, 0.0 AS hold_seconds,
           0::BIGINT AS transfers, json_extract_string(attrs, '$.text') AS detail_ref
    FROM feedback
    WHERE score IS NOT NULL AND score <= lim
),
repeats AS (
    SELECT *, lag(ts) OVER w AS prev, row_number() OVER w AS nth
    FROM cons
    WINDOW w AS (PARTITION BY customer_id, issue ORDER BY ts)
),
repeat_sig AS (
    SELECT 'repeat_contact' AS kind, customer_id, coalesce("order", contact_ref) AS subject,
           ts, department, contact_ref AS source_ref, '' AS promise_kind, '' AS breach,
           0.0 AS late_hours, NULL::DOUBLE AS score, '' AS metric, nth AS contacts,
           0.0 AS hold_seconds, 0::BIGINT AS transfers, coalesce(topic, '') AS detail_ref
    FROM repeats
    WHERE prev IS NOT NULL AND epoch(ts) - epoch(prev) <= 7 * 86400
      AND ts >= (SELECT since FROM since)
),
per_contact AS (
    SELECT ref,
           max(try_cast(json_extract_string(attrs, '$.hold_seconds') AS DOUBLE)) AS hold,
           count(*) FILTER (WHERE event_type = 'transfer') AS n_transfers
    FROM events
    WHERE event_type IN ('hold', 'transfer', 'contact_inbound')
      AND ts >= (SELECT since FROM since)
    GROUP BY ref
),
effort AS (
    SELECT c.*, p.hold, p.n_transfers
    FROM per_contact p JOIN cons c ON p.ref = c.contact_ref
),
effort_sig AS (
    SELECT k.kind, customer_id, coalesce("order", contact_ref) AS subject, ts, department,
           contact_ref AS source_ref, '' AS promise_kind, '' AS breach, 0.0 AS late_hours,
           NULL::DOUBLE AS score, '' AS metric, 0::BIGINT AS contacts,
           coalesce(hold, 0.0) AS hold_seconds, n_transfers AS transfers,
           coalesce(topic, '') AS detail_ref
    FROM effort
    JOIN (VALUES ('long_hold'), ('transfers')) AS k (kind)
      ON (k.kind = 'long_hold' AND hold >= 600) OR (k.kind = 'transfers' AND n_transfers >= 2)
)
SELECT * FROM (
    SELECT * FROM promise_sig
    UNION ALL SELECT * FROM feedback_sig
    UNION ALL SELECT * FROM repeat_sig
    UNION ALL SELECT * FROM effort_sig
)
WHERE ts <= as_of_ts()
ORDER BY ts, kind, source_ref;
