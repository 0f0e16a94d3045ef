"""Adapters: the database, the file store, media probing and FFmpeg, models."""
