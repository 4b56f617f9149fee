"""The Discord adapter: `/news` app commands through the gateway, posting through REST."""
