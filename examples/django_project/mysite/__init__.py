"""A minimal Django site that serves Rollout tokens to its logged-in users."""
