"""Incidents (systemic failures, C4): detection, the cohort, notices and outreach."""
