"""Background workers of the window: decoding and inference lanes (no widgets here)."""
