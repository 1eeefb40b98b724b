"""What `basir validate` does once its arguments are parsed (typer or the direct path)."""

from __future__ import annotations

import sys
from pathlib import Path

from basir.cli.common import EXIT_INVALID, EXIT_OK, settings
from basir.i18n import _


def validate_files(files: list[Path], quiet: bool) -> int:
    """Check each workflow file; print its issues (or a one-line verdict); the exit code."""
    from basir.spec.errors import SpecError
    from basir.spec.validate import load_workflow_file

    config = settings()
    failed = False
    for path in files:
        try:
            spec = load_workflow_file(path, template_dirs=config.template_dirs)
        except SpecError as error:
            failed = True
            for issue in error.issues:
                sys.stderr.write(issue.format(str(path)) + "\n")
            continue
        if not quiet:  # plain text: rich is not worth importing for one line
            message = _(
                "{file}: valid workflow {name} with {count} tasks",
                file=str(path),
                name=spec.name,
                count=len(spec.tasks),
            )
            sys.stderr.write(message + "\n")
    return EXIT_INVALID if failed else EXIT_OK
