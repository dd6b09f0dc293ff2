"""Search: distances, indexes, retrieval evaluation, projections."""
