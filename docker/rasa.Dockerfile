# The Rasa NLU server with the project's normaliser component (bot/rasa_normalizer.py, the first
# step of nlu_data/config.yml's pipeline), the model trained from nlu_data/ at build time by the
# same command `make run` uses (python -m bot.nlu_model train), served from /app/models.
# Built by docker-compose.yml (context: the repository); not built on the development machine.
FROM rasa/rasa:3.6.21

USER root
WORKDIR /app
# Rasa is installed in /opt/venv (bot/nlu_model.py finds its `rasa` there); `bot.*` on the path.
ENV RASA_VENV=/opt/venv \
    PYTHONPATH=/app \
    RASA_TELEMETRY_ENABLED=false

COPY requirements-rasa.txt ./
COPY bot/__init__.py bot/normalization.py bot/rasa_normalizer.py bot/nlu_model.py bot/healthcheck.py bot/
COPY nlu_data/ nlu_data/
RUN python -m bot.nlu_model train \
    && chgrp -R 0 /app && chmod -R g=u /app

# The base image's user; the command (docker-compose.yml) adds the token and the address.
USER 1001
EXPOSE 5005
CMD ["run", "--enable-api", "--model", "/app/models"]
