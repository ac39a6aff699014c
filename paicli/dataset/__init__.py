"""Training data for the DiT engine's background-replacement LoRA (``paicli dataset``):
triplets of plate, target and reference stills, built from footage a studio already has."""
