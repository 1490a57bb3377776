-- The benchmark's 4-step funnel written by hand for DuckDB: the same semantics as
-- cxloop's (every order_placed starts an attempt; each next step is the customer's first
-- event of it after the previous step, within the window of the start; each customer
-- counts with the attempt that got furthest, the earliest of those), with DuckDB's own
-- ASOF joins to find "the next event of the step". {log}, {clock} and {window} are filled in.
WITH ev AS (
  SELECT customer_id, event_type, epoch(ts) AS e,
         row_number() OVER (PARTITION BY customer_id ORDER BY ts, event_id) AS seq
  FROM {log}
  WHERE event_type IN ('order_placed', 'order_shipped', 'order_delivered', 'review')
    AND customer_id IS NOT NULL AND ts <= {clock}
),
s0 AS (SELECT customer_id, seq AS s0, e AS e0 FROM ev WHERE event_type = 'order_placed'),
s1 AS (SELECT customer_id, seq, e FROM ev WHERE event_type = 'order_shipped'),
s2 AS (SELECT customer_id, seq, e FROM ev WHERE event_type = 'order_delivered'),
s3 AS (SELECT customer_id, seq, e FROM ev WHERE event_type = 'review'),
a1 AS (
  SELECT a.*, CASE WHEN b.e <= a.e0 + {window} THEN b.seq END AS s1,
         CASE WHEN b.e <= a.e0 + {window} THEN b.e END AS e1
  FROM s0 a ASOF LEFT JOIN s1 b ON a.customer_id = b.customer_id AND a.s0 < b.seq
),
a2 AS (
  SELECT a.*, CASE WHEN b.e <= a.e0 + {window} THEN b.seq END AS s2,
         CASE WHEN b.e <= a.e0 + {window} THEN b.e END AS e2
  FROM a1 a ASOF LEFT JOIN s2 b ON a.customer_id = b.customer_id AND a.s1 < b.seq
),
a3 AS (
  SELECT a.*, CASE WHEN b.e <= a.e0 + {window} THEN b.e END AS e3
  FROM a2 a ASOF LEFT JOIN s3 b ON a.customer_id = b.customer_id AND a.s2 < b.seq
),
best AS (
  SELECT customer_id, e0, e1, e2, e3,
         row_number() OVER (PARTITION BY customer_id
           ORDER BY (e1 IS NOT NULL)::INT + (e2 IS NOT NULL)::INT + (e3 IS NOT NULL)::INT DESC,
                    e0, s0) AS rk
  FROM a3
)
SELECT count(*) AS c0, count(e1) AS c1, count(e2) AS c2, count(e3) AS c3,
       quantile_cont((e3 - e0) / 3600.0, 0.5) AS median_hours
FROM best WHERE rk = 1
