"""The quick demo: a real and a quaternion MLP trained side by side on MNIST.

    hyperprune demo [--epochs 1] [--train-size 55000] [--data-dir DIR]

Both models are LeNet-300-100 shaped: 784 -> 300 -> 100 -> 10.  The quaternion one uses
QLinear for the two hidden layers (the same real widths, a quarter of the weights) and a
real output layer, as in Iqbal & Mishra (2023).  Adam 1.2e-3, batch 60 (Frankle & Carbin's
LeNet settings).  Prints the parameter counts and the test accuracy of each.
"""
import time

from tqdm import tqdm

from . import backend, datasets, functional as F, nn, optim
from .autograd import no_grad, tensor


def mlp(algebra):
    hidden = nn.QLinear if algebra == "quaternion" else nn.Linear
    return nn.Sequential(hidden(784, 300), nn.ReLU(), hidden(300, 100), nn.ReLU(),
                         nn.Linear(100, 10))


def accuracy(model, x, y, batch_size=1000):
    model.eval()
    correct = 0
    with no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(tensor(x[i:i + batch_size]))
            pred = backend.to_numpy(logits.data).argmax(axis=1)
            correct += int((pred == y[i:i + batch_size]).sum())
    model.train()
    return correct / len(x)


def train(model, x, y, epochs, batch_size=60, lr=1.2e-3, seed=0, quiet=False, label=""):
    opt = optim.Adam(model.parameters(), lr=lr)
    steps = epochs * (len(x) // batch_size)
    bar = tqdm(total=steps, desc=label, disable=quiet, leave=False)
    for epoch in range(epochs):
        for xb, yb in datasets.batches(x, y, batch_size, seed=seed, epoch=epoch,
                                       drop_last=True):
            loss = F.cross_entropy(model(tensor(xb)), tensor(yb))
            opt.zero_grad()
            loss.backward()
            opt.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    bar.close()


def run(epochs=1, train_size=55000, data_dir=None, seed=0, quiet=False):
    splits = datasets.mnist_splits(data_dir, seed=seed)
    x, y = splits.train[0][:train_size], splits.train[1][:train_size]
    results = {}
    for algebra in ("real", "quaternion"):
        backend.manual_seed(seed)
        model = mlp(algebra)
        start = time.perf_counter()
        train(model, x, y, epochs, seed=seed, quiet=quiet, label=algebra)
        results[algebra] = dict(parameters=model.num_parameters(),
                                test_accuracy=accuracy(model, *splits.test),
                                seconds=time.perf_counter() - start)
    real = results["real"]["parameters"]
    print(f"MNIST, LeNet-300-100 shape, {epochs} epoch(s) on {len(x)} images, Adam 1.2e-3, "
          f"batch 60, seed {seed}")
    print(f"{'model':<12}{'parameters':>12}{'of real':>9}{'test acc':>10}{'train s':>9}")
    for name, r in results.items():
        print(f"{name:<12}{r['parameters']:>12,}{r['parameters'] / real:>9.1%}"
              f"{r['test_accuracy']:>10.2%}{r['seconds']:>9.1f}")
    return results


def add_arguments(parser):
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=55000)
    parser.add_argument("--data-dir", default=None,
                        help="directory holding mnist/ (default: $HYPERPRUNE_DATA or the "
                             "repository's data/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def command(args):
    if args.epochs < 1 or args.train_size < 60:
        raise SystemExit("hyperprune demo: --epochs must be >= 1 and --train-size >= 60")
    run(args.epochs, args.train_size, args.data_dir, args.seed, args.quiet)
    return 0
