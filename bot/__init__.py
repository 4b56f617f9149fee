"""newsbot: the running system around the handlers (settings, Redis, fetching, CLI)."""

__version__ = "0.1.0"
