"""Train the Rasa NLU model only when its inputs changed: the model file is named by their fingerprint.

    python -m bot.nlu_model train   # prints the model path, training first if needed
    python -m bot.nlu_model path    # prints the model path, or exits 1 if it is not trained

Inputs: everything in nlu_data/ (training data and config.yml), the normaliser the pipeline
runs, and the Rasa requirements. Standard library only.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA = Path(os.environ.get("RASA_VENV", ROOT / ".venv-rasa")) / "bin" / "rasa"
MODELS = ROOT / "models"
INPUTS = [ROOT / "nlu_data", ROOT / "requirements-rasa.txt"]
# Code a pipeline runs when its config names our normaliser component.
NORMALIZER = [ROOT / "bot" / "normalization.py", ROOT / "bot" / "rasa_normalizer.py"]


def fingerprint(config: Path) -> str:
    digest = hashlib.sha256()
    inputs = INPUTS + [config] + (NORMALIZER if "bot.rasa_normalizer" in config.read_text() else [])
    files = sorted(p for base in inputs for p in ([base] if base.is_file() else base.rglob("*")) if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path(config: Path, name: str = "nlu") -> Path:
    return MODELS / f"{name}-{fingerprint(config)}.tar.gz"


def train(config: Path, name: str = "nlu", nlu: Path = ROOT / "nlu_data") -> Path:
    target = model_path(config, name)
    if target.exists():
        print(f"NLU model up to date: {target.relative_to(ROOT)}", file=sys.stderr)
        return target
    print(f"Training the NLU model ({config.relative_to(ROOT)}) ...", file=sys.stderr)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [str(RASA), "train", "nlu", "--nlu", str(nlu), "--config", str(config), "--out", str(MODELS),
         "--fixed-model-name", target.name.removesuffix(".tar.gz")],
        check=True, cwd=ROOT, env=env,
    )
    return target


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "train"
    config = ROOT / "nlu_data" / "config.yml"
    if command == "train":
        print(train(config))
        return 0
    if command == "path":
        path = model_path(config)
        print(path)
        return 0 if path.exists() else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
