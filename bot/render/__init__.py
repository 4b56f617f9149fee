"""Renderers: pure functions from a platform-neutral digest to each platform's messages."""
