"""The `hyperprune` command (also `python -m hyperprune`).

    hyperprune                       the main job: a quick real-vs-quaternion lottery on
                                     the embedded MNIST, ending with its figure
    hyperprune lottery ...           an iterative-magnitude-pruning run (resumable)
    hyperprune supermask ...         a strong-ticket run: scores trained on frozen random
                                     weights, the top `keep` of each layer (resumable)
    hyperprune plot RUN_DIR ... -o F the lottery figure of finished runs
    hyperprune demo ...              train a real and a quaternion MLP, compare
    hyperprune export RUN_DIR --level K --bits B -o M.hpz    a compressed k-bit model file
    hyperprune evaluate M.hpz [--json]   its accuracy (perplexity) and size
    hyperprune distill --teacher RUN_DIR --run-dir DIR ...   dense -> PHM replacement
    hyperprune download mnist|cifar10|cifar100   fetch and verify a dataset (needs internet)
"""
import argparse
import shlex
import sys
from pathlib import Path

from . import __version__


def _add_lottery_arguments(p, supermask=False):
    from . import config
    p.add_argument("--run-dir", required=True, help="where the run lives (resumes if it exists)")
    if supermask:
        config.add_arguments(p, config.SupermaskConfig, presets=None)
    else:
        config.add_arguments(p)
        p.add_argument("--replicates", type=int, default=1,
                       help="N > 1: seeds seed..seed+N-1, in RUN_DIR/replicate_0..N-1")
    p.add_argument("--restart", action="store_true",
                   help="start again a run that never finished its first level (e.g. "
                        "with other settings after a failed start)")
    p.add_argument("--data-dir", default=None,
                   help="directory holding mnist/ and cifar-10-batches-bin/ (default: "
                        "$HYPERPRUNE_DATA or the repository's data/)")
    p.add_argument("--quiet", action="store_true", help="log lines instead of progress bars")


def _command_line():
    return "hyperprune " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def lottery_command(args):
    from .config import from_arguments
    from .lottery import run_lottery
    config = from_arguments(args)
    if args.replicates < 1:
        raise ValueError("--replicates must be >= 1")
    run_lottery(config, args.run_dir, args.replicates, args.data_dir, args.quiet,
                _command_line(), args.restart)
    print(f"run directory: {args.run_dir}")
    return 0


def supermask_command(args):
    from .config import SupermaskConfig, from_arguments
    from .supermask import run_supermask
    config = from_arguments(args, SupermaskConfig, presets={})
    run_supermask(config, args.run_dir, args.data_dir, args.quiet, _command_line(),
                  args.restart)
    print(f"run directory: {args.run_dir}")
    return 0


