"""The agency console: staff routes under /api/v1 and the static web console served at /console."""
