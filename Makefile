# Two commands for a fresh machine: `make run` (the bot) and `make test` (the tests).
# Every target does the set-up it needs, and skips what is already done.
SHELL := /bin/bash
APP := .venv/bin/python
RASA_VENV := .venv-rasa

.PHONY: run test eval bench staff-user setup model i18n-extract i18n-update i18n-compile typecheck clean \
	content-check content-stamp content-reviewed id-key rotate-id-keys

run: setup
	$(APP) -m bot.run

test: setup
	.venv/bin/mypy bot actions
	$(APP) -m bot.content_check
	$(APP) -m pytest

# KI staff: check content/ after an edit (file, line and a fix in German; exit 1 on errors).
content-check: .venv/.installed i18n-compile
	$(APP) -m bot.content_check

# Record which German text the translations were made from (where it is not recorded yet).
content-stamp: .venv/.installed
	$(APP) -m bot.content_check stamp

# A translation checked again: make content-reviewed TOPIC=cafeo.hours LANGUAGE=ar
content-reviewed: .venv/.installed
	$(APP) -m bot.content_check reviewed "$(TOPIC)" "$(LANGUAGE)"

eval: setup
	$(APP) -m bot.evaluate $(ARGS)

# Rasa alone, POST /api/chat and the Telegram and WhatsApp webhooks (fake platforms) at 1, 8, 32 and 128 users
# (needs wrk; see BENCHMARKS.md). A quick look: make bench ARGS="--duration 2 --users 8 --targets chat".
bench: setup
	$(APP) scripts/bench.py $(ARGS)

# A staff console account: make staff-user NAME=amira ROLE=case_manager LANGS=de,ar (password on stdin).
staff-user: .venv/.installed i18n-compile
	$(APP) -m bot.staff_user "$(NAME)" "$(ROLE)" "$(LANGS)"

# A new key for ID_KEYS or ID_HASH_KEY; and re-encrypt every stored channel id under the first key of
# ID_KEYS (and recompute every reference when ID_HASH_KEY_PREVIOUS is set): README, "Keys for channel ids".
id-key: .venv/.installed
	@$(APP) -m bot.channel_ids new-key

rotate-id-keys: .venv/.installed
	$(APP) -m bot.channel_ids rotate

setup: .venv/.installed $(RASA_VENV)/.installed i18n-compile model

.venv/.installed: requirements.txt requirements-dev.txt
	@python=$$(scripts/find-python.sh app) && $$python -m venv .venv
	$(APP) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(RASA_VENV)/.installed: requirements-rasa.txt
	@python=$$(scripts/find-python.sh rasa) && $$python -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-rasa.txt
	@touch $@

# Trains only when nlu_data/ or the normaliser changed (the model is named by their fingerprint).
model: .venv/.installed $(RASA_VENV)/.installed
	@$(APP) -m bot.nlu_model train >/dev/null

i18n-extract: .venv/.installed
	.venv/bin/pybabel extract -F babel.cfg -k _ --no-location --omit-header -o locales/messages.pot .

i18n-update: i18n-extract
	.venv/bin/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching

i18n-compile: .venv/.installed
	@.venv/bin/pybabel compile -d locales --use-fuzzy >/dev/null

typecheck: .venv/.installed
	.venv/bin/mypy bot actions

clean:
	rm -rf .venv $(RASA_VENV) models var
