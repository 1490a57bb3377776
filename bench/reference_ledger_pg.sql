-- The promise ledger written by hand in PostgreSQL: bench/reference_ledger.sql (DuckDB)
-- ported to PostgreSQL, the reference the scale benchmark (bench/scale.py) compares
-- cxloop's Ibis-built ledger with on PostgreSQL (same database, same cx_events table, the
-- result stored as a table as cxloop stores the ledger there).
--
-- Differences from the DuckDB text: it reads cx_events; date_part('epoch', ...) for
-- epoch(), make_interval() for to_seconds(), ARRAY[...] and = ANY() for the lists,
-- attrs::json ->> key, and a plain CAST of the deadline attribute to a timestamp (what
-- Ibis compiles try_cast to on PostgreSQL).
--
-- It reads the table `cx_events` (the event log) and returns one row per promise
-- with the ledger's columns. The rules are those of src/cxloop/rules/default.toml, written
-- out below as a table; the states follow cxloop.domain.promises.classify and
-- docs/promises.md:
--
--   * a rule's opening event (of type opens_on, on one of its channels if it names any)
--     opens a promise, due at the event's due_at (due = "event") or due_after after it;
--   * the first fulfilling / voiding / milestone event of the same customer and ref at
--     or after the opening time fulfils / voids / reaches the milestone;
--   * cancelled: voided by the due time and before any fulfilment; broken: fulfilled
--     late, or not fulfilled when as_of has passed the due time; exceeded: fulfilled at
--     least exceeded_margin before the due time; kept: otherwise fulfilled; at_risk: open
--     with a risk time (the earliest one that fired) before the due time and as_of;
--     open: the rest;
--   * baselines are the customer's earlier promises of the same rule (by opened_at,
--     promise_id); "slower than usual" means max(baseline x (1 + tolerance),
--     baseline + min_gap);
--   * as_of is the latest event time in the log; later facts would not count.

