"""Exact quantized strong tickets (issue 15, part 2): the subset-sum solver against brute
force, clear errors (no subset, too few candidates, weights off the grid), and a pruned
random network that computes a quantized MNIST MLP bit for bit on all 10,000 test
images."""
import itertools

import numpy as np
import pytest

import hyperprune as hp
from hyperprune import datasets, nn, optim, quantize
from hyperprune import functional as F
from hyperprune import subset_sum as S


def all_subset_sums(values):
    return {sum(c) for r in range(len(values) + 1) for c in itertools.combinations(values, r)}


# ------------------------------------------------------------------ the solver
@pytest.mark.parametrize("seed", range(6))
def test_the_solver_finds_an_exact_subset_iff_brute_force_does(seed):
    """For random small instances (0..9 candidates of both signs, targets inside and
    outside their range): subset_sum returns a mask whose entries sum exactly to the
    target whenever some subset does (brute force over every subset), and raises
    otherwise."""
    rng = np.random.default_rng(seed)
    for _ in range(150):
        n = int(rng.integers(0, 10))
        values = rng.integers(-30, 31, n)
        target = int(rng.integers(-80, 81))
        possible = target in all_subset_sums(values.tolist())
        if possible:
            mask = S.subset_sum(values, target)
            assert mask.dtype == bool and mask.shape == (n,)
            assert int(values[mask].sum()) == target
        else:
            with pytest.raises(ValueError, match=f"sums to {target} .*too small"):
                S.subset_sum(values, target)


def test_the_solvers_range_is_bounded_with_a_clear_error():
    """The bitset has a bit per possible sum: candidates spanning more than 2^24 sums are
    refused (naming the span), just below that they are solved exactly."""
    base = 2 ** 53
    values = np.array([-base, 1, 2, 4], dtype=np.int64)     # span 2^53 + 7: refused
    with pytest.raises(ValueError, match="span 9007199254740999 integers.*smaller"):
        S.subset_sum(values, 3)
    values = np.array([2 ** 23, 2 ** 22 + 1, 3, -5], dtype=np.int64)
    mask = S.subset_sum(values, 2 ** 23 + 2 ** 22 - 4)
    assert int(values[mask].sum()) == 2 ** 23 + 2 ** 22 - 4


def test_no_subset_and_too_few_candidates_are_clear_errors():
    with pytest.raises(ValueError, match=r"no subset of the 3 candidates sums to 5 .*"
                                         r"span \[0, 12\].*too small"):
        S.subset_sum(np.array([4, 4, 4]), 5)           # every sum is a multiple of 4
    with pytest.raises(ValueError, match=r"no subset of the 2 candidates sums to 9 "):
        S.subset_sum(np.array([3, 2]), 9)              # beyond the largest sum
    with pytest.raises(ValueError, match="the 0 candidates sums to 1 "):
        S.subset_sum(np.array([], dtype=np.int64), 1)
    assert S.subset_sum(np.array([], dtype=np.int64), 0).shape == (0,)
    with pytest.raises(ValueError, match="integers"):
        S.subset_sum(np.array([0.5, 1.0]), 1)
    with pytest.raises(ValueError, match="target must be an integer"):
        S.subset_sum(np.array([1, 2]), 1.0)


@pytest.mark.parametrize("seed", range(3))
def test_meet_in_the_middle_finds_the_closest_subset(seed):
    """closest_subset_sum's error equals the best over every subset (brute force)."""
    rng = np.random.default_rng(seed)
    for n in range(0, 11):
        values, target = rng.uniform(-1, 1, n), float(rng.uniform(-2, 2))
        mask, total = S.closest_subset_sum(values, target)
        assert total == pytest.approx(values[mask].sum(), abs=1e-12)
        best = min(abs(s - target) for s in all_subset_sums(values.tolist()))
        assert abs(total - target) == pytest.approx(best, abs=1e-12)


# ------------------------------------------------------------------ the grids
def test_the_grids_and_their_errors():
    for k in range(2, 9):
        g = S.Grid.of(k)
        assert g.code_max == 2 ** (k - 1) - 1 == quantize.grid_max(k)
        assert g.ratio * 2.0 ** (-2 * g.random_bits) == 2.0 ** -(k - 1)   # R δ_r² = δ
        assert 2 * g.random_bits in (k - 1, k)                             # the coarsest
        codes = g.random_codes(np.random.default_rng(k), 10_000)
        assert set(np.unique(codes)) == set(range(-g.random_max, 0)) | \
            set(range(1, g.random_max + 1))
    with pytest.raises(ValueError, match="coarser than the 6-bit target grid.*>= 3"):
        S.Grid(6, 2)
    with pytest.raises(ValueError, match="off the 4-bit grid"):
        S.check_codes(np.array([[0, 8]]), S.Grid.of(4), "layer 0")


