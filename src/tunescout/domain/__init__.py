"""Music knowledge that every stage shares: audio features, the mood table, genres and priors.

Imports nothing else from tunescout except errors, so any stage may import it."""
