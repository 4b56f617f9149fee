"""The `newsbot` command (`bot.cli.main`) and its subcommands, one module each where the
subcommand has work of its own (digest, feeds, console, summarize, check)."""
