"""Recovery at the right level (C3): cases, the empowerment policy and its limits,
grants and approvals, the advice a role sees, how recovery is going."""
