"""Catalog and message templates for the Northwind Home demo company.

Templates use ``{product}``, ``{order}``, ``{part}``, ``{days}`` and ``{amount}``
placeholders. They must stay JSON-safe: no double quotes, backslashes or newlines.
"""

from __future__ import annotations

#: (product name, sku, lowest unit price in cents, highest, share of orders)
CATALOG: tuple[tuple[str, str, int, int, float], ...] = (
    ("Ashford Oak Bed Frame", "NW-BF-4410", 38900, 52900, 0.07),
    ("Linen Duvet Cover Set", "NW-LN-1203", 8900, 14900, 0.10),
    ("Cast Iron Skillet 12in", "NW-KT-0831", 3900, 5900, 0.08),
    ("Walnut Bookshelf", "NW-BK-2207", 17900, 25900, 0.05),
    ("Ceramic Table Lamp", "NW-LT-0612", 5900, 8900, 0.07),
    ("Wool Area Rug 5x8", "NW-RG-3301", 19900, 34900, 0.05),
    ("Stoneware Dinner Set", "NW-KT-0940", 7900, 12900, 0.08),
    ("Velvet Accent Chair", "NW-CH-5120", 24900, 39900, 0.05),
    ("Bamboo Bath Towels 4-pack", "NW-BA-0405", 3900, 5900, 0.09),
    ("Glass Storage Jars 6-pack", "NW-KT-0777", 2900, 4500, 0.08),
    ("Standing Desk Frame", "NW-DK-6010", 29900, 44900, 0.04),
    ("Blackout Curtains", "NW-WD-1515", 4900, 7900, 0.07),
    ("Memory Foam Pillows 2-pack", "NW-BD-0220", 4900, 6900, 0.08),
    ("Outdoor Bistro Set", "NW-OD-7002", 27900, 39900, 0.04),
    ("Cordless Stick Vacuum", "NW-AP-9001", 14900, 22900, 0.05),
)

#: Parts that can be missing from the Ashford bed frame batch.
PARTS: tuple[str, ...] = ("hardware kit", "center support leg", "side rail bolts", "slat pack")

#: Support topics; ``CONTACT_TEXTS[i]`` belongs to ``TOPICS[i]``.
TOPICS: tuple[str, ...] = (
    "late_delivery", "missing_parts", "billing_error", "follow_up", "product_question",
    "damaged_item", "order_status", "return_request", "account_change",
)
CONTACT_TEXTS: tuple[tuple[str, ...], ...] = (
    (  # late_delivery
        "Hi, my order {order} was supposed to arrive by now and tracking has not moved. "
        "Where is it?",
        "Still waiting on the {product} from order {order}. It was promised days ago. What is "
        "going on?",
        "The delivery date for {order} has passed and nobody told me anything. Please sort this.",
        "Order {order} is late. The carrier says delayed but gives no new date.",
        "I took a day off to receive my {product} and it never came. Order {order}.",
        "Is order {order} lost? It is past the promised date and I have heard nothing.",
    ),
    (  # missing_parts
        "My {product} arrived without the {part}. I cannot assemble it. Order {order}.",
        "The box for order {order} is missing the {part}. How fast can you send it?",
        "Opened the {product} today and the {part} is not in the package. Very disappointing.",
        "Half built bed frame in my bedroom because the {part} is missing. Please send it quickly.",
        "Order {order}: the {part} is missing from the {product}. Do I really have to buy it "
        "separately?",
    ),
    (  # billing_error
        "My invoice for order {order} is higher than what I paid at checkout. Please explain.",
        "I was invoiced {amount} for order {order} but the order total was lower. Billing error?",
        "Why is my invoice about 35 percent more than the price on the website? Order {order}.",
        "The invoice for the {product} does not match my order. Please correct it.",
    ),
    (  # follow_up
        "Second time I am writing about this. Nobody called me back as promised.",
        "I was told someone would call me yesterday. No call. Order {order}.",
        "Still no answer to my earlier message about order {order}. Is anyone reading these?",
        "Following up again. I have now contacted you several times about the same problem.",
    ),
    (  # product_question
        "Does the {product} come assembled, or do I need tools?",
        "What are the dimensions of the {product}? I want to check it fits before it arrives.",
        "Can the {product} go in the washing machine?",
        "Is there a matching set for the {product} I ordered in {order}?",
    ),
    (  # damaged_item
        "The {product} arrived with a crack. Order {order}. What are my options?",
        "The box was crushed and the {product} inside is damaged.",
        "Received order {order} today, the {product} is scratched on one side.",
    ),
    (  # order_status
        "Can you confirm when order {order} will ship?",
        "Hi, just checking on the status of my {product} order.",
        "Could I change the delivery address for order {order}?",
    ),
    (  # return_request
        "I would like to return the {product} from order {order}. It does not fit the room.",
        "How do I return an item? The {product} is not what I expected.",
    ),
    (  # account_change
        "Please update the email address on my account.",
        "I cannot log in to my account to see my orders.",
    ),
)

#: Issues that drive survey and review text, in the order the generator scores them.
ISSUES: tuple[str, ...] = ("late", "slow", "missing_parts", "billing", "refund", "callback",
                           "support")

POSITIVE: tuple[str, ...] = (
    "Arrived quickly and exactly as described. Very happy.",
    "Great quality {product}, and delivery was faster than expected.",
    "Smooth from order to delivery. Will buy again.",
    "Love the {product}. Careful packaging and it came early.",
    "Easy order, friendly service, no surprises.",
)
NEUTRAL: tuple[str, ...] = (
    "The {product} is fine. Delivery took a bit longer than usual.",
    "Decent {product}, nothing special.",
    "OK overall, but the delivery window could be better.",
    "Good product, took a while to arrive.",
)
#: Negative texts per issue (same order as ISSUES), then a generic fallback.
NEGATIVE: tuple[tuple[str, ...], ...] = (
    (
        "Delivery was {days} days late and nobody told me.",
        "The promised date came and went. I had to chase them for updates.",
        "The {product} arrived well after the promised date. Not ordering again.",
    ),
    (
        "My orders usually come the next day, this one took {days} days.",
        "Slower than I am used to from Northwind. The {product} took {days} days.",
    ),
    (
        "The {product} came without the {part} and the replacement took forever.",
        "Missing parts, a long phone call, and I am still waiting for the {part}.",
        "Could not assemble the {product} for weeks because of a missing {part}.",
    ),
    (
        "I was overcharged on my invoice and had to call to get it fixed.",
        "The invoice did not match my order and nobody warned me.",
    ),
    (
        "Returned the {product} weeks ago and still no refund.",
        "The refund took far longer than the five days they promised.",
    ),
    (
        "They promised to call me back and never did.",
        "Waited all day for a callback that never came.",
    ),
    (
        "Emailed support twice and got no answer.",
        "Transferred around and put on hold for ages. Exhausting.",
    ),
    (
        "Disappointed with the whole experience.",
        "Not what I expect from Northwind Home.",
    ),
)
