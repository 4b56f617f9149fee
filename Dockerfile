# newsbot: the long-running bot. Build with `docker build -t newsbot .`, run with
# `docker run -p 3000:3000 -v newsbot-data:/data --env-file newsbot.env newsbot`.
FROM python:3.12-slim

# redis-server from Debian (7.x) backs the embedded default on every architecture;
# set NEWSBOT_REDIS_URL to use a Redis of your own instead.
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 newsbot \
    && mkdir /data && chown newsbot:newsbot /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-cache-dir .

USER newsbot
# The container's port is published by Docker: listen on every interface inside it.
ENV NEWSBOT_DATA_DIR=/data \
    NEWSBOT_HTTP_PORT=3000 \
    NEWSBOT_HTTP_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"
CMD ["newsbot", "run"]
