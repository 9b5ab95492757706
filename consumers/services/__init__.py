"""Business services: each takes a validated message and returns the reply that stands."""
