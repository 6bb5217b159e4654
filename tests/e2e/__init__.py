"""End-to-end tests against a real cluster (kind); opt-in with `make e2e`."""
