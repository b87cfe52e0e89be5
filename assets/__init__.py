"""Embedded assets (installed as ``siscore._assets``); see ATTRIBUTION.md."""
