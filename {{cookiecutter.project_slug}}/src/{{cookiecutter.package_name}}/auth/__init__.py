"""Credentials: the bearer-token check the write routes make (tokens.py), from API_TOKENS."""
