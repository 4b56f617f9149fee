"""The long-running roles of `newsbot run` and what they run: the poller, the pipeline and its
workers, routing, the digest scheduler, the outbox, feed-health notices, config apply and the
LLM summariser. They work on `bot.store` and `bot.net`, and know no chat platform."""