def test_a_weight_off_its_grid_is_an_error_never_rounded():
    scale = 0.013
    codes = np.array([[-7, 0, 3], [1, 7, -2]])
    w = codes * scale                                  # exactly on the 4-bit grid
    assert np.array_equal(S.target_codes(w, 4, scale), codes)
    off = w.copy()
    off[1, 2] = np.nextafter(off[1, 2], 0)             # one ulp off
    with pytest.raises(ValueError, match=r"at \(1, 2\) is off the 4-bit grid"):
        S.target_codes(off, 4, scale)
    with pytest.raises(ValueError, match=r"at \(0, 0\) is off the 4-bit grid"):
        S.target_codes(np.where(codes == -7, -8 * scale, w), 4, scale)   # beyond -m
    with pytest.raises(ValueError, match="codes must be integers"):
        S.build_ticket([w], 4, 8, np.random.default_rng(0))
    # codes from hyperprune.quantize (one scale per tensor) are accepted as they are
    q = quantize.quantize_tensor(np.random.default_rng(0).standard_normal((5, 6)), None, 4,
                                 "tensor")
    scale = float(q.scale.item())
    values = q.codes.astype(np.float64) * scale
    assert np.array_equal(S.target_codes(values, 4, scale), q.codes)


# ------------------------------------------------------------------ the construction
def test_one_layer_with_both_input_signs_is_exact():
    """Inputs of both signs exercise both halves of the ReLU sign trick (u > 0 sees x⁺,
    u < 0 sees x⁻); every kept v belongs to a kept hidden unit."""
    rng = np.random.default_rng(3)
    codes = [rng.integers(-15, 16, (6, 9)), rng.integers(-15, 16, (3, 6))]
    layers, grid = S.build_ticket(codes, 5, 64, np.random.default_rng(4))
    x = rng.integers(-1000, 1001, (500, 9))
    assert np.array_equal(S.ticket_forward(layers, x, chunk=64),
                          grid.ratio ** 2 * S.target_forward(codes, 5, x))
    for layer in layers:
        assert np.array_equal(layer.keep_u, layer.keep_v.any(axis=0))
    with pytest.raises(ValueError, match=r"layer 0 weight .* width 1 is too small"):
        S.build_ticket([np.full((2, 3), 7)], 4, 1, np.random.default_rng(0))


def trained_codes(train_x, train_y, bits, iterations=300):
    """A bias-free 784-16-10 ReLU MLP trained briefly on MNIST (pixels / 255), then
    quantized per layer to `bits` (hyperprune.quantize's grid): its integer codes."""
    hp.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 16, bias=False), nn.ReLU(),
                          nn.Linear(16, 10, bias=False))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(0)
    for _ in range(iterations):
        i = rng.integers(0, len(train_x), 100)
        loss = F.cross_entropy(model(hp.tensor(train_x[i])), hp.tensor(train_y[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [quantize.quantize_tensor(layer.weight.data, None, bits, "tensor").codes
            .astype(np.int64) for layer in (model[0], model[2])]


def test_the_ticket_reproduces_a_trained_quantized_mlp_on_all_of_mnist():
    """The target: a 784-16-10 network trained on MNIST and quantized to 4 bits.  Its
    pruned random network (72 hidden units per input, random 2-bit-grid weights) computes
    the same integer outputs on every one of MNIST's 10,000 test images (pixels 0..255 as
    integers: a bias-free ReLU network is positively homogeneous, so its predictions are
    those on pixels / 255), and so the same predictions."""
    train_x, train_y, images, labels = datasets.load_mnist()
    flat = train_x.reshape(len(train_x), -1).astype(np.float32) / 255
    codes = trained_codes(flat, train_y, 4)
    assert all(np.abs(c).max() == 7 for c in codes)             # the 4-bit grid, used
    x = images.reshape(len(images), -1).astype(np.int64)       # pixels 0..255
    layers, grid = S.build_ticket(codes, 4, 72, np.random.default_rng(1))
    target = S.target_forward(codes, 4, x)
    ticket = S.ticket_forward(layers, x)
    assert ticket.shape == (10_000, 10)
    assert np.mean(target.argmax(axis=1) == labels) > 0.8      # a trained network
    assert np.array_equal(ticket, grid.ratio ** 2 * target)
    assert np.array_equal(ticket.argmax(axis=1), target.argmax(axis=1))
    kept = sum(int(layer.keep_v.sum()) for layer in layers)
    assert kept < sum(layer.v.size for layer in layers) / 4     # most weights are pruned


# ------------------------------------------------------------------ the measurement
def test_success_grows_with_the_number_of_candidates():
    """Nested candidates: the exact success rate never falls as m grows and reaches 1;
    the continuous best error never grows; a finer target needs no fewer candidates."""
    p = S.exact_success(4, 16, 300, np.random.default_rng(0))
    assert np.all(np.diff(p) >= 0) and p[0] < 0.5 and p[-1] >= 0.95
    errors = S.continuous_errors(10, 200, np.random.default_rng(1))
    assert np.all(np.diff(errors, axis=1) <= 0)
    rows = S.overparameterisation(bits=(2, 4), trials=300, m_max_exact=24,
                                  m_max_continuous=12)
    assert [r["bits"] for r in rows] == [2, 4]
    for r in rows:
        assert r["m_exact"] >= 2 and r["p_exact"][r["m_exact"] - 1] >= 0.9 > \
            r["p_exact"][r["m_exact"] - 2]
    assert rows[1]["m_continuous"] >= rows[0]["m_continuous"]
    a, b = S.fit_line([2, 4, 6], [3.0, 4.0, 5.0])
    assert (a, b) == pytest.approx((2.0, 0.5))
    with pytest.raises(ValueError, match="needs more than 2 candidates"):
        S.overparameterisation(bits=(8,), trials=50, m_max_exact=2)
