"""The platform-neutral `/news` command core that every chat platform calls, and what it uses
(summarising one article). It answers with plain replies; adapters render them."""
