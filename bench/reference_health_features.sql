-- The health features of cxloop.analytics.health written by hand in DuckDB SQL: the
-- reference bench/health.py compares `features(...)` with (same engine, same event Parquet
-- files, same built ledger, every row fetched). It reads the views `events` and `ledger`;
-- CUTOFF is replaced by the cut-off's timestamp literal. Event types are those of the
-- built-in src/cxloop/rules/health.toml.
WITH before AS (
    SELECT customer_id, event_type, ts, amount,
           try_cast(json_extract_string(attrs, '$.score') AS DOUBLE) AS score
    FROM events
    WHERE ts < CUTOFF
),
buys AS (
    SELECT customer_id,
           (epoch(CUTOFF) - epoch(max(ts))) / 86400.0 AS recency_days,
           (epoch(CUTOFF) - epoch(min(ts))) / 86400.0 AS tenure_days,
           count(DISTINCT CAST(ts AS DATE)) AS order_days,
           coalesce(sum(amount), 0.0) AS monetary,
           avg(amount) AS mean_order_value
    FROM before
    WHERE event_type = 'order_placed'
    GROUP BY customer_id
),
acts AS (
    SELECT customer_id,
           count(*) FILTER (WHERE event_type = 'contact_inbound') AS contacts,
           count(*) FILTER (WHERE event_type IN ('transfer', 'hold')) AS effort_events,
           count(*) FILTER (WHERE event_type = 'order_canceled') AS cancels,
           count(*) FILTER (WHERE event_type = 'refund_requested') AS refunds,
           avg(score) FILTER (WHERE event_type IN ('review', 'survey_response')) AS mean_score,
           count(*) FILTER (WHERE event_type IN ('review', 'survey_response') AND score <= 2)
               AS low_scores
    FROM before
    WHERE customer_id IN (SELECT customer_id FROM buys)
    GROUP BY customer_id
),
promised AS (
    SELECT customer_id,
           count(*) FILTER (WHERE fulfilled_at < CUTOFF AND state IN ('kept', 'exceeded'))
               AS promises_kept,
           count(*) FILTER (
               WHERE (fulfilled_at < CUTOFF AND state = 'broken')
                  OR (due_at < CUTOFF AND coalesce(fulfilled_at >= CUTOFF, true)
                      AND coalesce(voided_at >= CUTOFF, true))
           ) AS promises_broken
    FROM ledger
    WHERE opened_at < CUTOFF
    GROUP BY customer_id
)
SELECT b.customer_id, b.recency_days, b.tenure_days, b.order_days, b.monetary,
       b.mean_order_value,
       coalesce(a.contacts, 0) AS contacts, coalesce(a.effort_events, 0) AS effort_events,
       coalesce(a.cancels, 0) AS cancels, coalesce(a.refunds, 0) AS refunds, a.mean_score,
       coalesce(a.low_scores, 0) AS low_scores,
       coalesce(p.promises_kept, 0) AS promises_kept,
       coalesce(p.promises_broken, 0) AS promises_broken
FROM buys b
LEFT JOIN acts a USING (customer_id)
LEFT JOIN promised p USING (customer_id)
