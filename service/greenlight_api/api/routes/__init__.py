"""One router per concern: health, releases, events (SSE) and the dashboard."""
