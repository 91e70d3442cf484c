"""Start the application server: `python -m bot.main` (make run starts it beside Rasa)."""

import logging
import sys

import uvicorn

from bot.errors import ConfigError, ContentError
from bot.settings import load_settings
from bot.app import create_app


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would log the Rasa token
    try:
        settings = load_settings()
        app = create_app(settings)
    except (ConfigError, ContentError) as error:
        print(f"cannot start: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=settings.bot_http_host, port=settings.bot_http_port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
