"""Fetch: open-access museum collections and IIIF manifests, cached and checked."""
