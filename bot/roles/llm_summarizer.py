"""The optional LLM summariser: any OpenAI-compatible chat completions API.

Set NEWSBOT_LLM_URL (the API base, e.g. ``http://localhost:11434/v1``), NEWSBOT_LLM_MODEL
and, if the server wants one, NEWSBOT_LLM_API_KEY. Summaries are cached in Redis by
article and model, each request times out, and a daily token budget
(NEWSBOT_LLM_DAILY_TOKENS) caps spending. The answer is held to the same budget of
sentences and characters as the extractive summary. Any failure raises `LLMError`, and the
summarize step then falls back to the extractive summary.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import NewsbotError
from bot.settings import Settings
from bot.store.keys import Keys
from handlers.article import Article, short_hash
from handlers.summarize import Budget, fit_budget

log = logging.getLogger(__name__)

TIMEOUT = 30.0
MAX_INPUT_CHARS = 8000
_SYSTEM = (
    "You summarise news articles for a chat digest. Reply with plain text only: no "
    "preamble, no markdown, no bullet points. Use at most {sentences} sentences and "
    "{chars} characters. Keep names, places and numbers exact. Write in the article's language."
)


class LLMError(NewsbotError):
    """The LLM summary could not be had; the message says why in one line."""


def completions_url(base: str) -> str:
    base = base.rstrip("/")
    return base if base.endswith("/chat/completions") else f"{base}/chat/completions"


class LLMSummarizer:
    """Summaries from a chat completions API, cached and budgeted in Redis."""

    def __init__(
        self,
        *,
        settings: Settings,
        client: Redis,
        keys: Keys,
        session: aiohttp.ClientSession,
        clock: Callable[[], float] = time.time,
        timeout: float = TIMEOUT,
    ) -> None:
        if not settings.llm_url or not settings.llm_model:
            raise ValueError("NEWSBOT_LLM_URL and NEWSBOT_LLM_MODEL are both needed")
        self.model = settings.llm_model
        self.method = f"llm:{self.model}"
        self._url = completions_url(settings.llm_url)
        self._api_key = settings.llm_api_key
        self._daily_tokens = settings.llm_daily_tokens
        self._ttl = settings.retention_seconds
        self._client = client
        self._keys = keys
        self._session = session
        self._clock = clock
        self._timeout = timeout

    def _day_key(self) -> str:
        return self._keys.llm_tokens(datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%d"))

    async def summarize(self, article: Article, budget: Budget) -> str:
        """The LLM's summary of `article` within `budget`, from cache when it has one."""
        cache_key = self._keys.llm_summary(short_hash(self.model)[:8], article.id)
        try:
            cached = await self._client.get(cache_key)
            if cached:
                return fit_budget(str(cached), budget, article.language)
        except RedisError as exc:
            raise LLMError(f"cache unavailable: {exc}") from exc
        text = (
            article.content
            if len(article.content) > len(article.description)
            else (article.description)
        )
        if not text.strip():
            raise LLMError("no text to summarise")
        text = text[:MAX_INPUT_CHARS]
        # Requests run concurrently: each reserves what it may spend before it starts, so
        # two cannot both see the day's budget unspent; the answer's count then replaces it.
        reserved = len(text) // 4 + _max_tokens(budget)
        day = self._day_key()
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.incrby(day, reserved)
                pipe.expire(day, 2 * 86400)
                spent, _ = await pipe.execute()
            if int(spent) - reserved >= self._daily_tokens:
                await self._client.decrby(day, reserved)
                raise LLMError(f"daily token budget of {self._daily_tokens} used up")
        except RedisError as exc:
            raise LLMError(f"cache unavailable: {exc}") from exc
        try:
            reply = await self._complete(article.title, text, budget)
        except LLMError:
            await self._client.decrby(day, reserved)
            raise
        summary = fit_budget(" ".join(reply["content"].split()), budget, article.language)
        async with self._client.pipeline(transaction=False) as pipe:
            if summary:
                pipe.set(cache_key, summary, ex=self._ttl)
            pipe.incrby(day, reply["tokens"] - reserved)
            await pipe.execute()
        if not summary:
            raise LLMError("empty answer")
        return summary

    async def _complete(self, title: str, text: str, budget: Budget) -> dict[str, Any]:
        body = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": _max_tokens(budget),
            "messages": [
                {
                    "role": "system",
                    "content": _SYSTEM.format(sentences=budget.sentences, chars=budget.chars),
                },
                {"role": "user", "content": f"{title}\n\n{text}"},
            ],
        }
        headers = {"Content-Type": "application/json"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.reveal()}"
        try:
            async with self._session.post(
                self._url,
                data=json.dumps(body),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                if response.status != 200:
                    raise LLMError(f"HTTP {response.status} from the LLM API")
                answer = await response.json(content_type=None)
        except TimeoutError as exc:
            raise LLMError(f"no answer within {self._timeout:g} s") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise LLMError(f"LLM API unreachable or unreadable: {type(exc).__name__}") from exc
        try:
            content = str(answer["choices"][0]["message"]["content"])
            usage = answer.get("usage") or {}
            tokens = int(usage.get("total_tokens") or len(text) // 4 + len(content) // 4)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise LLMError("unexpected answer shape from the LLM API") from exc
        return {"content": content, "tokens": tokens}


def _max_tokens(budget: Budget) -> int:
    """The most tokens an answer may take: about two characters a token, with room."""
    return max(64, budget.chars // 2)
