"""Accounts, OTP, login, tokens, sessions/devices, roles, agencies."""
