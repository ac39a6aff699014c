"""Training the DiT engine: ``paicli model train`` (run.py)."""
