"""The ``olist`` mapping: a directory with the public Olist e-commerce CSVs.

One customer is Olist's ``customer_unique_id`` (a person), not its per-order
``customer_id``. Each order yields ``order_placed`` (due at the end of the
estimated delivery date, ``ship_by`` = the sellers' hand-off deadline),
``payment_received``, ``order_shipped`` (hand-over to the carrier),
``order_delivered`` and, for canceled/unavailable orders, ``order_canceled``;
each review yields a ``review`` event. See docs/olist.md.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from cxloop.errors import MappingError
from cxloop.ingest.mappings.base import Staged
from cxloop.ingest.readers import RawTable, read_file
from cxloop.ingest.staging import (
    Check,
    finish_staging,
    lit,
    record_json,
    split_bad_rows,
    text,
    timestamp_checks,
    ts,
)
from cxloop.store.state import Problem

FILES = {
    "orders": "olist_orders_dataset.csv",
    "customers": "olist_customers_dataset.csv",
    "items": "olist_order_items_dataset.csv",
    "payments": "olist_order_payments_dataset.csv",
    "reviews": "olist_order_reviews_dataset.csv",
    "products": "olist_products_dataset.csv",
    "sellers": "olist_sellers_dataset.csv",
    "categories": "product_category_name_translation.csv",
}
REQUIRED = ("orders", "customers")
NEEDED_COLUMNS = {
    "orders": [
        "order_id",
        "customer_id",
        "order_status",
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
        "order_estimated_delivery_date",
    ],
    "customers": [
        "customer_id",
        "customer_unique_id",
        "customer_zip_code_prefix",
        "customer_city",
        "customer_state",
    ],
    "items": [
        "order_id",
        "order_item_id",
        "product_id",
        "seller_id",
        "shipping_limit_date",
        "price",
        "freight_value",
    ],
    "payments": ["order_id", "payment_sequential", "payment_type", "payment_value"],
    "reviews": [
        "review_id",
        "order_id",
        "review_score",
        "review_comment_title",
        "review_comment_message",
        "review_creation_date",
        "review_answer_timestamp",
    ],
    "products": ["product_id", "product_category_name"],
    "sellers": ["seller_id", "seller_state"],
    "categories": ["product_category_name", "product_category_name_english"],
}
STATUSES = (
    "approved",
    "canceled",
    "created",
    "delivered",
    "invoiced",
    "processing",
    "shipped",
    "unavailable",
)
EVENT_COLUMNS_SQL = (
    "event_id, customer_id, event_type, ts, department, channel, ref, "
    "amount, due_at, attrs, _file, _row"
)


class OlistMapping:
    name = "olist"
    description = (
        "A directory holding the public Olist e-commerce CSVs (orders and customers "
        "required; items, payments, reviews, products, sellers optional)."
    )

    def inputs(self, path: Path) -> list[Path]:
        if not path.is_dir():
            raise MappingError(
                f"{path}: the olist mapping needs a directory holding "
                + ", ".join(FILES[r] for r in REQUIRED)
            )
        missing = [FILES[r] for r in REQUIRED if not (path / FILES[r]).is_file()]
        if missing:
            raise MappingError(f"{path}: missing {', '.join(missing)}")
        return [path / f for f in FILES.values() if (path / f).is_file()]

    def stage(self, con: duckdb.DuckDBPyConnection, path: Path, staged: str) -> Staged:
        raws = {
            role: read_file(con, path / FILES[role], f"olist_{role}")
            for role in FILES
            if (path / FILES[role]).is_file()
        }
        for role, raw in raws.items():
            missing = [c for c in NEEDED_COLUMNS[role] if c not in raw.columns]
            if missing:
                raise MappingError(f"{raw.file}: missing column(s) {', '.join(missing)}")
        problems: list[Problem] = [p for raw in raws.values() for p in raw.problems]
        for role in ("products", "sellers", "categories"):
            if role not in raws:
                con.execute(
                    f"CREATE OR REPLACE TEMP VIEW olist_{role} AS SELECT "
                    + ", ".join(f"NULL::VARCHAR AS {c}" for c in NEEDED_COLUMNS[role])
                    + ", NULL::BIGINT AS _row WHERE false"
                )
        problems += self._customers(con, raws["customers"])
        problems += self._items(con, raws.get("items"))
        problems += self._payments(con, raws.get("payments"))
        problems += self._orders(con, raws["orders"], raws["customers"].file)
        problems += self._reviews(con, raws.get("reviews"))
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _olist_events AS
            SELECT {EVENT_COLUMNS_SQL} FROM _olist_order_events
            UNION ALL SELECT {EVENT_COLUMNS_SQL} FROM _olist_review_events
        """)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _olist_nobad AS "
            "SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _row WHERE false"
        )
        finish_staging(con, "_olist_events", "_olist_nobad", staged, self.name)
        return Staged(staged, sum(r.rows for r in raws.values()), problems)

    # -- per file ---------------------------------------------------------------

    def _checked(
        self,
        con: duckdb.DuckDBPyConnection,
        raw: RawTable,
        select: str,
        checks: list[Check],
        name: str,
    ) -> list[Problem]:
        """Prepare ``name`` from ``raw`` with ``select``; keep clean rows in ``name``."""
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE {name}_all AS
            SELECT {select}, {lit(raw.file)} AS _file, r._row AS _row,
                   {record_json(raw.columns)} AS _record
            FROM {raw.name} r
        """)
        problems = split_bad_rows(con, f"{name}_all", checks, f"{name}_bad")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_all a
                        WHERE NOT EXISTS (SELECT 1 FROM {name}_bad b WHERE b._row = a._row)""")
        return problems

    def _customers(self, con: duckdb.DuckDBPyConnection, raw: RawTable) -> list[Problem]:
        return self._checked(
            con,
            raw,
            f"""
            {text("r.customer_id")} AS customer_id,
            {text("r.customer_unique_id")} AS person_id,
            {text("r.customer_zip_code_prefix")} AS zip, {text("r.customer_city")} AS city,
            upper({text("r.customer_state")}) AS state""",
            [
                Check("customer_id", "customer_id IS NULL", "'is empty (required)'"),
                Check("customer_unique_id", "person_id IS NULL", "'is empty (required)'"),
            ],
            "_olist_cust",
        )

    def _items(self, con: duckdb.DuckDBPyConnection, raw: RawTable | None) -> list[Problem]:
        problems: list[Problem] = []
        if raw is None:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _olist_items AS SELECT NULL::VARCHAR "
                "AS order_id, NULL::VARCHAR AS seller_id, NULL::VARCHAR AS category, "
                "NULL::VARCHAR AS seller_state, NULL::TIMESTAMP AS ship_by, "
                "NULL::DOUBLE AS value WHERE false"
            )
        else:
            problems = self._checked(
                con,
                raw,
                f"""
                {text("r.order_id")} AS order_id, {text("r.seller_id")} AS seller_id,
                {text("r.product_id")} AS product_id,
                {text("r.shipping_limit_date")} AS ship_by_raw,
                {ts("r.shipping_limit_date")} AS ship_by,
                {text("r.price")} AS price_raw, try_cast({text("r.price")} AS DOUBLE) AS price,
                try_cast({text("r.freight_value")} AS DOUBLE) AS freight""",
                [
                    Check("order_id", "order_id IS NULL", "'is empty (required)'"),
                    *timestamp_checks("shipping_limit_date", "ship_by_raw", "ship_by", False),
                    Check(
                        "price",
                        "price_raw IS NOT NULL AND price IS NULL",
                        "'not a number: ' || price_raw",
                        "price_raw",
                    ),
                ],
                "_olist_items_clean",
            )
            con.execute("""
                CREATE OR REPLACE TEMP TABLE _olist_items AS
                SELECT i.order_id, i.seller_id, s.seller_state,
                       coalesce(t.product_category_name_english, p.product_category_name)
                           AS category,
                       i.ship_by, coalesce(i.price, 0) + coalesce(i.freight, 0) AS value
                FROM _olist_items_clean i
                LEFT JOIN olist_products p ON p.product_id = i.product_id
                LEFT JOIN olist_categories t
                       ON t.product_category_name = p.product_category_name
                LEFT JOIN olist_sellers s ON s.seller_id = i.seller_id
            """)
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _olist_order_items AS
            SELECT order_id, min(ship_by) AS ship_by, count(*) AS n_items, sum(value) AS value,
                   list(DISTINCT seller_id ORDER BY seller_id) AS sellers,
                   list(DISTINCT seller_state ORDER BY seller_state) AS seller_states,
                   list(DISTINCT category ORDER BY category) AS categories
            FROM _olist_items GROUP BY order_id
        """)
        return problems

    def _payments(self, con: duckdb.DuckDBPyConnection, raw: RawTable | None) -> list[Problem]:
        if raw is None:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _olist_order_pay AS SELECT NULL::VARCHAR "
                "AS order_id, NULL::DOUBLE AS paid, NULL::VARCHAR[] AS types WHERE false"
            )
            return []
        problems = self._checked(
            con,
            raw,
            f"""
            {text("r.order_id")} AS order_id, {text("r.payment_type")} AS payment_type,
            {text("r.payment_value")} AS value_raw,
            try_cast({text("r.payment_value")} AS DOUBLE) AS value""",
            [
                Check("order_id", "order_id IS NULL", "'is empty (required)'"),
                Check(
                    "payment_value",
                    "value_raw IS NULL OR value IS NULL",
                    "'not a number: ' || coalesce(value_raw, '(empty)')",
                    "value_raw",
                ),
            ],
            "_olist_pay",
        )
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _olist_order_pay AS
            SELECT order_id, sum(value) AS paid,
                   list(DISTINCT payment_type ORDER BY payment_type) AS types
            FROM _olist_pay GROUP BY order_id
        """)
        return problems

    def _orders(
        self, con: duckdb.DuckDBPyConnection, raw: RawTable, customers_file: str
    ) -> list[Problem]:
        stamps = {
            "purchase": "order_purchase_timestamp",
            "approved": "order_approved_at",
            "carrier": "order_delivered_carrier_date",
            "delivered": "order_delivered_customer_date",
            "estimated": "order_estimated_delivery_date",
        }
        cols = ",\n".join(
            f"{text('r.' + c)} AS {k}_raw, {ts('r.' + c)} AS {k}" for k, c in stamps.items()
        )
        statuses = ", ".join(lit(s) for s in STATUSES)
        checks = [
            Check("order_id", "order_id IS NULL", "'is empty (required)'"),
            Check("customer_id", "customer_id IS NULL", "'is empty (required)'"),
            Check(
                "customer_id",
                "customer_id IS NOT NULL AND person_id IS NULL",
                f"'no customer with this customer_id in ' || {lit(customers_file)}",
                "customer_id",
            ),
            Check(
                "order_status",
                f"status IS NULL OR status NOT IN ({statuses})",
                f"'unknown order status ' || coalesce(status, '(empty)') || "
                f"' (expected one of: {', '.join(STATUSES)})'",
                "status",
            ),
            Check(
                "order_delivered_customer_date",
                "status = 'delivered' AND delivered_raw IS NULL",
                "'order_status is delivered but the delivery date is empty'",
            ),
        ]
        for key, column in stamps.items():
            checks += timestamp_checks(
                column, f"{key}_raw", key, required=key in ("purchase", "estimated")
            )
        problems = self._checked(
            con,
            raw,
            f"""
            {text("r.order_id")} AS order_id, {text("r.customer_id")} AS customer_id,
            lower({text("r.order_status")}) AS status,
            (SELECT c.person_id FROM _olist_cust c WHERE c.customer_id = r.customer_id LIMIT 1)
                AS person_id,
            {cols}""",
            checks,
            "_olist_orders",
        )
        self._order_events(con)
        return problems

    def _order_events(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _olist_o AS
            SELECT o.*, c.zip, c.city, c.state, i.ship_by, i.n_items, i.sellers, i.seller_states,
                   i.categories, p.paid, p.types, coalesce(p.paid, i.value) AS order_value
            FROM _olist_orders o
            JOIN _olist_cust c ON c.customer_id = o.customer_id
            LEFT JOIN _olist_order_items i USING (order_id)
            LEFT JOIN _olist_order_pay p USING (order_id)
        """)

        def event(
            kind: str,
            ts_col: str,
            dept: str,
            channel: str,
            amount: str,
            due: str,
            attrs: str,
            where: str,
        ) -> str:
            return f"""
              SELECT 'olist:' || {lit(kind)} || ':' || order_id AS event_id,
                     person_id AS customer_id, {lit(kind)} AS event_type, {ts_col} AS ts,
                     {lit(dept)} AS department, {channel} AS channel, order_id AS ref,
                     {amount} AS amount, {due} AS due_at, to_json({attrs}) AS attrs,
                     _file, _row
              FROM _olist_o WHERE {where}"""

        due = "CAST(CAST(estimated AS DATE) AS TIMESTAMP) + INTERVAL 1 DAY - INTERVAL 1 SECOND"
        placed_attrs = (
            "{'status': status, 'olist_customer_id': customer_id, "
            "'ship_by': strftime(ship_by, '%Y-%m-%dT%H:%M:%S'), 'zip': zip, "
            "'city': city, 'region': state, 'n_items': n_items, "
            "'seller_id': sellers[1], 'sellers': sellers, "
            "'seller_states': seller_states, 'categories': categories}"
        )
        canceled_ts = "greatest(purchase, approved, carrier, delivered)"
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _olist_order_events AS
            {
            event(
                "order_placed",
                "purchase",
                "sales",
                "'web'",
                "order_value",
                due,
                placed_attrs,
                "true",
            )
        }
            UNION ALL
            {
            event(
                "payment_received",
                "approved",
                "billing",
                "NULL",
                "paid",
                "NULL::TIMESTAMP",
                "{'payment_types': types}",
                "approved IS NOT NULL",
            )
        }
            UNION ALL
            {
            event(
                "order_shipped",
                "carrier",
                "fulfillment",
                "'carrier'",
                "NULL::DOUBLE",
                "NULL::TIMESTAMP",
                "{'seller_id': sellers[1], 'region': state}",
                "carrier IS NOT NULL",
            )
        }
            UNION ALL
            {
            event(
                "order_delivered",
                "delivered",
                "logistics",
                "'carrier'",
                "NULL::DOUBLE",
                "NULL::TIMESTAMP",
                "{'region': state}",
                "delivered IS NOT NULL",
            )
        }
            UNION ALL
            {
            event(
                "order_canceled",
                canceled_ts,
                "sales",
                "NULL",
                "NULL::DOUBLE",
                "NULL::TIMESTAMP",
                "{'reason': status}",
                "status IN ('canceled', 'unavailable')",
            )
        }
        """)

    def _reviews(self, con: duckdb.DuckDBPyConnection, raw: RawTable | None) -> list[Problem]:
        if raw is None:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _olist_review_events AS "
                "SELECT * FROM _olist_order_events WHERE false"
            )
            return []
        problems = self._checked(
            con,
            raw,
            f"""
            {text("r.review_id")} AS review_id, {text("r.order_id")} AS order_id,
            {text("r.review_score")} AS score_raw,
            try_cast({text("r.review_score")} AS INTEGER) AS score,
            {text("r.review_comment_title")} AS title,
            {text("r.review_comment_message")} AS comment,
            {text("r.review_creation_date")} AS created_raw, {ts("r.review_creation_date")}
                AS created,
            {text("r.review_answer_timestamp")} AS answered_raw,
            {ts("r.review_answer_timestamp")} AS answered,
            (SELECT o.person_id FROM _olist_o o WHERE o.order_id = r.order_id LIMIT 1)
                AS person_id""",
            [
                Check("review_id", "review_id IS NULL", "'is empty (required)'"),
                Check(
                    "order_id",
                    "person_id IS NULL",
                    "'no loaded order with this order_id (unknown, or its order row was "
                    "quarantined)'",
                    "order_id",
                ),
                Check(
                    "review_score",
                    "score IS NULL OR score NOT BETWEEN 1 AND 5",
                    "'expected a whole number from 1 to 5, got ' || coalesce(score_raw, '(empty)')",
                    "score_raw",
                ),
                *timestamp_checks("review_creation_date", "created_raw", "created", True),
                *timestamp_checks("review_answer_timestamp", "answered_raw", "answered", False),
            ],
            "_olist_reviews",
        )
        con.execute("""
            CREATE OR REPLACE TEMP TABLE _olist_review_events AS
            SELECT 'olist:review:' || review_id || ':' || order_id AS event_id,
                   person_id AS customer_id, 'review' AS event_type,
                   coalesce(answered, created) AS ts, 'customer' AS department,
                   'email' AS channel, order_id AS ref, NULL::DOUBLE AS amount,
                   NULL::TIMESTAMP AS due_at,
                   to_json({'score': score, 'title': title, 'text': comment,
                             'review_id': review_id, 'lang': 'pt'}) AS attrs,
                   _file, _row
            FROM _olist_reviews
        """)
        return problems
