"""``python -m studymgr`` runs the command-line interface."""

from studymgr.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
