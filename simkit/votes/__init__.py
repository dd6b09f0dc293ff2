"""Votes: the SQLite vote store, and export of its votes as study files."""
