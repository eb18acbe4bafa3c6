"""Retrieval benchmark: quality per query type and latency, for lexical-only, vector-only and fused search.

Usage (from the checkout; builds the index on first use):

    .venv/bin/python bench/retrieval.py                 # dev + held-out sets, real multilingual-e5, all three modes
    .venv/bin/python bench/retrieval.py --embedder minilm # the English-only MiniLM instead
    .venv/bin/python bench/retrieval.py --embedder hash # model-free run
    .venv/bin/python bench/retrieval.py --rebuild       # time a full index build first
    .venv/bin/python bench/retrieval.py --tune          # dev set only: grid over fusion/abstention knobs
    .venv/bin/python bench/retrieval.py --embed-text    # vector-only quality for joint/question/separate

Sets: devset (tuned on), heldout and heldout2 (never tuned on; heldout2 was written before the
second round of changes), heldout3 (written blind at the end of the e5 round and run once then). Labels in bench/data/*.jsonl name Q&As by session date + a substring of
the question (or answer), and note chunks by file-name prefix + a substring ({"note": "001",
"text": "overlays"}), not by id: ids are content hashes and move whenever the encoding repair
improves. Each label is resolved against the built index at start; a label that resolves to
nothing stops the run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.build import build_index  # noqa: E402
from retrieval.config import RetrievalSettings  # noqa: E402
from retrieval.embed_cache import EmbeddingCache  # noqa: E402
from retrieval.lexical import normalize  # noqa: E402
from retrieval.search import Searcher  # noqa: E402

DATA = ROOT / "bench" / "data"
TYPES = ("zh_paraphrase", "keyword", "english", "in_answer", "note", "unanswerable")
MODES = ("lexical", "vector", "fused")
TARGETS = {"R@5": 0.95, "R@1": 0.80, "MRR@10": 0.85, "english R@5": 0.85, "abstain": 0.90, "answer": 0.95}


@dataclass
class Query:
    id: str
    type: str
    text: str
    labels: list[dict[str, str]]
    relevant: set[str] = field(default_factory=set)


def _squash(text: str) -> str:
    return "".join(normalize(text).split())


def load_set(name: str) -> list[Query]:
    path = DATA / f"{name}.jsonl"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            out.append(Query(d["id"], d["type"], d["query"], d["relevant"]))
    return out


def resolve(queries: list[Query], searcher: Searcher) -> None:
    """Turn date + substring labels into entry ids; exit loudly when one matches nothing."""
    by_date: dict[str, list[Any]] = defaultdict(list)
    for e in searcher.index.entries:
        by_date[e.date].append(e)
    missing = []
    notes = [e for e in searcher.index.entries if e.kind == "doc"]
    for q in queries:
        for label in q.labels:
            if "note" in label:  # a note chunk: file-name prefix + a substring of its headings or text
                text = _squash(label["text"])
                hits = [e.id for e in notes if e.source.startswith(label["note"]) and text in _squash(e.title + e.answer)]
                if not hits:
                    missing.append(f"{q.id}: {label}")
                q.relevant.update(hits)
                continue
            qs, ans = _squash(label.get("q", "")), _squash(label.get("a", ""))
            found = [
                e.id
                for e in by_date.get(label["date"], [])
                if (not qs or qs in _squash(e.question) or qs in _squash(e.question + e.answer))
                and (not ans or ans in _squash(e.answer))
            ]
            if not found:
                missing.append(f"{q.id}: {label}")
            q.relevant.update(found)
    if missing:
        sys.exit("labels that match no indexed Q&A (fix bench/data or the corpus):\n  " + "\n  ".join(missing))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def evaluate(searcher: Searcher, queries: list[Query], mode: str) -> dict[str, Any]:
    rows = []
    for q in queries:
        t0, c0 = time.perf_counter(), time.process_time()
        ex = searcher.explain(q.text, top_k=10, mode=mode)
        ms = (time.perf_counter() - t0) * 1000
        cpu_ms = (time.process_time() - c0) * 1000
        rank = None
        for h in ex.result.hits:
            if h.qa_id in q.relevant or q.relevant.intersection(h.folded):
                rank = h.rank
                break
        top = ex.candidates[0] if ex.candidates else None
        rows.append(
            {
                "q": q, "rank": rank, "answered": ex.result.answered, "ms": ms, "cpu_ms": cpu_ms,
                "coverage": ex.coverage,
                "vsim": top.vector_sim if top else 0.0, "vrank": top.vector_rank if top else None,
            }
        )
    return {"rows": rows}


def summarize(rows: list[dict[str, Any]]) -> dict[str, float]:
    ans = [r for r in rows if r["q"].type != "unanswerable"]
    una = [r for r in rows if r["q"].type == "unanswerable"]
    out: dict[str, float] = {"n": len(rows)}
    if ans:
        out["R@1"] = sum(r["rank"] == 1 for r in ans) / len(ans)
        out["R@5"] = sum(r["rank"] is not None and r["rank"] <= 5 for r in ans) / len(ans)
        out["MRR@10"] = sum(1 / r["rank"] for r in ans if r["rank"] is not None) / len(ans)
        out["answered"] = sum(r["answered"] for r in ans) / len(ans)
    if una:
        out["abstained"] = sum(not r["answered"] for r in una) / len(una)
    return out


def report(name: str, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    print(f"\n=== {name} ===")
    load = os.getloadavg()[0]
    print(f"(latency: wall-clock p50/p99, and CPU time p50 of this process; 1-min load average {load:.1f} on "
          f"{os.cpu_count()} cores — other work on the machine inflates wall-clock numbers)")
    print(f"{'mode':8} {'type':14} {'n':>4} {'R@1':>6} {'R@5':>6} {'MRR@10':>7} {'abst.acc':>9} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'cpu p50':>7}")
    summary: dict[str, Any] = {}
    for mode, res in results.items():
        rows = res["rows"]
        for t in (*TYPES, "all answerable", "ALL"):
            if t == "ALL":
                sel = rows
            elif t == "all answerable":
                sel = [r for r in rows if r["q"].type != "unanswerable"]
            else:
                sel = [r for r in rows if r["q"].type == t]
            if not sel:
                continue
            s = summarize(sel)
            # abstention accuracy: abstained on unanswerable, answered on answerable
            acc = s.get("abstained") if t == "unanswerable" else s.get("answered")
            if t == "ALL":
                acc = sum((not r["answered"]) == (r["q"].type == "unanswerable") for r in sel) / len(sel)
            lat = [r["ms"] for r in sel]
            cpu = [r["cpu_ms"] for r in sel]
            fmt = lambda v: f"{v:6.3f}" if isinstance(v, float) else "     -"  # noqa: E731
            print(
                f"{mode:8} {t:14} {len(sel):4d} {fmt(s.get('R@1'))} {fmt(s.get('R@5'))} {fmt(s.get('MRR@10')):>7} "
                f"{fmt(acc):>9} {pct(lat, 50):7.2f} {pct(lat, 99):7.2f} {pct(cpu, 50):7.2f}"
            )
            summary[f"{mode}/{t}"] = {**s, "abstention_accuracy": acc, "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99),
                                      "cpu_p50_ms": pct(cpu, 50)}
    fused = summary.get("fused/all answerable", {})
    checks = [
        ("Recall@5", fused.get("R@5", 0), TARGETS["R@5"]),
        ("Recall@1", fused.get("R@1", 0), TARGETS["R@1"]),
        ("MRR@10", fused.get("MRR@10", 0), TARGETS["MRR@10"]),
        ("English Recall@5", summary.get("fused/english", {}).get("R@5", 0), TARGETS["english R@5"]),
        ("unanswerable abstained", summary.get("fused/unanswerable", {}).get("abstained", 0), TARGETS["abstain"]),
        ("answerable answered", fused.get("answered", 0), TARGETS["answer"]),
        ("warm p50 ms (≤)", summary.get("fused/ALL", {}).get("p50_ms", 1e9), 10.0),
        ("warm p99 ms (≤)", summary.get("fused/ALL", {}).get("p99_ms", 1e9), 30.0),
        ("warm CPU p50 ms (≤)", summary.get("fused/ALL", {}).get("cpu_p50_ms", 1e9), 10.0),
    ]
    print(f"--- targets ({name}, fused) ---")
    for label, value, target in checks:
        ok = value <= target if "(≤)" in label else value >= target
        print(f"  {label:24} {value:7.3f}  target {target:6.2f}  {'PASS' if ok else 'FAIL'}")
    return summary


def misses(name: str, rows: list[dict[str, Any]], limit: int = 40) -> None:
    print(f"\n--- misses ({name}) ---")
    shown = 0
    for r in rows:
        q = r["q"]
        bad = (q.type == "unanswerable" and r["answered"]) or (
            q.type != "unanswerable" and (r["rank"] != 1 or not r["answered"])
        )
        if bad and shown < limit:
            shown += 1
            print(f"  {q.id} {q.type:13} rank={r['rank']} ans={r['answered']} cov={r['coverage']:.2f} "
                  f"vsim={r['vsim']:.2f} | {q.text}")


def tune(searcher: Searcher, queries: list[Query]) -> None:
    """Grid over fusion weights, then abstention thresholds, on the dev set only."""
    st = searcher.settings
    best: tuple[float, dict[str, float]] | None = None
    print("\n--- fusion grid (dev) ---")
    grid = [("rrf", k, vw) for k in (5.0, 10.0, 20.0, 60.0) for vw in (0.0, 0.2, 0.35, 0.5, 0.7, 1.0, 1.4)]
    grid += [("score", 10.0, vw) for vw in (0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)]
    for method, rrf_k, vw in grid:
        searcher.settings = st.model_copy(update={"fusion_method": method, "rrf_k": rrf_k, "vector_weight": vw})
        s = summarize(evaluate(searcher, queries, "fused")["rows"])
        eng = summarize([r for r in evaluate(searcher, [q for q in queries if q.type == "english"], "fused")["rows"]])
        obj = s["MRR@10"] + 0.5 * s["R@5"] + 0.25 * eng["R@5"]
        print(f"  {method:5} rrf_k={rrf_k:5.1f} vw={vw:4.2f}  R@1={s['R@1']:.3f} R@5={s['R@5']:.3f} "
              f"MRR={s['MRR@10']:.3f} en.R@5={eng['R@5']:.3f}")
        if best is None or obj > best[0]:
            best = (obj, {"fusion_method": method, "rrf_k": rrf_k, "vector_weight": vw})
    assert best is not None
    print(f"  best: {best[1]}")
    searcher.settings = st.model_copy(update=best[1])
    searcher.settings = st


def fit_abstention(searcher: Searcher, queries: list[Query]) -> None:
    """Fit the logistic answer/abstain model on the dev set; print weights to put in retrieval/config.py."""
    import numpy as np

    from retrieval.fuse import FEATURES

    feats, labels = [], []
    for q in queries:
        ex = searcher.explain(q.text, top_k=10)
        if ex.evidence is None or not ex.candidates:
            continue  # refused queries (emoji, empty) never reach the model
        f = ex.evidence.features()
        feats.append([f[k] for k in FEATURES])
        labels.append(1.0 if q.type != "unanswerable" else 0.0)
    x, y = np.asarray(feats), np.asarray(labels)
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    # Class-balanced weights (there are ~5 answerable queries per unanswerable one), and an L2
    # penalty chosen by 5-fold cross-validation on the dev set: the classes are nearly separable
    # on dev, and an unpenalised fit grows huge weights that do not carry over to new questions.
    sample_w = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))

    def train(zz: np.ndarray, yy: np.ndarray, ww: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
        w, b = np.zeros(zz.shape[1]), 0.0
        for _ in range(3000):
            p = 1 / (1 + np.exp(-(zz @ w + b)))
            g = ww * (p - yy)
            w -= 0.5 * (zz.T @ g / len(yy) + lam * w / len(yy))
            b -= 0.5 * float(g.mean())
        return w, b

    folds = np.random.default_rng(0).permutation(len(y)) % 5
    oof_by_lam: dict[float, np.ndarray] = {}
    losses: dict[float, np.ndarray] = {}
    for lam in (0.05, 0.5, 2.0, 5.0, 10.0, 20.0):
        fold_loss = np.zeros(5)
        oof = np.zeros(len(y))
        for k in range(5):
            tr, te = folds != k, folds == k
            wk, bk = train(z[tr], y[tr], sample_w[tr], lam)
            pk = np.clip(1 / (1 + np.exp(-(z[te] @ wk + bk))), 1e-6, 1 - 1e-6)
            oof[te] = pk
            fold_loss[k] = float(-(sample_w[te] * (y[te] * np.log(pk) + (1 - y[te]) * np.log(1 - pk))).mean())
        oof_by_lam[lam] = oof
        losses[lam] = fold_loss
        print(f"  L2={lam:5.2f}  5-fold balanced log-loss {fold_loss.mean():.4f} ± {fold_loss.std(ddof=1) / 5 ** 0.5:.4f}")
    # One-standard-error rule: the strongest penalty whose loss is within one standard error of the
    # best. The dev classes are nearly separable, and the weakest penalty always wins on log-loss
    # there with weights too large to carry over to questions nobody tuned on.
    best = min(losses, key=lambda lam: losses[lam].mean())
    limit = losses[best].mean() + losses[best].std(ddof=1) / 5**0.5
    best_lam = max(lam for lam in losses if losses[lam].mean() <= limit)
    print(f"  chosen L2 penalty: {best_lam} (lowest loss at {best}; one-standard-error rule)")
    w, b = train(z, y, sample_w, best_lam)
    raw_w = w / sd
    raw_b = b - float((w * mu / sd).sum())
    weights = {"bias": round(raw_b, 3), **{k: round(float(v), 3) for k, v in zip(FEATURES, raw_w, strict=True)}}
    print("\n--- abstention model fitted on the dev set ---")
    print(f"  abstain_weights = {weights}")
    # The threshold is read off out-of-fold scores (each query scored by a model that did not see it),
    # not off the in-sample fit, which flatters the dev set.
    score = 1 / (1 + np.exp(-(x @ raw_w + raw_b)))
    oof = oof_by_lam[best_lam]
    print("  threshold   in-sample answered/abstained   out-of-fold answered/abstained")
    for thr in (0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8):
        print(f"  min_confidence={thr:.2f}  {(score[y == 1] >= thr).mean():.3f} / {(score[y == 0] < thr).mean():.3f}"
              f"            {(oof[y == 1] >= thr).mean():.3f} / {(oof[y == 0] < thr).mean():.3f}")
    # Suggested threshold: the one that leaves the most room above both targets out of fold
    # (max over thresholds of min(answered − 0.95, abstained − 0.90); ties: the larger total room).
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2)
    room = [((oof[y == 1] >= t).mean() - TARGETS["answer"], (oof[y == 0] < t).mean() - TARGETS["abstain"]) for t in grid]
    thr = float(grid[max(range(len(grid)), key=lambda i: (round(min(room[i]), 6), round(sum(room[i]), 6)))])
    print(f"  suggested min_confidence (largest out-of-fold margin above both targets): {thr:.2f} → answers "
          f"{(oof[y == 1] >= thr).mean():.3f}, abstains on {(oof[y == 0] < thr).mean():.3f} out of fold")


def fresh_ask_seconds(settings: RetrievalSettings, runs: int = 3) -> list[float]:
    """Wall time of `firstmate ask --json` in a new process, with the index already built."""
    env = dict(os.environ, FIRSTMATE_RETRIEVAL__BUILD_DIR=str(settings.build_dir),
               FIRSTMATE_RETRIEVAL__EMBEDDER=settings.embedder, HF_HUB_OFFLINE="1")
    exe = Path(sys.executable).parent / "firstmate"
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), "ask", "--json", "普通用户能自己定义 pod 优先级吗"], env=env,
                              capture_output=True, text=True, cwd=ROOT)
        out.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            print(f"  firstmate ask failed: {proc.stderr.strip()[:300]}")
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", default="e5", choices=["e5", "minilm", "hash"])
    ap.add_argument("--build-dir", type=Path, default=None, help="default: index/build (the CLI's index)")
    ap.add_argument("--rebuild", action="store_true", help="time a full build before measuring")
    ap.add_argument("--sets", default="devset,heldout,heldout2,heldout3")
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--fit-abstention", action="store_true", help="fit the abstention model on the dev set")
    ap.add_argument("--embed-text", action="store_true", help="compare joint/question/separate vectors")
    ap.add_argument("--misses", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a retrieval setting (JSON value), e.g. --set rrf_k=20 --set tokenizer_mode='\"bigram\"'")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ap.add_argument("--reuse-index", action="store_true",
                    help="measure the existing index even if the corpus code changed since it was built")
    ap.add_argument("--no-ask", action="store_true", help="skip the fresh-process `firstmate ask` timing")
    args = ap.parse_args()

    overrides: dict[str, Any] = {"embedder": args.embedder}
    if args.build_dir:
        overrides["build_dir"] = args.build_dir
    for item in args.set:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    settings = RetrievalSettings(**overrides)
    searcher = Searcher(settings, say=lambda m: print(f"[index] {m}", file=sys.stderr),
                        check_fresh=not args.reuse_index)
    numbers: dict[str, Any] = {"embedder": args.embedder}
    if args.rebuild:
        # A cold build: drop the passage-vector cache first so every text is embedded again.
        EmbeddingCache(Path(settings.build_dir) / "models", model_id=searcher.embedder.model_id).path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        build_index(settings, embedder=searcher.embedder, progress=sys.stderr.isatty(), say=print)
        numbers["build_s"] = round(time.perf_counter() - t0, 2)
        print(f"full index build: {numbers['build_s']:.1f} s (target ≤ 90 s)")
    t0 = time.perf_counter()
    searcher.warm_up()
    print(f"index ready in {time.perf_counter() - t0:.2f} s ({len(searcher.index.entries)} entries, "
          f"model {searcher.index.manifest['model_id']}, built {searcher.index.manifest['built_at']}, "
          f"build took {searcher.index.manifest['build_seconds']} s)")

    if args.embed_text:
        for mode in ("joint", "question", "separate"):
            s2 = settings.model_copy(update={"embed_text": mode, "build_dir": Path(tempfile.mkdtemp()) / "b"})
            other = Searcher(s2, embedder=searcher.embedder, say=lambda m: None)
            other.warm_up()
            dev = [q for q in load_set("devset") if q.type != "unanswerable"]
            resolve(dev, other)  # ids are content hashes: resolve against this very index
            t_build = other.index.manifest["build_seconds"]
            for mm in ("vector", "fused"):
                rows = evaluate(other, dev, mm)["rows"]
                s = summarize(rows)
                en = summarize([r for r in rows if r["q"].type == "english"])
                print(f"embed_text={mode:9} {mm:6}  R@1={s['R@1']:.3f} R@5={s['R@5']:.3f} MRR@10={s['MRR@10']:.3f} "
                      f"english R@5={en['R@5']:.3f}  (build {t_build:.0f} s, {other.index.manifest['vectors']} vectors)")
        return

    for name in args.sets.split(","):
        queries = load_set(name)
        resolve(queries, searcher)
        if args.tune and name == "devset":
            tune(searcher, queries)
            continue
        if args.fit_abstention and name == "devset":
            fit_abstention(searcher, queries)
            continue
        for q in queries[:5]:  # warm caches so the first timings are not cold-start noise
            searcher.search(q.text)
        results = {mode: evaluate(searcher, queries, mode) for mode in MODES}
        numbers[name] = report(name, results)
        if args.misses:
            misses(name, results["fused"]["rows"])
    if not args.no_ask and not args.tune and not args.fit_abstention:
        times = fresh_ask_seconds(settings)
        if times:
            numbers["fresh_ask_s"] = times
            print(f"\nfresh-process `firstmate ask --json`: {', '.join(f'{t:.2f}' for t in times)} s "
                  f"(median {statistics.median(times):.2f}; target ≤ 3 s)")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
