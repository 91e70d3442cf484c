"""One module per thing the bot does for an intent. Actions are pure: they collect replies and
state changes into an ActionResult; the dialogue (bot/dialogue.py) does the I/O."""
