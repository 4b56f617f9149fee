"""Bytes from outside: guarded fetching, feed and OPML parsing, article pages, local files.
The bottom layer beside `bot.store`: it imports no role, platform or CLI."""
