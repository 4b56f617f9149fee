"""The Slack adapter: deliveries to Slack channels (chat.postMessage) and, in time, `/news`
over Socket Mode and HTTP with slack-bolt. It imports no other platform's adapter."""
