"""Loading the corpus: vendored seed, counts, folders, stable ids, and every kind of bad input."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from retrieval.config import DEFAULT_CORPUS_DIR, RetrievalSettings
from retrieval.corpus.errors import CorpusError
from retrieval.corpus.load import MIB, find_files, load_configured_corpus, load_corpus
from retrieval.corpus.models import Corpus

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
QA_FILE = "004_77bb0b753ad145a3.txt"

# Recorded when the seeds were vendored from ../shared/seeds; the bytes must never change.
SEED_SHA256 = {
    "000_ec1e308041ada59b.txt": "1a107172f851621770a1d603fd098357b49b13546ad154b1ef258bca2835c128",
    "001_76f0d0c69966b337.txt": "74283a76e6d4f6145825dc17bfcb848000aceff7aac8eef82e17a2d64a73a59e",
    "002_39f4a495a914cc29.txt": "ee679834748280f51d52333ca0890e7d8576676cc0ee9636b321d60d85ede3fc",
    "003_eba77b4adfaaf05f.txt": "56e7d92df52075d9b9dff75bff193971467e6674a84e6a22685f2a5668e79861",
    QA_FILE: "b91e238e65ba65d00983970eab71fc6246dd9235740b443055fd7cca5677a93b",
}


@pytest.fixture(scope="module")
def bundled() -> Corpus:
    return load_corpus([DEFAULT_CORPUS_DIR])


def test_vendored_seed_is_byte_identical() -> None:
    found = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in DEFAULT_CORPUS_DIR.glob("*.txt")}
    assert found == SEED_SHA256
    assert (DEFAULT_CORPUS_DIR / "SOURCE").is_file()


def test_bundled_corpus_counts(bundled: Corpus) -> None:
    stats = bundled.stats()
    assert stats.sessions == 225
    # 2,387 labelled '> Q' lines + 1 bare 'Q：' line + 2 questions glued into answer lines
    # + 1 follow-up ('===》再问') + 1 answer whose question was lost - 1 folded ("两个问题我一并回答").
    assert stats.qas == 2391
    assert stats.empty_answers == 31
    assert stats.answerable == 2391 - 31
    assert stats.follow_ups == 1
    assert stats.missing_questions == 1
    assert stats.merged_questions >= 9
    assert stats.noise >= 4
    assert stats.docs == 103
    assert stats.files == 5
    assert sum(stats.qas_per_year.values()) == stats.qas
    assert sorted(stats.qas_per_year) == [2015, 2016, 2017, 2018, 2019, 2020]
    assert min(s.date for s in bundled.sessions).isoformat() == "2015-05-12"
    assert max(s.date for s in bundled.sessions).isoformat() == "2020-06-02"


def test_bundled_files_are_classified(bundled: Corpus) -> None:
    kinds = {f.name: f.kind for f in bundled.files}
    assert kinds[QA_FILE] == "qa"
    assert [k for n, k in kinds.items() if n != QA_FILE] == ["notes"] * 4
    qa_file = next(f for f in bundled.files if f.name == QA_FILE)
    assert qa_file.sha256 == SEED_SHA256[QA_FILE]
    assert qa_file.sessions == 225 and qa_file.qas == 2391


def test_known_messy_items_in_the_bundled_corpus(bundled: Corpus) -> None:
    by_line = {qa.line: qa for qa in bundled.qas}
    assert by_line[44].label == "Q7-0.1"
    assert by_line[20].noise and "24177411244444117" not in by_line[20].answer
    assert by_line[8490].merged_questions and by_line[8490].label == "Q+Q"
    assert by_line[656].follow_up_of == by_line[652].id
    assert by_line[7732].missing_question
    assert by_line[991].empty_answer and not by_line[991].answerable
    first = bundled.sessions[0]
    assert first.date.isoformat() == "2020-06-02" and first.line == 18
    assert sum(s.footer is not None for s in bundled.sessions) >= 55


def test_ids_are_unique_stable_and_independent_of_paths(tmp_path: Path, bundled: Corpus) -> None:
    ids = [s.id for s in bundled.sessions] + [q.id for q in bundled.qas] + [d.id for d in bundled.docs]
    assert len(ids) == len(set(ids))
    moved = tmp_path / "somewhere" / "else"
    moved.mkdir(parents=True)
    shutil.copy(DEFAULT_CORPUS_DIR / QA_FILE, moved / "renamed.md")
    again = load_corpus([moved / "renamed.md"])
    assert [s.id for s in again.sessions] == [s.id for s in bundled.sessions]
    assert [q.id for q in again.qas] == [q.id for q in bundled.qas]
    assert again.sessions[0].source == "renamed.md"


def test_lookup_by_id(bundled: Corpus) -> None:
    session = bundled.sessions[3]
    assert bundled.get(session.id) == session
    qas = bundled.qas_of(session.id)
    assert qas and all(qa.session_id == session.id for qa in qas)
    assert bundled.get(qas[0].id) == qas[0]
    assert bundled.get(bundled.docs[0].id) == bundled.docs[0]
    assert bundled.get("qa-0000000000") is None


def test_a_users_own_folder_of_qa_markdown_and_notes(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    (folder / "qa").mkdir(parents=True)
    (folder / "notes" / "deep").mkdir(parents=True)
    (folder / ".git").mkdir()
    shutil.copy(FIXTURES / "labels.md", folder / "qa" / "labels.md")
    shutil.copy(FIXTURES / "footer.md", folder / "qa" / "footer.markdown")
    shutil.copy(FIXTURES / "notes" / "markdown_note.md", folder / "notes" / "deep" / "note.md")
    (folder / ".git" / "ignored.md").write_text(
        "## hidden\n\nnot part of the corpus at all\n", encoding="utf-8"
    )
    (folder / "data.json").write_text("{}", encoding="utf-8")
    corpus = load_configured_corpus(RetrievalSettings(corpus_paths=[folder]))
    assert sorted(f.name for f in corpus.files) == [
        "notes/deep/note.md",
        "qa/footer.markdown",
        "qa/labels.md",
    ]
    assert len(corpus.sessions) == 6 and len(corpus.qas) == 14
    assert {d.source for d in corpus.docs} == {"notes/deep/note.md"}


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "labels.md", tmp_path / "labels.md")
    files = find_files([tmp_path, tmp_path / "labels.md"])
    assert [f.name for f in files] == ["labels.md"]


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    text = (FIXTURES / "labels.md").read_text(encoding="utf-8")
    path = tmp_path / "windows.md"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    plain = load_corpus([FIXTURES / "labels.md"])
    windows = load_corpus([path])
    assert [q.id for q in windows.qas] == [q.id for q in plain.qas]
    assert [q.answer for q in windows.qas] == [q.answer for q in plain.qas]


def test_uncertain_characters_are_attributed_to_their_qa(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the repair reports where its uncertain characters are, each Q&A carries its count."""
    text = (FIXTURES / "labels.md").read_text(encoding="utf-8")
    q2 = text.index("如何代理的 Socket")
    last = text.index("这个该怎么做呢")

    @dataclass
    class Located:
        text: str
        repaired: int = 0
        uncertain: int = 3
        uncertain_offsets: tuple[int, ...] = ()

    def fake_repair(value: str) -> Located:
        return Located(text=value, uncertain_offsets=(q2, q2 + 1, last))

    monkeypatch.setattr("retrieval.corpus.load.repair_text", fake_repair)
    corpus = load_corpus([FIXTURES / "labels.md"])
    counts = {qa.question: qa.uncertain_chars for qa in corpus.qas if qa.uncertain_chars}
    assert counts == {"如何代理的 Socket": 2, corpus.qas[-1].question: 1}
    assert corpus.uncertain_chars == 3


