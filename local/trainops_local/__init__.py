"""trainops' local cloud and CLI (never shipped to Lambda)."""
