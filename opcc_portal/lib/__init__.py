"""Small helpers shared by the register and the clear-downs, each idea in one place.

Nothing here imports `groups` or `attestations`: both build on it (an import-linter
contract in `.importlinter` keeps it so).
"""
