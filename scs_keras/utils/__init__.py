"""Small shared utilities: argument validation and optional imports."""