# Bad input: one clear line naming the file (and line), never a traceback-worthy exception.


def _error(paths: list[Path], **options: int) -> str:
    with pytest.raises(CorpusError) as caught:
        load_corpus(paths, **options)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.md"
    assert _error([missing]) == f"{missing}: no such file or directory"


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    head = "### 2020-01-02：ok\n\n> Q：问题？\n".encode()
    path.write_bytes(head + "A: caf\xe9\n".encode("latin-1"))
    expected = f"{path}:4: not UTF-8 text (byte 0xe9 at offset {len(head) + 6}); save it as UTF-8"
    assert _error([path]) == expected


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"line one\nline two\x00\x01\x02")
    assert _error([path]) == f"{path}:2: binary data (NUL byte), not a text file"


@pytest.mark.parametrize("content", [b"", b"   \n\n\t\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(content)
    assert _error([path]) == f"{path}: empty file"


def test_qa_file_without_sessions_names_the_first_question(tmp_path: Path) -> None:
    path = tmp_path / "qa.md"
    path.write_text(
        "Some intro\n\n> Q1：第一个问题？\n\nA：回答\n\n> Q2：第二个问题？\n\nA：回答\n", encoding="utf-8"
    )
    message = _error([path])
    assert message.startswith(f"{path}:3: 2 '> Q…' questions but no session heading")


def test_no_sessions_and_no_notes_at_all(tmp_path: Path) -> None:
    path = tmp_path / "headings.md"
    path.write_text("## one\n\n## two\n", encoding="utf-8")
    assert _error([path]) == f"{path}: no Q&A sessions and no note text found"


def test_folder_without_corpus_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}", encoding="utf-8")
    assert _error([tmp_path]) == f"{tmp_path}: folder has no .txt or .md files"


def test_no_paths_configured() -> None:
    assert _error([]) == "no corpus paths configured (retrieval.corpus_paths is empty)"


def test_huge_junk_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "junk.txt"
    with path.open("wb") as handle:
        handle.write(bytes(range(256)) * 64)
        handle.truncate(100 * MIB)  # sparse: 100 MiB on paper, instant to create
    message = _error([path])
    assert message.startswith(f"{path}: file is 100.0 MiB, over the corpus file limit of 16.0 MiB")
    assert "corpus_max_file_mb" in message


def test_size_limit_comes_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "labels.md"
    shutil.copy(FIXTURES / "labels.md", path)
    settings = RetrievalSettings(corpus_paths=[path], corpus_max_file_mb=0.001)
    with pytest.raises(CorpusError, match=r"over the corpus file limit of 0\.0 MiB"):
        load_configured_corpus(settings)


def test_one_bad_file_in_a_folder_fails_the_whole_load(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "labels.md", tmp_path / "a.md")
    (tmp_path / "b.md").write_bytes(b"\xff\xfe broken")
    assert (
        _error([tmp_path])
        == f"{tmp_path / 'b.md'}:1: not UTF-8 text (byte 0xff at offset 0); save it as UTF-8"
    )
