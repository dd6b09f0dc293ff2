"""Studies: the Study model; reading, validating and writing study folders; grouping; demo studies."""
