"""The `hyperprune` command (also `python -m hyperprune`).

    hyperprune                 the main job (for now: the real-vs-quaternion demo)
    hyperprune demo ...        train a real and a quaternion MLP on MNIST, compare
    hyperprune download mnist  fetch the canonical MNIST files (needs internet)
"""
import argparse
import sys

from . import __version__


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="hyperprune",
        description="Pruned hypercomplex neural networks, from scratch on NumPy.")
    parser.add_argument("--version", action="version", version=f"hyperprune {__version__}")
    sub = parser.add_subparsers(dest="command")

    from . import demo
    demo.add_arguments(sub.add_parser("demo", help="real vs quaternion MLP on MNIST"))

    download = sub.add_parser("download", help="download a dataset (needs internet)")
    download.add_argument("dataset", choices=["mnist"])
    download.add_argument("--data-dir", default=None)

    args = parser.parse_args(argv or ["demo"])
    if args.command == "demo":
        return demo.command(args)
    if args.command == "download":
        from . import datasets
        try:
            paths = datasets.download_mnist(datasets.mnist_dir(args.data_dir)
                                            if args.data_dir else None)
        except RuntimeError as err:
            print(f"hyperprune download: {err}", file=sys.stderr)
            return 1
        for p in paths:
            print(p)
        return 0
    parser.print_help()
    return 2
