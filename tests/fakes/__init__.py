"""Local stand-ins that speak real protocols: a feed server, a Redis server."""
