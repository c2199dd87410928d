"""Knowledge: the embedded MiniLM's encoding rate, and a search's cost in each storage.

    .venv/bin/python -m benchmarks.bench_knowledge        (or: python -m benchmarks.run knowledge)

1. Encoding: 64 pieces of ~40 words each, and one short query 20 times, with the gateway's
   all-MiniLM-L6-v2, with one BLAS thread (what the gateway does) against OpenBLAS's default threads
   (baseline), in the same process.
2. Search: the 10 nearest of 5,000 stored 384-dimensional pieces. Baseline: ``InMemory`` (exact, in
   Python); against it ``Database`` on a throwaway PostgreSQL (exact cosine distance in SQL; Debian 12
   has no pgvector). Needs root and Debian's postgresql package (else that row says why it is missing).
Best of 3 rounds each.
"""

from __future__ import annotations

import asyncio
import random
import time

from autonomy.knowledge import Database, InMemory, TextPiece

PIECES = 5000
QUERIES = 20
ROUNDS = 3
DIMENSIONS = 384


def _unit(rng: random.Random) -> list[float]:
    vector = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]


async def _encoding() -> tuple[list[tuple[str, float | str]], list[tuple[str, float | str]]]:
    from threadpoolctl import threadpool_limits

    from autonomy.gateway.local_embeddings import load_embedder

    embedder = await load_embedder()
    words = "the quick brown fox jumps over a lazy dog while the sailor trims the sails".split()
    rng = random.Random(1)
    texts = [" ".join(rng.choice(words) for _ in range(40)) for _ in range(64)]

    def rate(threads: int | None, batch: list[str], repeat: int) -> float:
        import numpy as np

        best = 0.0
        for _ in range(ROUNDS):
            started = time.perf_counter()
            with threadpool_limits(limits=threads, user_api="blas"), embedder._lock:
                for _ in range(repeat):
                    encodings = embedder._tokenizer.encode_batch(batch)
                    ids = np.array([e.ids for e in encodings], dtype=np.int64)
                    mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
                    embedder._encode(ids, mask)
            best = max(best, len(batch) * repeat / (time.perf_counter() - started))
        return best

    query = ["how long does bread dough rise"]
    batch: list[tuple[str, float | str]] = [("64 pieces, OpenBLAS default threads (baseline)", rate(None, texts, 1)),
                                            ("64 pieces, one BLAS thread (the gateway's)", rate(1, texts, 1))]
    single: list[tuple[str, float | str]] = [("one query, OpenBLAS default threads (baseline)", rate(None, query, 20)),
                                             ("one query, one BLAS thread (the gateway's)", rate(1, query, 20))]
    return batch, single


async def _search(storage: object, rng: random.Random) -> float:
    vectors = [_unit(rng) for _ in range(PIECES)]
    await storage.store_document("bench", "doc", "text")  # type: ignore[attr-defined]
    many = getattr(storage, "store_text_pieces", None)
    pieces = [TextPiece(f"piece {i}", v) for i, v in enumerate(vectors)]
    if many is not None:
        await many("bench", "doc", pieces)
    else:
        for piece in pieces:
            await storage.store_text_piece("bench", "doc", piece)  # type: ignore[attr-defined]
    queries = [_unit(rng) for _ in range(QUERIES)]
    best = 0.0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for query in queries:
            await storage.search_text("bench", query, 10, 2.0)  # type: ignore[attr-defined]
        best = max(best, QUERIES / (time.perf_counter() - started))
    return best


async def _searches() -> list[tuple[str, float | str]]:
    rows: list[tuple[str, float | str]] = [("InMemory (baseline)", await _search(InMemory(), random.Random(2)))]
    from tests.support.postgres import postgres_server, why_no_postgres

    why = why_no_postgres()
    if why is not None:
        rows.append(("Database, exact SQL", f"not measured: {why}"))
        return rows
    with postgres_server() as server:
        database = Database(server.url)
        try:
            rows.append(("Database, exact SQL (PostgreSQL on loopback)", await _search(database, random.Random(2))))
        finally:
            await database.close()
    return rows


def _table(rows: list[tuple[str, float | str]], unit: str) -> str:
    base = rows[0][1]
    lines = [f"| | {unit} | ratio to baseline |", "|---|---|---|"]
    for name, value in rows:
        if isinstance(value, str) or not isinstance(base, float):
            lines.append(f"| {name} | {value} | - |")
        else:
            lines.append(f"| {name} | {value:,.1f} | {value / base:.2f} |")
    return "\n".join(lines)


async def main() -> None:
    encoding = await _encoding()
    searches = await _searches()
    print("## Knowledge: embedded embeddings and search\n")
    print("Texts encoded by the gateway's all-MiniLM-L6-v2 (NumPy): 64 pieces of ~40 words (adding a "
          "document), and 20 single short queries (a search); best of 3.\n")
    print(_table(encoding[0], "texts/s"))
    print()
    print(_table(encoding[1], "texts/s"))
    print(f"\n{QUERIES} searches for the 10 nearest of {PIECES:,} pieces of {DIMENSIONS} dimensions; best of 3.\n")
    print(_table(searches, "searches/s"))


if __name__ == "__main__":
    asyncio.run(main())
