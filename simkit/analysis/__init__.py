"""Analysis: Ps, Majority, Agree, the paper's tables and intervals; the published numbers; text reports."""
