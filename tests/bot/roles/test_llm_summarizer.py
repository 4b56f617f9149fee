"""The optional LLM summariser against a local OpenAI-compatible server, and its fallback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.roles.llm_summarizer import LLMSummarizer, completions_url
from bot.store.connection import RedisHandle
from handlers.article import Article
from handlers.normalize import normalize_article
from handlers.summarize import SummarizeStep
from handlers.text import split_sentences
from tests.articles import article
from tests.bot.cli.test_cli import cli_env, newsbot
from tests.conftest import make_settings
from tests.fakes.llm_server import FakeLLM

TEXT = (
    "<p>The city council approved the new transit budget on Tuesday. The budget adds forty "
    "buses and two tram lines. Critics said the council ignored cyclists.</p>"
)


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeLLM]:
    server = FakeLLM()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def step(
    tmp_path: Path, redis_url: str, handle: RedisHandle, llm_server: FakeLLM
) -> AsyncIterator[SummarizeStep]:
    settings = make_settings(
        tmp_path,
        NEWSBOT_REDIS_URL=redis_url,
        NEWSBOT_LLM_URL=llm_server.base_url,
        NEWSBOT_LLM_MODEL="test-model",
        NEWSBOT_LLM_API_KEY="sk-test-secret",
        NEWSBOT_LLM_DAILY_TOKENS="100",
    )
    async with aiohttp.ClientSession() as session:
        llm = LLMSummarizer(
            settings=settings, client=handle.client, keys=handle.keys, session=session, timeout=0.5
        )
        yield SummarizeStep(abstractive=llm)


def news(number: int = 1) -> Article:
    return normalize_article(
        article(entry_key=f"g{number}", url=f"https://example.com/{number}", description=TEXT)
    )


def test_completions_url() -> None:
    assert completions_url("http://h/v1/") == "http://h/v1/chat/completions"
    assert completions_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


async def test_llm_summary_is_used_cached_and_counted(
    step: SummarizeStep, llm_server: FakeLLM, handle: RedisHandle
) -> None:
    [done] = await step.run([news()])
    assert (done.summary, done.summary_method) == (llm_server.answer, "llm:test-model")
    headers, body = llm_server.requests[0]
    assert headers["Authorization"] == "Bearer sk-test-secret"
    assert body["model"] == "test-model" and "forty buses" in body["messages"][1]["content"]
    [again] = await step.run([news()])
    assert again.summary == llm_server.answer and len(llm_server.requests) == 1, "cached"
    [day_key] = [k async for k in handle.client.scan_iter(match=handle.keys.llm_tokens("*"))]
    assert await handle.client.get(day_key) == "42"


@pytest.mark.parametrize("mode", ["slow", "error", "garbage"])
async def test_failures_fall_back_to_extractive(
    step: SummarizeStep, llm_server: FakeLLM, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    llm_server.mode = mode
    [done] = await step.run([news()])
    assert done.summary_method == "extractive"
    assert done.summary.startswith("The city council approved")
    assert "LLM summary failed" in caplog.text and "sk-test-secret" not in caplog.text


async def test_answers_are_held_to_the_budget(step: SummarizeStep, llm_server: FakeLLM) -> None:
    llm_server.mode = "long"
    [done] = await step.run([news()])
    assert done.summary_method == "llm:test-model"
    assert len(split_sentences(done.summary)) == 3 and len(done.summary) <= 600


async def test_daily_token_budget_stops_requests(step: SummarizeStep, llm_server: FakeLLM) -> None:
    llm_server.tokens = 150
    first, second = await step.run([news(1), news(2)])
    methods = sorted([first.summary_method, second.summary_method])
    assert methods == ["extractive", "llm:test-model"] and len(llm_server.requests) == 1


async def test_summarize_command_says_which_method(tmp_path: Path, llm_server: FakeLLM) -> None:
    page = tmp_path / "article.txt"
    page.write_text("Budget approved\n" + TEXT.replace("<p>", "").replace("</p>", ""))
    env = cli_env(tmp_path, NEWSBOT_LLM_URL=llm_server.base_url, NEWSBOT_LLM_MODEL="test-model")
    code, out, err = await newsbot("summarize", str(page), "--format", "json", env=env)
    assert code == 0, err
    assert json.loads(out)["method"] == "llm:test-model"
    llm_server.mode = "error"
    page.write_text("Another story\n" + TEXT.replace("<p>", "").replace("</p>", "") + " More.")
    code, out, err = await newsbot("summarize", str(page), "--format", "json", env=env)
    assert code == 0 and json.loads(out)["method"] == "extractive"
