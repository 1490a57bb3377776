"""The daily brief (C8): its engine-side inputs, incidents, revenue at risk, the one thing."""
