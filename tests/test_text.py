"""Tests for hyperprune.text: tiny Shakespeare, the character vocabulary, splits, LM batches.

The corpus is read once from the committed data/tinyshakespeare/input.txt (module-scoped
fixtures); corrupted or missing copies live in tmp_path.  Nothing touches the network.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import hyperprune.datasets as tx
from hyperprune.models.gpt import check_context

REPO_DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def text():
    return tx.load_tiny_shakespeare(REPO_DATA)


@pytest.fixture(scope="module")
def vocab(text):
    return tx.CharVocab(text)


@pytest.fixture(scope="module")
def splits(text, vocab):
    return tx.char_splits(text, vocab)


def copy_corpus(tmp_path: Path, transform=lambda b: b) -> Path:
    """A copy of the corpus under tmp_path/tinyshakespeare, its bytes passed through
    `transform`; returns the data directory (tmp_path)."""
    dest = tmp_path / "tinyshakespeare"
    dest.mkdir()
    content = (REPO_DATA / tx.TINY_SHAKESPEARE_FILE).read_bytes()
    (dest / "input.txt").write_bytes(transform(content))
    return tmp_path


# ---------------------------------------------------------------------------------------
# Loading and verification
# ---------------------------------------------------------------------------------------

def test_corpus_loads_verified(text):
    assert isinstance(text, str)
    assert len(text) == 1_115_394
    assert len(set(text)) == 65
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")


def test_data_dir_from_environment(tmp_path, monkeypatch, text):
    monkeypatch.setenv("HYPERPRUNE_DATA", str(copy_corpus(tmp_path)))
    assert tx.load_tiny_shakespeare() == text


def test_checksum_mismatch_names_the_file(tmp_path):
    def flip(content):  # one changed character in the middle of the play
        i = len(content) // 2
        return content[:i] + bytes([content[i] ^ 1]) + content[i + 1:]

    data_dir = copy_corpus(tmp_path, flip)
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        tx.load_tiny_shakespeare(data_dir)
    assert str(data_dir / "tinyshakespeare" / "input.txt") in str(info.value)


def test_crlf_copy_is_rejected_with_a_hint(tmp_path):
    data_dir = copy_corpus(tmp_path, lambda b: b.replace(b"\n", b"\r\n"))
    with pytest.raises(ValueError, match="CRLF line endings"):
        tx.load_tiny_shakespeare(data_dir)


def test_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        tx.load_tiny_shakespeare(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "tinyshakespeare" / "input.txt") in message
    assert "given explicitly" in message


# ---------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------

def test_vocabulary_is_nanogpt_shakespeare_char(vocab, text):
    assert vocab.size == len(vocab) == 65
    assert vocab.chars == "".join(sorted(set(text)))
    assert vocab.chars.startswith("\n !$&',-.3:;?AB")
    assert vocab.chars[0] == "\n" and vocab.chars[-1] == "z"


def test_encode_decode_round_trip(vocab, text):
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert ids.min() == 0 and ids.max() == 64
    assert vocab.decode(ids) == text
    np.testing.assert_array_equal(vocab.encode("\n !z"), [0, 1, 2, 64])
    assert vocab.decode([20, 47, 1]) == vocab.chars[20] + vocab.chars[47] + " "
    assert vocab.decode(np.array([], dtype=np.int64)) == "" and vocab.decode([]) == ""
    assert vocab.encode("").shape == (0,)


def test_encode_matches_a_dictionary_lookup(vocab, text):
    stoi = {c: i for i, c in enumerate(vocab.chars)}
    piece = text[:5000]
    np.testing.assert_array_equal(vocab.encode(piece), [stoi[c] for c in piece])


@pytest.mark.parametrize("bad,expected", [
    ("Hello\tworld", r"'\\t' at position 5"),
    ("caf\u00e9", r"'\u00e9' at position 3"),
    ("Zz\x00", r"'\\x00' at position 2"),
    ("#", "'#' at position 0"),                  # '#' sorts between vocabulary characters
    ("\ud800", r"'\\ud800' at position 0"),      # a lone surrogate
])
def test_unknown_characters_are_rejected_with_position(vocab, bad, expected):
    with pytest.raises(ValueError, match=expected):
        vocab.encode(bad)


def test_many_unknown_characters_are_summarized(vocab):
    with pytest.raises(ValueError, match=r"^7 character.*and 2 more"):
        vocab.encode("a" + "\t" * 7)


def test_padded_size_and_dummy_ids(vocab):
    assert vocab.padded_size() == 68 and vocab.padded_size(4) == 68
    assert vocab.padded_size(1) == 65 and vocab.padded_size(65) == 65
    for dummy in (65, 66, 67):
        with pytest.raises(ValueError, match=f"id {dummy} at position 1 is not a character.*dummy"):
            vocab.decode([0, dummy])
    with pytest.raises(ValueError, match="id -1 at position 0"):
        vocab.decode([-1])
    with pytest.raises(ValueError, match="id 1000"):
        vocab.decode(np.array([1000]))
    with pytest.raises(ValueError, match="multiple"):
        vocab.padded_size(0)


def test_decode_rejects_non_integer_and_multidimensional_ids(vocab):
    with pytest.raises(TypeError, match="integer ids"):
        vocab.decode([1.0, 2.0])
    with pytest.raises(TypeError, match="integer ids"):
        vocab.decode(np.array([True]))
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode(np.zeros((2, 3), dtype=np.int64))


def test_vocab_round_trips_through_json(vocab):
    again = tx.CharVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab and again.chars == vocab.chars
    assert hash(again) == hash(vocab)
    np.testing.assert_array_equal(again.encode("To be"), vocab.encode("To be"))


@pytest.mark.parametrize("saved", [
    {"kind": "char", "chars": "ba"},                 # not sorted: the ids would change
    {"kind": "char", "chars": "aab"},                # not unique
    {"kind": "char", "chars": ""},
    {"kind": "char", "chars": "ab", "size": 3},
    {"kind": "bpe", "chars": "ab"},
    {"chars": ["a", "b"], "kind": "char"},
    "ab",
])
def test_from_dict_rejects_bad_records(saved):
    with pytest.raises(ValueError):
        tx.CharVocab.from_dict(saved)


def test_vocab_construction_errors():
    with pytest.raises(ValueError, match="non-empty"):
        tx.CharVocab("")
    with pytest.raises(TypeError, match="str"):
        tx.CharVocab(b"bytes")


# ---------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------

def test_split_sizes_as_nanogpt(splits, text, vocab):
    train, val = splits
    assert len(train) == 1_003_854 and len(val) == 111_540
    assert len(train) == int(len(text) * 0.9)  # nanoGPT's prepare.py
    assert train.dtype == val.dtype == np.int64
    assert vocab.decode(train[:14]) == "First Citizen:"
    assert vocab.decode(val[-50:]) == text[-50:]
    np.testing.assert_array_equal(np.concatenate([splits.train, splits.val]), vocab.encode(text))


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, True, "0.1"])
def test_split_fraction_is_validated(fraction, vocab):
    with pytest.raises(ValueError, match="val_fraction"):
        tx.char_splits("abc", vocab, fraction)


# ---------------------------------------------------------------------------------------
# Language-modelling batches
# ---------------------------------------------------------------------------------------

def test_batches_shape_shift_and_range(splits):
    stream = tx.lm_batches(splits.train, block_size=64, batch_size=12, seed=3)
    for _ in range(3):
        x, y = next(stream)
        assert x.shape == y.shape == (12, 64)
        assert x.dtype == y.dtype == np.int64
        np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
        assert x.min() >= 0 and max(x.max(), y.max()) < 65
        assert np.shares_memory(x, y) is False
    assert stream.iteration == 3


def test_batches_are_the_documented_offsets(splits):
    data = splits.val
    x, y = tx.lm_batch(data, 8, 5, seed=7, iteration=11)
    offsets = np.random.default_rng([7, 11]).integers(0, len(data) - 8, size=5)
    for b, o in enumerate(offsets):
        np.testing.assert_array_equal(x[b], data[o:o + 8])
        np.testing.assert_array_equal(y[b], data[o + 1:o + 9])


def test_batches_deterministic_per_seed_and_iteration(splits):
    data = splits.val
    a = [next(tx.lm_batches(data, 16, 4, seed=1, start_iteration=5)) for _ in range(2)]
    np.testing.assert_array_equal(a[0][0], a[1][0])
    np.testing.assert_array_equal(a[0][0], tx.lm_batch(data, 16, 4, seed=1, iteration=5)[0])
    other_seed = tx.lm_batch(data, 16, 4, seed=2, iteration=5)[0]
    other_iteration = tx.lm_batch(data, 16, 4, seed=1, iteration=6)[0]
    assert not np.array_equal(a[0][0], other_seed)
    assert not np.array_equal(a[0][0], other_iteration)


def test_resuming_equals_the_uninterrupted_stream(splits):
    data, k = splits.val, 7
    stream = tx.lm_batches(data, 32, 3, seed=0)
    full = [next(stream) for _ in range(12)]
    resumed = tx.lm_batches(data, 32, 3, seed=0, start_iteration=k)
    for expected in full[k:]:
        got = next(resumed)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])
    assert resumed.iteration == 12


def test_smallest_data_and_any_integer_dtype():
    data = np.array([3, 1, 4], dtype=np.uint16)        # block_size = len(data) - 1
    x, y = tx.lm_batch(data, 2, 4, seed=0, iteration=0)
    np.testing.assert_array_equal(x, [[3, 1]] * 4)
    np.testing.assert_array_equal(y, [[1, 4]] * 4)
    assert x.dtype == np.int64


def test_eval_batches_fixed_and_apart_from_training(splits):
    data = splits.val
    first = list(tx.eval_batches(data, 16, 4, n_batches=3, seed=0))
    again = list(tx.eval_batches(data, 16, 4, n_batches=3, seed=0))
    assert len(first) == 3
    for (x1, y1), (x2, y2) in zip(first, again):
        assert x1.shape == (4, 16)
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(x1[:, 1:], y1[:, :-1])
    assert not np.array_equal(first[0][0], first[1][0])
    assert not np.array_equal(first[0][0], tx.lm_batch(data, 16, 4, seed=0, iteration=0)[0])
    other = next(tx.eval_batches(data, 16, 4, n_batches=1, seed=1))
    assert not np.array_equal(first[0][0], other[0])


@pytest.mark.parametrize("kwargs,message", [
    (dict(block_size=10), "block_size"),                   # == len(data)
    (dict(block_size=11), "block_size"),
    (dict(block_size=0), "block_size"),
    (dict(block_size=2.0), "block_size"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=True), "batch_size"),
    (dict(seed=-1), "seed"),
    (dict(start_iteration=-1), "start_iteration"),
    (dict(data=np.arange(10.0)), "integer ids"),
    (dict(data=np.zeros((2, 5), dtype=np.int64)), "1-D"),
])
def test_batch_arguments_are_validated_immediately(kwargs, message):
    args = dict(data=np.arange(10), block_size=4, batch_size=2, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        tx.lm_batches(**args)  # no next(): the call itself raises


def test_eval_and_single_batch_arguments_are_validated():
    with pytest.raises(ValueError, match="n_batches"):
        tx.eval_batches(np.arange(10), 4, 2, n_batches=0, seed=0)
    with pytest.raises(ValueError, match="block_size"):
        tx.eval_batches(np.arange(10), 10, 2, n_batches=1, seed=0)
    with pytest.raises(ValueError, match="iteration"):
        tx.lm_batch(np.arange(10), 4, 2, seed=0, iteration=-1)


# ---------------------------------------------------------------------------------------
# Context length
# ---------------------------------------------------------------------------------------

def test_check_context():
    check_context(64, 64)
    check_context(1, 64)
    with pytest.raises(ValueError) as info:
        check_context(80, 64)
    assert str(info.value) == ("gpt_char: sequence length 80 is longer than the model's "
                               "context (block_size 64)")
    with pytest.raises(ValueError, match="^qgpt: sequence length 65 "):
        check_context(65, 64, what="qgpt")
    with pytest.raises(ValueError, match="at least one"):
        check_context(0, 64)
    with pytest.raises(TypeError):
        check_context(3.0, 64)
