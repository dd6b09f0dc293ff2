"""Machine methods: the registry of every method, and each method's computation."""
