"""Chat platform adapters: they turn outbox messages into posts, and commands into replies."""
