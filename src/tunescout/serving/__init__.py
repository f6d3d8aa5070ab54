"""Serving: the Engine façade over the catalog and indexes, ranking, mood search, filters, ratings."""
