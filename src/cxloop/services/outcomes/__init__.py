"""Loyalty and outcomes (C7): retention, health and churn, the value of a kept
promise, which remedies worked."""
