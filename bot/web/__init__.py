"""The managers' web page, served by the bot's own HTTP server under /ui/."""
