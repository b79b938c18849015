"""Outages (délestages, coupures): declared by staff for one or more agencies, followed by customers."""
