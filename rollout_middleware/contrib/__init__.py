"""Framework integrations: each module adapts configuration and user lookup to one framework."""
