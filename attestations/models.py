"""Weekly clear-down cycles, obligations and attestations (DESIGN.md R4–R10)."""
