"""Container health checks (docker-compose.yml), standard library only: it also runs in the Rasa
image, on Rasa's Python 3.10, where the application's packages are not installed.

    python -m bot.healthcheck bot          # this container's application: /healthz answers 200
    python -m bot.healthcheck rasa PORT    # this container's Rasa server: /status names a loaded model

Exit 0 when healthy, 1 otherwise (with the reason on stderr). The application's port is
BOT_HTTP_PORT, the variable it listens on; Rasa's token is RASA_TOKEN, the one it was started with.
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_BOT_HTTP_PORT = "8080"  # bot/settings.py's default (tests/test_deployment.py checks it)
TIMEOUT_SECONDS = 3


def bot_healthy(url: str) -> bool:
    """The application answers `/healthz` with 200: its database is reachable (Rasa may be away:
    the application answers with the menu meanwhile, so that is no reason to restart it)."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=TIMEOUT_SECONDS) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def rasa_ready(url: str, token: str) -> bool:
    """Rasa's `/status` (which needs the token) names the model it loaded."""
    query = urllib.parse.urlencode({"token": token})
    try:
        with urllib.request.urlopen(f"{url}/status?{query}", timeout=TIMEOUT_SECONDS) as response:
            return bool(json.loads(response.read()).get("model_file"))
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main(argv: list[str]) -> int:
    if argv[1:2] == ["bot"] and len(argv) == 2:
        port = os.environ.get("BOT_HTTP_PORT", DEFAULT_BOT_HTTP_PORT)
        healthy = bot_healthy(f"http://127.0.0.1:{port}")
    elif argv[1:2] == ["rasa"] and len(argv) == 3:
        healthy = rasa_ready(f"http://127.0.0.1:{argv[2]}", os.environ.get("RASA_TOKEN", ""))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if not healthy:
        print(f"{argv[1]}: not healthy", file=sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
