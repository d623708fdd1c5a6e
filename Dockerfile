# Shardline workers (pipeline, delivery, producer) for docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so source edits do not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install --no-deps . \
    && useradd --system --create-home --home-dir /var/lib/shardline shardline \
    && mkdir -p /var/cache/shardline \
    && chown shardline /var/cache/shardline

USER shardline
# Run from /app so `shardline run examples/applications/ticker_stats` and
# /app/examples/deliveries/*.yaml resolve inside the image (examples/ is not installed).
CMD ["shardline", "--help"]
