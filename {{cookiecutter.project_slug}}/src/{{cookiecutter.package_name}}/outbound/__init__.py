"""Outbound HTTP: the one shared client, and a call to an upstream with every wait bounded."""
