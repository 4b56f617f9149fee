"""Exit statuses every `newsbot` subcommand shares (docs/contracts.md: 0, 1, 2)."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_TERMINATED = 143  # stopped by SIGTERM, cleanly
