"""Scale benchmark: the hybrid search path on a synthetic 1,000,000-entry corpus with an approximate index.

What is synthetic, and why:
- Lexical side: each synthetic entry is a real Q&A's tokens (bundled corpus, the production
  tokenizer) with ~40% of its terms dropped at random plus two random "rare" terms, so posting
  lists have realistic shapes. The BM25 matrix (same Lucene formula as bm25s) is assembled with
  numpy in chunks — a million Python token lists would not fit the 4 GB budget — and searched
  by the production `LexicalIndex.scores` code.
- Vector side: random unit vectors (384-d, the size of both bundled models) in the selected approximate FAISS index
  (IVF by default, or HNSW), added in chunks. Queries are real dev-set questions encoded by the
  real query encoder, so encoding time is included.

Prints build time, peak memory (max RSS) and p50/p99 latency of a full query (tokenize + BM25 +
encode + ANN + fusion). Targets: p50 ≤ 20 ms, peak ≤ 4 GB. Not part of the test suite.

    .venv/bin/python bench/scale.py                  # 1,000,000 entries, IVF
    .venv/bin/python bench/scale.py --n 200000 --index hnsw
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval.build import heading, lexical_document, load_corpus  # noqa: E402
from retrieval.config import RetrievalSettings  # noqa: E402
from retrieval.dense import make_embedder  # noqa: E402
from retrieval.entries import entries_from_corpus  # noqa: E402
from retrieval.fuse import fuse  # noqa: E402
from retrieval.lexical import LexicalIndex, Tokenizer, mine_domain_words, top_indices  # noqa: E402
from retrieval.vectors import VectorStore  # noqa: E402

K1, B = RetrievalSettings().bm25_k1, RetrievalSettings().bm25_b  # the production BM25 parameters


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_bm25(base_docs: list[list[str]], n: int, *, keep: float, seed: int) -> LexicalIndex:
    """BM25 (Lucene idf/tf) over ``n`` perturbed copies of ``base_docs``, as a production LexicalIndex."""
    rng = np.random.default_rng(seed)
    vocab: dict[str, int] = {}
    b_indptr, b_tok, b_tf = [0], [], []
    for doc in base_docs:
        counts = Counter(doc)
        for tok, tf in counts.items():
            b_tok.append(vocab.setdefault(tok, len(vocab)))
            b_tf.append(tf)
        b_indptr.append(len(b_tok))
    base_v = len(vocab)
    rare = 200_000
    for i in range(rare):
        vocab[f"syn{i}"] = base_v + i
    indptr_b = np.asarray(b_indptr, dtype=np.int64)
    tok_b = np.asarray(b_tok, dtype=np.int32)
    tf_b = np.asarray(b_tf, dtype=np.float32)
    nb = len(base_docs)
    rows_l, cols_l, tf_l = [], [], []
    doclen = np.zeros(n, dtype=np.float32)
    for start in range(0, n, 100_000):
        docs = np.arange(start, min(n, start + 100_000), dtype=np.int64)
        base = docs % nb
        counts = indptr_b[base + 1] - indptr_b[base]
        total = int(counts.sum())
        offsets = np.repeat(indptr_b[base] - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        gather = offsets + np.arange(total)
        keep_mask = rng.random(total) < keep
        row = np.repeat(docs, counts)[keep_mask]
        col = tok_b[gather][keep_mask]
        tf = tf_b[gather][keep_mask]
        extra_rows = np.repeat(docs, 2)
        extra_cols = (base_v + rng.integers(0, rare, size=len(extra_rows))).astype(np.int32)
        rows_l += [row.astype(np.int32), extra_rows.astype(np.int32)]
        cols_l += [col, extra_cols]
        tf_l += [tf, np.ones(len(extra_rows), dtype=np.float32)]
        doclen[docs] = np.bincount(row - start, weights=tf, minlength=len(docs)).astype(np.float32) + 2
    rows = np.concatenate(rows_l)
    del rows_l
    cols = np.concatenate(cols_l)
    del cols_l
    tfs = np.concatenate(tf_l)
    del tf_l
    vsize = len(vocab)
    df = np.bincount(cols, minlength=vsize).astype(np.float64)
    idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    avg = float(doclen.mean())
    norm = K1 * (1 - B + B * doclen[rows] / avg)
    data = idf[cols] * tfs * (K1 + 1) / (tfs + norm)
    del tfs, norm
    order = np.argsort(cols, kind="stable")
    indices = rows[order]
    data = data[order]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=vsize)))).astype(np.int64)
    del order, rows, cols
    fake = SimpleNamespace(
        vocab_dict=vocab, scores={"data": data, "indices": indices, "indptr": indptr, "num_docs": n}
    )
    return LexicalIndex(fake)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--index", choices=["ivf", "hnsw"], default="ivf")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--nprobe", type=int, default=16)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--max-df", type=float, default=1.0,
                    help="skip query tokens in more than this share of entries (retrieval.lexical_max_df)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    settings = RetrievalSettings()
    t0 = time.perf_counter()
    entries = entries_from_corpus(load_corpus(settings))
    texts = [f"{heading(e)}\n{e.answer}" for e in entries]
    tokenizer = Tokenizer(mode=settings.tokenizer_mode, domain_words=mine_domain_words(texts))
    base_docs = [lexical_document(tokenizer, e, question_boost=settings.question_boost, title_boost=settings.title_boost)
                 for e in entries]
    t_tok = time.perf_counter()
    lexical = synthetic_bm25(base_docs, args.n, keep=0.6, seed=1)
    t_lex = time.perf_counter()
    print(f"lexical: {args.n:,} entries, {len(lexical._data):,} postings, {t_lex - t_tok:.1f} s "
          f"(tokenizing the {len(entries)} real Q&As: {t_tok - t0:.1f} s); peak {peak_mb():,.0f} MB")

    import faiss

    rng = np.random.default_rng(2)
    sample = rng.standard_normal((min(args.n, 60_000), args.dim)).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    store = VectorStore.build(sample[:0], np.arange(0), kind=args.index) if args.index == "hnsw" else None
    if args.index == "ivf":
        nlist = 1024
        quantizer = faiss.IndexFlatIP(args.dim)
        index = faiss.IndexIVFFlat(quantizer, args.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(sample)
        store = VectorStore(index, kind="ivf")
    assert store is not None
    del sample
    for start in range(0, args.n, 100_000):
        m = min(args.n, start + 100_000) - start
        chunk = rng.standard_normal((m, args.dim)).astype(np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        store.index.add_with_ids(chunk, np.arange(start, start + m, dtype=np.int64))
    store.tune(hnsw_ef_search=64, ivf_nprobe=args.nprobe)
    t_vec = time.perf_counter()
    print(f"vectors: {store.size:,} × {args.dim} in {args.index} ({t_vec - t_lex:.1f} s); peak {peak_mb():,.0f} MB")
    build_s = t_vec - t0

    # The production query encoder (the configured embedder; graph cached with the CLI's index).
    encoder = make_embedder(settings)
    encoder.warm_up()
    method, rrf_k, vector_weight = settings.fusion()
    queries = [json.loads(line)["query"] for f in ("devset", "heldout", "heldout2")
               for line in (ROOT / "bench" / "data" / f"{f}.jsonl").read_text(encoding="utf-8").splitlines() if line]
    queries = (queries * (args.queries // len(queries) + 1))[: args.queries]
    lat: list[float] = []
    stages: dict[str, list[float]] = {"lexical": [], "encode": [], "ann": []}
    for i, q in enumerate(queries):
        t = time.perf_counter()
        weights = dict.fromkeys(tokenizer.tokenize(q), 1.0)
        scores = lexical.scores(weights, max_df=args.max_df)
        lex = [(int(d), float(scores[d])) for d in top_indices(scores, 50)]
        t_lex = time.perf_counter()
        qv = encoder.encode_queries([q])
        t_enc = time.perf_counter()
        sims, ids = store.search(qv, k=50)
        vec = [(int(d), float(s)) for d, s in zip(ids[0], sims[0], strict=True) if d >= 0]
        t_ann = time.perf_counter()
        fuse(lex, vec, method=method, rrf_k=rrf_k, lexical_weight=settings.lexical_weight, vector_weight=vector_weight)
        if i >= 5:  # first few warm caches
            lat.append((time.perf_counter() - t) * 1000)
            stages["lexical"].append((t_lex - t) * 1000)
            stages["encode"].append((t_enc - t_lex) * 1000)
            stages["ann"].append((t_ann - t_enc) * 1000)
    lat.sort()
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    peak = peak_mb()
    print(f"\nscale: {args.n:,} entries, {args.index} index, lexical max_df {args.max_df}, "
          f"query encoder {encoder.model_id}")
    print(f"  build time      {build_s:8.1f} s")
    print(f"  peak memory     {peak:8,.0f} MB   target ≤ 4096 MB  {'PASS' if peak <= 4096 else 'FAIL'}")
    print(f"  query p50       {p50:8.2f} ms   target ≤ 20 ms    {'PASS' if p50 <= 20 else 'FAIL'}")
    print(f"  query p99       {p99:8.2f} ms")
    for name, values in stages.items():
        values.sort()
        print(f"    {name:8} p50 {values[len(values) // 2]:6.2f} ms")
    import os

    print(f"  (1-min load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores during the run)")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "index": args.index, "build_s": build_s, "peak_mb": peak,
                                         "p50_ms": p50, "p99_ms": p99}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
