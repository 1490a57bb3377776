"""The voice of the customer and the employee (C5): scores, sentiment, topics,
emerging issues, drivers, compare."""
