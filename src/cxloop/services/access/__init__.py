"""Who may do what: roles, API keys and sessions, who acts from the command line,
masking of personal data."""
