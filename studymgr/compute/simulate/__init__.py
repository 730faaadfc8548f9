"""compute/simulate."""
