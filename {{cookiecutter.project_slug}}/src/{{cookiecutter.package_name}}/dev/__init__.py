"""Stand-ins for what a deployed service is given, for development and tests: the embedded
PostgreSQL, the upstream stub, a server in a thread. Never what the service itself runs on."""
