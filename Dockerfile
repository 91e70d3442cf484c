# The bot: `python -m bot.main`, the entry point `make run` (bot/run.py) starts. It migrates the
# database at start-up, once even when several replicas start together (bot/storage.py: migrate).
# Built by docker-compose.yml; not built on the development machine (no Docker engine there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY alembic.ini babel.cfg ./
COPY migrations/ migrations/
COPY content/ content/
COPY locales/ locales/
COPY actions/ actions/
COPY bot/ bot/
# The gettext catalogs, compiled as `make i18n-compile` does.
RUN pybabel compile -d locales --use-fuzzy

# Not root. var/ is where the application would keep a generated WEB_SECRET_FILE (compose sets
# WEB_SECRET instead: every replica must sign cookies with the same key).
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir var && chown bot var
USER bot

ENV BOT_HTTP_HOST=0.0.0.0 \
    BOT_HTTP_PORT=8080
EXPOSE 8080
CMD ["python", "-m", "bot.main"]
