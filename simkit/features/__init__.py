"""Deep features: images -> backbones -> representations, one extractor, the feature caches."""
