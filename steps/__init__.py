"""pytest-bdd step definitions and the seenby pytest plugin."""
