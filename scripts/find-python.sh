#!/usr/bin/env bash
# Print the path of a Python interpreter of the wanted kind, or explain what to install.
#   find-python.sh rasa   -> Python 3.10 (RASA_PYTHON, python3.10 on PATH, or pyenv's 3.10.x)
#   find-python.sh app    -> Python 3.11 or newer (APP_PYTHON, python3.13 ... python3.11, python3)
set -u
kind=${1:?usage: find-python.sh rasa|app}
ok() { "$1" -c "$2" >/dev/null 2>&1; }
if [ "$kind" = rasa ]; then
  check='import sys; sys.exit(sys.version_info[:2] != (3, 10))'
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in ${RASA_PYTHON:-} python3.10 "$root"/versions/3.10.*/bin/python3.10; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && ok "$candidate" "$check" && { command -v "$candidate"; exit 0; }
  done
  echo "Rasa 3.6 needs Python 3.10, which was not found. Install it (e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv') or set RASA_PYTHON=/path/to/python3.10." >&2
  exit 1
fi
check='import sys, venv; sys.exit(sys.version_info[:2] < (3, 11))'
for candidate in ${APP_PYTHON:-} python3.13 python3.12 python3.11 python3; do
  [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 && ok "$candidate" "$check" && { command -v "$candidate"; exit 0; }
done
echo "The application needs Python 3.11 or newer with venv. Install it (e.g. 'apt-get install python3 python3-venv') or set APP_PYTHON." >&2
exit 1