WITH
rules AS (
    SELECT * FROM (VALUES
        -- rule, kind, department, opens_on, channels, use_event_due, due_after_s,
        -- fulfilled_by, voided_by, milestone, margin_s, tol, gap_h,
        -- deadline_attr, deadline_within_s, deadline_reason, mslow_reason, slow_reason,
        -- soon_before_s, soon_reason
        ('delivery', 'delivery', 'logistics', 'order_placed', NULL::TEXT[], true,
         7 * 86400, 'order_delivered', ARRAY['order_canceled'], 'order_shipped', 2 * 86400,
         1.25, 24.0, 'ship_by', 2 * 86400, 'handoff_missed', 'shipped_later_than_usual',
         'slower_than_usual', NULL, NULL),
        ('callback', 'callback', 'support', 'callback_promised', NULL, true,
         86400, 'callback_made', ARRAY[]::TEXT[], NULL, 0,
         1.25, 1.0, NULL, NULL, NULL, NULL, NULL, 2 * 3600, 'due_within_2h'),
        ('refund', 'refund', 'billing', 'refund_requested', NULL, false,
         5 * 86400, 'refund_issued', ARRAY[]::TEXT[], NULL, 3 * 86400,
         1.25, 1.0, NULL, NULL, NULL, NULL, NULL, 86400, 'due_within_1d'),
        ('reply_email', 'reply', 'support', 'contact_inbound', ARRAY['email', 'web'], false,
         24 * 3600, 'reply_sent', ARRAY[]::TEXT[], NULL, 20 * 3600,
         1.25, 1.0, NULL, NULL, NULL, NULL, NULL, 4 * 3600, 'due_within_4h'),
        ('reply_chat', 'reply', 'support', 'contact_inbound', ARRAY['chat'], false,
         3600, 'reply_sent', ARRAY[]::TEXT[], NULL, 50 * 60,
         1.25, 1.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        ('replacement', 'replacement', 'fulfillment', 'replacement_promised', NULL, true,
         7 * 86400, 'replacement_delivered', ARRAY[]::TEXT[], NULL, 2 * 86400,
         1.25, 1.0, NULL, NULL, NULL, NULL, NULL, 86400, 'due_within_1d')
    ) AS r (rule, kind, department, opens_on, channels, use_event_due, due_after_s,
            fulfilled_by, voided_by, milestone, margin_s, tol, gap_h,
            deadline_attr, deadline_within_s, deadline_reason, mslow_reason, slow_reason,
            soon_before_s, soon_reason)
),
as_of AS (
    SELECT max(ts) AS as_of, date_part('epoch', max(ts)) AS as_of_s FROM cx_events
),
known AS (
    SELECT customer_id, event_id, event_type, ts, channel, ref, amount, due_at, attrs
    FROM cx_events
    WHERE ts <= (SELECT as_of FROM as_of)
),
-- one promise per opening event and matching rule
promises AS (
    SELECT r.*,
           r.rule || ':' || e.event_id AS promise_id,
           e.customer_id,
           coalesce(e.ref, e.event_id) AS ref,
           e.event_id AS source_event_id,
           e.amount,
           e.ts AS opened_at,
           CASE WHEN r.use_event_due
                THEN coalesce(e.due_at, e.ts + make_interval(secs => r.due_after_s))
                ELSE e.ts + make_interval(secs => r.due_after_s) END AS due_at,
           e.attrs AS open_attrs
    FROM known e
    JOIN rules r
      ON e.event_type = r.opens_on
     AND (r.channels IS NULL OR e.channel = ANY(r.channels))
),
-- the events that can fulfil, void or mark a milestone of some promise
fact_events AS (
    SELECT customer_id, ref, event_type, ts
    FROM known
    WHERE event_type IN (SELECT fulfilled_by FROM rules
                         UNION SELECT unnest(voided_by) FROM rules
                         UNION SELECT milestone FROM rules WHERE milestone IS NOT NULL)
),
-- the first of each kind of fact at or after the opening, same customer and ref
firsts AS (
    SELECT p.promise_id,
           min(f.ts) FILTER (WHERE f.event_type = p.fulfilled_by) AS fulfilled_at,
           min(f.ts) FILTER (WHERE f.event_type = ANY(p.voided_by)) AS voided_at,
           min(f.ts) FILTER (WHERE f.event_type = p.milestone) AS milestone_at
    FROM promises p
    JOIN fact_events f
      ON f.customer_id = p.customer_id AND f.ref = p.ref AND f.ts >= p.opened_at
    GROUP BY p.promise_id
),
timed AS (
    SELECT p.*, f.fulfilled_at, f.voided_at, f.milestone_at,
           date_part('epoch', p.opened_at) AS opened_s,
           date_part('epoch', p.due_at) AS due_s,
           date_part('epoch', f.fulfilled_at) AS fulfilled_s,
           (date_part('epoch', f.fulfilled_at) - date_part('epoch', p.opened_at)) / 3600 AS duration_hours,
           (date_part('epoch', f.milestone_at) - date_part('epoch', p.opened_at)) / 3600 AS milestone_hours,
           date_part('epoch', f.milestone_at) AS milestone_s
    FROM promises p
    LEFT JOIN firsts f USING (promise_id)
),
-- the customer's usual: the mean over their earlier promises of the same rule
baselined AS (
    SELECT *,
           avg(duration_hours) OVER usual AS baseline_hours,
           count(duration_hours) OVER usual AS baseline_n,
           avg(milestone_hours) OVER usual AS milestone_baseline_h
    FROM timed
    WINDOW usual AS (PARTITION BY rule, customer_id ORDER BY opened_at, promise_id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
),
-- when each risk of the rule fires (NULL: the rule has no such risk, or it did not fire)
risk_times AS (
    SELECT *,
           CASE WHEN deadline_reason IS NOT NULL
                THEN coalesce(date_part('epoch', CAST(open_attrs::json ->> deadline_attr AS TIMESTAMP)),
                              opened_s + deadline_within_s) END AS deadline_s,
           CASE WHEN mslow_reason IS NOT NULL
                THEN opened_s + greatest(milestone_baseline_h * tol,
                                         milestone_baseline_h + gap_h) * 3600 END AS mslow_s,
           CASE WHEN slow_reason IS NOT NULL
                THEN opened_s + greatest(baseline_hours * tol,
                                         baseline_hours + gap_h) * 3600 END AS slow_s,
           CASE WHEN soon_reason IS NOT NULL THEN due_s - soon_before_s END AS soon_s
    FROM baselined
),
fired AS (
    SELECT *,
           CASE WHEN milestone_s IS NULL OR milestone_s > deadline_s
                THEN deadline_s END AS c_deadline,
           CASE WHEN milestone_s IS NULL OR milestone_s > mslow_s THEN mslow_s END AS c_mslow,
           CASE WHEN fulfilled_s IS NULL OR fulfilled_s > slow_s THEN slow_s END AS c_slow,
           CASE WHEN fulfilled_s IS NULL OR fulfilled_s > soon_s THEN soon_s END AS c_soon
    FROM risk_times
),
at_risk AS (
    SELECT *,
           CASE WHEN earliest IS NOT NULL AND earliest < least(fulfilled_s, due_s)
                     AND earliest <= (SELECT as_of_s FROM as_of)
                THEN earliest END AS risk_s
    FROM (SELECT *, least(c_deadline, c_mslow, c_slow, c_soon) AS earliest FROM fired) AS f
),
stated AS (
    SELECT *,
           CASE
               WHEN voided_at IS NOT NULL AND voided_at <= due_at
                    AND (fulfilled_at IS NULL OR voided_at < fulfilled_at) THEN 'cancelled'
               WHEN fulfilled_at > due_at THEN 'broken'
               WHEN margin_s > 0 AND fulfilled_at <= due_at - make_interval(secs => margin_s)
                   THEN 'exceeded'
               WHEN fulfilled_at IS NOT NULL THEN 'kept'
               WHEN (SELECT as_of FROM as_of) > due_at THEN 'broken'
               WHEN risk_s IS NOT NULL THEN 'at_risk'
               ELSE 'open'
           END AS state,
           CASE WHEN c_deadline = risk_s THEN deadline_reason
                WHEN c_mslow = risk_s THEN mslow_reason
                WHEN c_slow = risk_s THEN slow_reason
                WHEN c_soon = risk_s THEN soon_reason END AS risk_reason
    FROM at_risk
)
SELECT promise_id, rule, kind, department, customer_id, ref, source_event_id, amount,
       opened_at, due_at, fulfilled_at, voided_at, milestone_at, state,
       CASE WHEN state <> 'broken' THEN NULL
            WHEN fulfilled_at IS NULL THEN 'not_fulfilled'
            ELSE 'late' END AS breach,
       CASE WHEN state = 'broken'
            THEN (coalesce(fulfilled_s, (SELECT as_of_s FROM as_of)) - due_s) / 3600
            END AS late_hours,
       (due_s - fulfilled_s) / 3600 AS margin_hours,
       duration_hours,
       baseline_hours,
       baseline_n,
       coalesce(state IN ('kept', 'exceeded') AND baseline_n > 0
                AND duration_hours > baseline_hours * tol
                AND duration_hours - baseline_hours >= gap_h, false) AS below_baseline,
       CASE WHEN risk_s IS NOT NULL AND state <> 'cancelled'
            THEN opened_at + make_interval(secs => round(risk_s - opened_s)) END AS at_risk_at,
       CASE WHEN state <> 'cancelled' THEN risk_reason END AS at_risk_reason,
       (SELECT as_of FROM as_of) AS as_of
FROM stated
