"""The ``leanplum-notebook`` command line. Printing is allowed here and nowhere else.

Each subcommand lives in its own module, which provides ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them, importing each lazily.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from leanplum_notebook.redaction import RedactingFilter

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("leanplum_notebook.ui.demo", "run the whole pipeline on the bundled simulator"),
    "simulator": ("leanplum_notebook.simulator.cli", "serve the bundled Leanplum export API"),
    "export": ("leanplum_notebook.ui.cli_export", "export (or reuse cached) days of data"),
    "quota": ("leanplum_notebook.ui.cli_export", "show the exports left today"),
    "cache": ("leanplum_notebook.ui.cli_export", "list or clear the local cache"),
    "report": ("leanplum_notebook.ui.report", "render the HTML report for a range of days"),
    "feed": ("leanplum_notebook.ui.cli_feed", "sync or show Leanplum's automated export feed"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="leanplum-notebook", description=__doc__)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue  # a subcommand whose module is not part of this build
        sp = sub.add_parser(name, help=help_text, description=help_text)
        add = getattr(module, f"add_{name}_arguments", None) or module.add_arguments
        add(sp)
        sp.set_defaults(_module=module_name, _name=name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        # every record printed, the libraries' too, passes the one redaction layer
        handler.addFilter(RedactingFilter())
    module = importlib.import_module(args._module)
    run = getattr(module, f"run_{args._name}", None) or module.run
    return int(run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
