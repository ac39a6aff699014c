"""Text embeddings for the DiT: the structured prompt through the UMT5 encoder, as Wan does it.

The text is tokenised to a fixed length (``max_length`` tokens, Wan's 512, padded and
truncated, with the end-of-sequence token), encoded, and the states past each text's own
length are zeroed: the transformer cross-attends to all ``max_length`` positions, so the
padding must contribute nothing, exactly as the stock Wan pipeline arranges it.
"""
from __future__ import annotations

import html
import re

import torch


def clean(text: str) -> str:
    """HTML entities decoded and runs of whitespace collapsed (the stock pipeline's cleaning
    without the optional ``ftfy`` pass)."""
    return re.sub(r"\s+", " ", html.unescape(html.unescape(text))).strip()


def encode_prompt(tokenizer, encoder, texts: list[str], max_length: int = 512) -> torch.Tensor:
    """(len(texts), max_length, d_model) float32 embeddings; zero past each text's tokens."""
    tokens = tokenizer([clean(t) for t in texts], padding="max_length", max_length=max_length, truncation=True,
                       add_special_tokens=True, return_attention_mask=True, return_tensors="pt")
    device = next(encoder.parameters()).device
    ids, mask = tokens.input_ids.to(device), tokens.attention_mask.to(device)
    with torch.no_grad():
        states = encoder(ids, mask).last_hidden_state.float()
    keep = (torch.arange(max_length, device=device)[None] < mask.sum(1, keepdim=True)).to(states.dtype)
    return (states * keep[..., None]).cpu()