def _percentages(text):
    """'100,50,25' -> [100.0, 50.0, 25.0]; argparse reports a bad list clearly."""
    try:
        values = [float(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated percentages, got {text!r}")
    if not all(0 < v <= 100 for v in values):
        raise argparse.ArgumentTypeError(f"percentages must be in (0, 100], got {text!r}")
    return values


def plot_command(args):
    from .plots import lottery_figure
    out = lottery_figure(args.run_dirs, args.out, args.title, ticks=args.targets)
    print(f"figure: {out}")
    if args.histograms:
        from .plots import histogram_figure
        print(f"histograms: {histogram_figure(args.run_dirs, args.histograms, args.title)}")
    if args.table:
        from . import io
        from .plots import markdown_table
        io.save_text(args.table, markdown_table(args.run_dirs, args.targets))
        print(f"table: {args.table}")
    return 0


def main_job(args):
    """The README's main job: a few-minute lottery, real and quaternion, then the figure."""
    from .config import PRESETS, LotteryConfig
    from .lottery import run_lottery
    from .plots import lottery_figure

    root = Path(args.run_dir)
    for algebra in ("real", "quaternion"):
        config = LotteryConfig(algebra=algebra, **PRESETS["quick"])
        print(f"== {algebra} LeNet-300-100: {config.levels + 1} levels x "
              f"{config.iterations} iterations, layer-wise {config.rate:.0%} "
              f"(output {config.output_rate:.0%}) per round", flush=True)
        run_lottery(config, root / algebra, data_dir=args.data_dir, quiet=args.quiet,
                    command="hyperprune")
    out = lottery_figure([root / "real", root / "quaternion"], root / "lottery.png",
                         "LeNet-300-100 on MNIST, quick lottery (main job)")
    print(f"\nfigure written to {out.resolve()}")
    print(f"metrics: {root.resolve()}/{{real,quaternion}}/metrics.csv")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="hyperprune",
        description="Pruned hypercomplex neural networks, from scratch on NumPy. "
                    "Without a command: the main job (a quick real-vs-quaternion lottery "
                    "on MNIST and its figure).")
    parser.add_argument("--version", action="version", version=f"hyperprune {__version__}")
    parser.add_argument("--run-dir", default="runs/main",
                        help="main job: where the runs and the figure go (default runs/main)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quiet", action="store_true")
    sub = parser.add_subparsers(dest="command")

    _add_lottery_arguments(sub.add_parser(
        "lottery", help="iterative magnitude pruning with rewinding (resumable)"))

    _add_lottery_arguments(sub.add_parser(
        "supermask", help="a strong lottery ticket: scores trained on frozen random "
        "weights, the top --keep fraction of each layer used (resumable)"), supermask=True)

    plot = sub.add_parser("plot", help="the lottery figure of finished runs")
    plot.add_argument("run_dirs", nargs="+")
    plot.add_argument("-o", "--out", default="lottery.png")
    plot.add_argument("--title", default=None)
    plot.add_argument("--histograms", default=None,
                      help="also write the surviving-weight histograms per level to this file")
    plot.add_argument("--targets", default=None, type=_percentages,
                      help="the table's rows and the figure's x ticks: weights remaining "
                           "in %% of the real model, comma-separated (default: the LeNet "
                           "figures' labels)")
    plot.add_argument("--table", default=None,
                      help="also write a markdown table (test accuracy at early stop / at "
                           "the end, by weights remaining) to this file")

    from . import demo
    demo.add_arguments(sub.add_parser("demo", help="real vs quaternion MLP on MNIST"))

    export = sub.add_parser("export", help="a level of a run as a compressed k-bit model "
                            "file (.hpz)")
    export.add_argument("run_dir")
    export.add_argument("--level", type=int, required=True)
    export.add_argument("--bits", type=int, default=8,
                        help="1-8: k-bit codes of the surviving weights; 32: float (default 8)")
    export.add_argument("--granularity", choices=["unit", "tensor"], default="unit",
                        help="one scale per output unit (default) or per tensor")
    export.add_argument("-o", "--out", required=True)
    export.add_argument("--data-dir", default=None)

    evaluate = sub.add_parser("evaluate", help="accuracy (perplexity) and size of a .hpz file")
    evaluate.add_argument("model_file")
    evaluate.add_argument("--json", action="store_true", help="print the result as JSON")
    evaluate.add_argument("--data-dir", default=None)

    from . import config as _config
    distill = sub.add_parser("distill", help="replace a trained model's dense layers by PHM "
                             "layers: progressive, with distillation (resumable)")
    distill.add_argument("--run-dir", required=True,
                         help="where the run lives (resumes if it exists)")
    from .distill import DistillConfig
    _config.add_arguments(distill, DistillConfig, presets=None)
    distill.add_argument("--data-dir", default=None)
    distill.add_argument("--quiet", action="store_true", help="no progress bar")

    from .datasets import DATASETS
    download = sub.add_parser("download", help="download a dataset (needs internet)")
    download.add_argument("dataset", choices=[d.name for d in DATASETS.values() if d.download])
    download.add_argument("--data-dir", default=None)

    args = parser.parse_args(argv)
    from . import backend
    backend.tune_allocator()  # recycle NumPy's big temporaries (see its docstring)
    try:
        commands = {None: main_job, "lottery": lottery_command, "supermask": supermask_command,
                    "plot": plot_command, "demo": demo.command, "export": export_command,
                    "evaluate": evaluate_command, "distill": distill_command,
                    "download": download_command}
        return commands[args.command](args)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"hyperprune {args.command or ''}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        runs = (None, "lottery", "supermask")
        where = f" in {args.run_dir}" if args.command in runs else ""
        again = (": the same command resumes it" + where +
                 ", from its last checkpoint") if args.command in runs else ""
        print(f"\nhyperprune {args.command or ''}: interrupted{again}", file=sys.stderr)
        return 130


def export_command(args):
    from . import deploy
    if args.bits not in (1, 2, 3, 4, 5, 6, 7, 8, 32):
        raise ValueError(f"--bits must be 1 to 8, or 32 for a float export, got {args.bits}")
    size, model = deploy.export(args.run_dir, args.level, args.bits, args.out,
                                args.granularity, args.data_dir)
    _, _, masks = deploy.run_model(args.run_dir, args.level, args.data_dir)
    report = deploy.size_report(model, masks, args.bits, args.out)
    print(f"{args.out}: {report['bytes']:,} bytes (dense float32 {report['dense_float32']:,};"
          f" information bound {report['bound']:,.0f}, ratio {report['ratio']:.2f})")
    return 0


def evaluate_command(args):
    import json
    from . import deploy
    result = deploy.evaluate_file(args.model_file, args.data_dir)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        metric = "perplexity" if "perplexity" in result else "accuracy"
        print(f"{args.model_file}: {metric} {result[metric]:.4f}, {result['bytes']:,} bytes "
              f"({result['model']}, {result['algebra']}, level {result['level']}, "
              f"{result['bits']} bits)")
    return 0


def distill_command(args):
    from .config import from_arguments
    from .distill import DistillConfig
    from .distill import DistillRun
    config = from_arguments(args, DistillConfig, presets={})
    s = DistillRun(config, args.run_dir, args.data_dir, args.quiet, _command_line()).run()
    from .plots import distill_description
    print(f"{distill_description(s)}: validation loss "
          f"{s['final_val_loss']:.4f} with {s['student_parameters']:,} parameters (teacher "
          f"{s['teacher_val_loss']:.4f} with {s['teacher_parameters']:,})")
    print(f"run directory: {args.run_dir}")
    return 0


def download_command(args):
    from .datasets import get_dataset
    try:
        paths = get_dataset(args.dataset).download(args.data_dir)
    except RuntimeError as err:
        print(f"hyperprune download: {err}", file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    return 0
