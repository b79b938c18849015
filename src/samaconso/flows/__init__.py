"""Flows that span several domains and so sit above them (called by routers and tasks).

A domain may call another only through its service, and never both ways; when a story needs two
domains that cannot see each other, it lives here.
"""
