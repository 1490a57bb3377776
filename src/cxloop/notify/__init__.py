"""Notification channels (adapters): e-mail over SMTP and webhooks."""
